//! The message descriptor sent as `ProtoSchema.proto_descriptor`, with the
//! Storage Write API's `column_name` field option.
//!
//! `prost_types::DescriptorProto` drops the extensions of `FieldOptions`, so
//! it cannot say that a field writes the column `first-name`. These types
//! mirror `DescriptorProto`, `FieldDescriptorProto` and `FieldOptions` field
//! for field (the same numbers and types as `prost_types` 0.14) and add
//! [`FieldOptions::column_name`], extension
//! `google.cloud.bigquery.storage.v1.column_name` =
//! [`COLUMN_NAME_EXTENSION`](super::COLUMN_NAME_EXTENSION). The other
//! descriptor messages are `prost_types`' own.
//!
//! Convert from `prost_types` with `From`/`into()` (nothing is lost); the
//! conversion back drops `column_name`.

#![allow(missing_docs)]

use prost::Message;
use prost_types::{
    EnumDescriptorProto, MessageOptions, OneofDescriptorProto, UninterpretedOption,
    descriptor_proto::{ExtensionRange, ReservedRange},
};

/// Describes a message type: `google.protobuf.DescriptorProto`, whose fields
/// keep their [`column_name`](FieldOptions::column_name) option.
#[derive(Clone, PartialEq, Message)]
pub struct DescriptorProto {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub field: Vec<FieldDescriptorProto>,
    #[prost(message, repeated, tag = "6")]
    pub extension: Vec<FieldDescriptorProto>,
    #[prost(message, repeated, tag = "3")]
    pub nested_type: Vec<DescriptorProto>,
    #[prost(message, repeated, tag = "4")]
    pub enum_type: Vec<EnumDescriptorProto>,
    #[prost(message, repeated, tag = "5")]
    pub extension_range: Vec<ExtensionRange>,
    #[prost(message, repeated, tag = "8")]
    pub oneof_decl: Vec<OneofDescriptorProto>,
    #[prost(message, optional, tag = "7")]
    pub options: Option<MessageOptions>,
    #[prost(message, repeated, tag = "9")]
    pub reserved_range: Vec<ReservedRange>,
    #[prost(string, repeated, tag = "10")]
    pub reserved_name: Vec<String>,
}

/// Describes a field of a message: `google.protobuf.FieldDescriptorProto`.
#[derive(Clone, PartialEq, Message)]
pub struct FieldDescriptorProto {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(int32, optional, tag = "3")]
    pub number: Option<i32>,
    #[prost(
        enumeration = "prost_types::field_descriptor_proto::Label",
        optional,
        tag = "4"
    )]
    pub label: Option<i32>,
    #[prost(
        enumeration = "prost_types::field_descriptor_proto::Type",
        optional,
        tag = "5"
    )]
    pub r#type: Option<i32>,
    #[prost(string, optional, tag = "6")]
    pub type_name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub extendee: Option<String>,
    #[prost(string, optional, tag = "7")]
    pub default_value: Option<String>,
    #[prost(int32, optional, tag = "9")]
    pub oneof_index: Option<i32>,
    #[prost(string, optional, tag = "10")]
    pub json_name: Option<String>,
    #[prost(message, optional, tag = "8")]
    pub options: Option<FieldOptions>,
    #[prost(bool, optional, tag = "17")]
    pub proto3_optional: Option<bool>,
}

/// The options of a field: `google.protobuf.FieldOptions` with the Storage
/// Write API's `column_name` extension.
#[derive(Clone, PartialEq, Message)]
pub struct FieldOptions {
    #[prost(
        enumeration = "prost_types::field_options::CType",
        optional,
        tag = "1",
        default = "String"
    )]
    pub ctype: Option<i32>,
    #[prost(bool, optional, tag = "2")]
    pub packed: Option<bool>,
    #[prost(
        enumeration = "prost_types::field_options::JsType",
        optional,
        tag = "6",
        default = "JsNormal"
    )]
    pub jstype: Option<i32>,
    #[prost(bool, optional, tag = "5", default = "false")]
    pub lazy: Option<bool>,
    #[prost(bool, optional, tag = "3", default = "false")]
    pub deprecated: Option<bool>,
    #[prost(bool, optional, tag = "10", default = "false")]
    pub weak: Option<bool>,
    #[prost(message, repeated, tag = "999")]
    pub uninterpreted_option: Vec<UninterpretedOption>,
    /// The BigQuery column this field writes, when its name is not a proto
    /// identifier (`google.cloud.bigquery.storage.v1.column_name`). BigQuery
    /// matches the field to the column by this name instead of the field's.
    #[prost(string, optional, tag = "454943157")]
    pub column_name: Option<String>,
}

