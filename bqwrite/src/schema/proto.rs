//! The Storage Write API's form of a table schema
//! ([`proto::storage::TableSchema`](crate::proto::storage::TableSchema)).

use crate::proto::storage as pb;
use crate::proto::storage::table_field_schema::{FieldElementType, Mode as PbMode, Type as PbType};

use super::*;

fn field_to_proto(field: &FieldSchema) -> pb::TableFieldSchema {
    pb::TableFieldSchema {
        name: field.name.clone(),
        r#type: field.field_type.to_proto() as i32,
        mode: field.mode.to_proto() as i32,
        fields: field.fields.iter().map(field_to_proto).collect(),
        description: field.description.clone().unwrap_or_default(),
        range_element_type: field.range_element_type.map(|t| FieldElementType {
            r#type: t.to_proto() as i32,
        }),
        default_value_expression: field.default_value_expression.clone().unwrap_or_default(),
        ..Default::default()
    }
}

impl From<&TableSchema> for pb::TableSchema {
    fn from(schema: &TableSchema) -> Self {
        pb::TableSchema {
            fields: schema.fields.iter().map(field_to_proto).collect(),
        }
    }
}

impl From<TableSchema> for pb::TableSchema {
    fn from(schema: TableSchema) -> Self {
        pb::TableSchema::from(&schema)
    }
}

impl From<&FieldSchema> for pb::TableFieldSchema {
    fn from(field: &FieldSchema) -> Self {
        field_to_proto(field)
    }
}

fn type_from_proto(number: i32, path: &str, what: &str) -> Result<FieldType, SchemaError> {
    match PbType::try_from(number) {
        Ok(PbType::Unspecified) => Err(invalid(path, format!("{what} is TYPE_UNSPECIFIED"))),
        Ok(known) => FieldType::from_proto(known)
            .ok_or_else(|| invalid(path, format!("{what} is TYPE_UNSPECIFIED"))),
        Err(_) => Err(invalid(path, format!("{what} has unknown number {number}"))),
    }
}

fn fields_from_proto(
    fields: &[pb::TableFieldSchema],
    parent: &str,
) -> Result<Vec<FieldSchema>, SchemaError> {
    fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let path = child_path(parent, &field.name, index);
            let mode = PbMode::try_from(field.mode)
                .map(Mode::from_proto)
                .map_err(|_| invalid(&path, format!("mode has unknown number {}", field.mode)))?;
            Ok(FieldSchema {
                name: field.name.clone(),
                field_type: type_from_proto(field.r#type, &path, "type")?,
                mode,
                fields: fields_from_proto(&field.fields, &path)?,
                range_element_type: field
                    .range_element_type
                    .map(|e| type_from_proto(e.r#type, &path, "range element type"))
                    .transpose()?,
                description: Some(field.description.clone()).filter(|d| !d.is_empty()),
                default_value_expression: Some(field.default_value_expression.clone())
                    .filter(|e| !e.is_empty()),
            })
        })
        .collect()
}

impl TryFrom<&pb::TableSchema> for TableSchema {
    type Error = SchemaError;

    /// Fails on unspecified or unknown types and modes numbers, and on schemas
    /// that do not [validate](TableSchema::validate). `MODE_UNSPECIFIED` is
    /// read as NULLABLE. `max_length`, `precision`, `scale` and
    /// `timestamp_precision` are not kept.
    fn try_from(schema: &pb::TableSchema) -> Result<Self, Self::Error> {
        let schema = TableSchema {
            fields: fields_from_proto(&schema.fields, "")?,
        };
        schema.validate()?;
        Ok(schema)
    }
}

impl TryFrom<pb::TableSchema> for TableSchema {
    type Error = SchemaError;

    /// See `TryFrom<&proto::storage::TableSchema>`.
    fn try_from(schema: pb::TableSchema) -> Result<Self, Self::Error> {
        TableSchema::try_from(&schema)
    }
}