impl DescriptorProto {
    /// Every `column_name` option of this message and its nested messages:
    /// `(message path, field number, column name)`, where the message path is
    /// this message's name, then `.` and the nested message's name, and so on.
    pub fn column_names(&self) -> Vec<(String, i32, String)> {
        let mut out = Vec::new();
        collect_column_names(self, self.name(), &mut out);
        out
    }
}

fn collect_column_names(
    message: &DescriptorProto,
    path: &str,
    out: &mut Vec<(String, i32, String)>,
) {
    for field in &message.field {
        if let Some(column) = field.options.as_ref().and_then(|o| o.column_name.as_ref()) {
            out.push((path.to_owned(), field.number(), column.clone()));
        }
    }
    for nested in &message.nested_type {
        collect_column_names(nested, &format!("{path}.{}", nested.name()), out);
    }
}

/// Re-reads `message` as `T`, a message with the same field numbers: the
/// encoding is the same, and fields `T` does not know are skipped.
fn convert<T: Message + Default>(message: &impl Message) -> T {
    // A message always decodes from its own encoding, and both types declare
    // the same numbers with the same wire types.
    T::decode(message.encode_to_vec().as_slice())
        .expect("descriptor types with the same field numbers share their encoding")
}

impl From<prost_types::DescriptorProto> for DescriptorProto {
    fn from(descriptor: prost_types::DescriptorProto) -> Self {
        convert(&descriptor)
    }
}

impl From<&prost_types::DescriptorProto> for DescriptorProto {
    fn from(descriptor: &prost_types::DescriptorProto) -> Self {
        convert(descriptor)
    }
}

/// Drops the `column_name` options: `prost_types` has no place for them.
impl From<DescriptorProto> for prost_types::DescriptorProto {
    fn from(descriptor: DescriptorProto) -> Self {
        convert(&descriptor)
    }
}

/// Drops the `column_name` options: `prost_types` has no place for them.
impl From<&DescriptorProto> for prost_types::DescriptorProto {
    fn from(descriptor: &DescriptorProto) -> Self {
        convert(descriptor)
    }
}

impl From<prost_types::FieldDescriptorProto> for FieldDescriptorProto {
    fn from(field: prost_types::FieldDescriptorProto) -> Self {
        convert(&field)
    }
}

impl From<prost_types::FieldOptions> for FieldOptions {
    fn from(options: prost_types::FieldOptions) -> Self {
        convert(&options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::field_descriptor_proto::{Label, Type};

    fn plain() -> prost_types::DescriptorProto {
        prost_types::DescriptorProto {
            name: Some("Row".into()),
            field: vec![prost_types::FieldDescriptorProto {
                name: Some("values".into()),
                number: Some(1),
                label: Some(Label::Repeated as i32),
                r#type: Some(Type::Int64 as i32),
                json_name: Some("values".into()),
                options: Some(prost_types::FieldOptions {
                    packed: Some(true),
                    deprecated: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            nested_type: vec![prost_types::DescriptorProto {
                name: Some("Inner".into()),
                reserved_name: vec!["gone".into()],
                ..Default::default()
            }],
            reserved_range: vec![ReservedRange {
                start: Some(5),
                end: Some(7),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn prost_types_round_trip_unchanged() {
        let wire = DescriptorProto::from(plain());
        assert_eq!(wire.encode_to_vec(), plain().encode_to_vec());
        assert_eq!(prost_types::DescriptorProto::from(wire), plain());
    }

    #[test]
    fn column_name_is_extension_454943157() {
        let mut wire = DescriptorProto::from(plain());
        wire.nested_type[0].field.push(FieldDescriptorProto {
            name: Some("col_1".into()),
            number: Some(1),
            options: Some(FieldOptions {
                column_name: Some("first-name".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        let options = wire.nested_type[0].field[0]
            .options
            .as_ref()
            .expect("options")
            .encode_to_vec();
        let key = (u64::from(super::super::COLUMN_NAME_EXTENSION) << 3) | 2;
        let mut expected = Vec::new();
        prost::encoding::encode_varint(key, &mut expected);
        expected.push(10);
        expected.extend_from_slice(b"first-name");
        assert_eq!(options, expected);
        assert_eq!(
            wire.column_names(),
            [("Row.Inner".to_owned(), 1, "first-name".to_owned())]
        );
        // prost_types drops the option, and nothing else.
        let plain_again = prost_types::DescriptorProto::from(&wire);
        assert_eq!(
            plain_again.nested_type[0].field[0].options,
            Some(Default::default())
        );
        assert_eq!(plain_again.field, plain().field);
    }
}
