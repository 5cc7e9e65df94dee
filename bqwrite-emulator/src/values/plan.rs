//! Compiles a request's `writer_schema` (a self-contained proto2
//! `DescriptorProto`) against a table's columns into a decoding plan: which
//! field number feeds which column, read as which proto type, checked as which
//! BigQuery type. Done once per connection and schema, never per row.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bqwrite::proto::descriptor::DescriptorProto;
use prost_reflect::{Cardinality, DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};
use prost_types::{FileDescriptorProto, FileDescriptorSet};

use super::wire;
use crate::schema::{Column, ColumnMode, ColumnType, RangeElement, find_column};

/// Why a writer schema cannot be used with a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SchemaProblem {
    /// The descriptor is malformed or does not fit the table's types.
    Invalid(String),
    /// The descriptor has fields that match no column: their paths (`a.b`).
    ExtraFields(Vec<String>),
}

impl std::fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaProblem::Invalid(m) => f.write_str(m),
            SchemaProblem::ExtraFields(paths) => write!(
                f,
                "writer_schema fields {} match no column of the table",
                paths
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The proto type a field is declared with.
#[derive(Debug, Clone)]
pub(crate) enum Src {
    Int32,
    Int64,
    UInt32,
    UInt64,
    SInt32,
    SInt64,
    Fixed32,
    Fixed64,
    SFixed32,
    SFixed64,
    Bool,
    Float,
    Double,
    String,
    Bytes,
    Enum(Arc<EnumValues>),
    Message,
}

/// An enum's values, for enum-to-STRING and validity checks.
#[derive(Debug)]
pub(crate) struct EnumValues {
    pub name: String,
    pub values: HashMap<i32, String>,
}

impl Src {
    fn from_kind(kind: &Kind) -> Src {
        match kind {
            Kind::Int32 => Src::Int32,
            Kind::Int64 => Src::Int64,
            Kind::Uint32 => Src::UInt32,
            Kind::Uint64 => Src::UInt64,
            Kind::Sint32 => Src::SInt32,
            Kind::Sint64 => Src::SInt64,
            Kind::Fixed32 => Src::Fixed32,
            Kind::Fixed64 => Src::Fixed64,
            Kind::Sfixed32 => Src::SFixed32,
            Kind::Sfixed64 => Src::SFixed64,
            Kind::Bool => Src::Bool,
            Kind::Float => Src::Float,
            Kind::Double => Src::Double,
            Kind::String => Src::String,
            Kind::Bytes => Src::Bytes,
            Kind::Message(_) => Src::Message,
            Kind::Enum(e) => Src::Enum(Arc::new(EnumValues {
                name: e.full_name().to_string(),
                values: e
                    .values()
                    .map(|v| (v.number(), v.name().to_string()))
                    .collect(),
            })),
        }
    }

    /// The proto type's name, for messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Src::Int32 => "int32",
            Src::Int64 => "int64",
            Src::UInt32 => "uint32",
            Src::UInt64 => "uint64",
            Src::SInt32 => "sint32",
            Src::SInt64 => "sint64",
            Src::Fixed32 => "fixed32",
            Src::Fixed64 => "fixed64",
            Src::SFixed32 => "sfixed32",
            Src::SFixed64 => "sfixed64",
            Src::Bool => "bool",
            Src::Float => "float",
            Src::Double => "double",
            Src::String => "string",
            Src::Bytes => "bytes",
            Src::Enum(_) => "enum",
            Src::Message => "message",
        }
    }

    /// The wire type a single value of this proto type uses.
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            Src::Int32
            | Src::Int64
            | Src::UInt32
            | Src::UInt64
            | Src::SInt32
            | Src::SInt64
            | Src::Bool
            | Src::Enum(_) => wire::VARINT,
            Src::Fixed64 | Src::SFixed64 | Src::Double => wire::FIXED64,
            Src::Fixed32 | Src::SFixed32 | Src::Float => wire::FIXED32,
            Src::String | Src::Bytes | Src::Message => wire::LEN,
        }
    }
}

/// What a field's values become.
#[derive(Debug)]
pub(crate) enum Target {
    Scalar(ColumnType),
    Struct(Box<MessagePlan>),
    Range(Box<RangePlan>),
}

/// A RANGE column's message: `start` and `end` fields of the element encoding.
#[derive(Debug)]
pub(crate) struct RangePlan {
    pub element: RangeElement,
    pub start: Option<(u32, Src)>,
    pub end: Option<(u32, Src)>,
}

/// One proto field of a message and the column it feeds.
#[derive(Debug)]
pub(crate) struct FieldPlan {
    pub number: u32,
    pub column: usize,
    pub repeated: bool,
    pub proto_required: bool,
    pub src: Src,
    pub target: Target,
}

/// Field number to field slot.
#[derive(Debug)]
enum Lookup {
    Dense(Vec<u32>),
    Sparse(HashMap<u32, usize>),
}

const NO_FIELD: u32 = u32::MAX;

/// A message's plan: its fields and the columns of its level.
#[derive(Debug)]
pub(crate) struct MessagePlan {
    lookup: Lookup,
    pub fields: Vec<FieldPlan>,
    pub columns: Arc<[Column]>,
    /// Columns in REQUIRED mode, with the field slot feeding each (if any).
    pub required: Vec<(usize, Option<usize>)>,
    /// Field slots whose proto label is `required`.
    pub proto_required: Vec<usize>,
}

impl MessagePlan {
    /// The field slot of a field number.
    #[inline]
    pub(crate) fn slot(&self, number: u32) -> Option<usize> {
        match &self.lookup {
            Lookup::Dense(v) => match v.get(number as usize) {
                Some(&s) if s != NO_FIELD => Some(s as usize),
                _ => None,
            },
            Lookup::Sparse(m) => m.get(&number).copied(),
        }
    }
}

/// A compiled writer schema for one table.
#[derive(Debug)]
pub(crate) struct RowPlan {
    pub root: MessagePlan,
    /// The change pseudo-columns' fields, on a table with a primary key
    /// (see `cdc.rs`).
    pub changes: Option<crate::cdc::ChangeFields>,
}

/// Compiles a writer schema against a table's columns.
pub(crate) fn compile(
    descriptor: &DescriptorProto,
    columns: &Arc<[Column]>,
) -> Result<RowPlan, SchemaProblem> {
    let root_name = descriptor.name();
    if root_name.is_empty() {
        return Err(SchemaProblem::Invalid(
            "writer_schema.proto_descriptor has no message name".into(),
        ));
    }
    let mut message: prost_types::DescriptorProto = descriptor.into();
    give_unique_json_names(&mut message);
    let file = FileDescriptorProto {
        name: Some("bqwrite_emulator_writer_schema.proto".into()),
        syntax: Some("proto2".into()),
        message_type: vec![message],
        ..Default::default()
    };
    let pool = DescriptorPool::from_file_descriptor_set(FileDescriptorSet { file: vec![file] })
        .map_err(|e| {
            SchemaProblem::Invalid(format!(
                "writer_schema.proto_descriptor is not a valid self-contained proto2 message: {e}"
            ))
        })?;
    let message = pool.get_message_by_name(root_name).ok_or_else(|| {
        SchemaProblem::Invalid(format!(
            "writer_schema message `{root_name}` cannot be resolved"
        ))
    })?;
    let names = ColumnNames(descriptor.column_names());
    let mut extras = Vec::new();
    let root = compile_message(&message, columns, "", &names, &mut extras)?;
    if !extras.is_empty() {
        return Err(SchemaProblem::ExtraFields(extras));
    }
    Ok(RowPlan {
        root,
        changes: None,
    })
}

/// Gives every field of `message` and its nested messages that has no
/// `json_name` one that is unique within its message.
///
/// `prost_reflect` refuses two fields with the same JSON name even in proto2,
/// where protobuf's own `DescriptorPool` (which BigQuery uses) only warns
/// when a derived JSON name is involved: `order_id` and `orderId`, `a_b` and
/// `a__b`, `value_1` and `value1` all derive the same one. JSON names play no
/// part in decoding binary rows, so each field gets its own name instead
/// (with a `#n` suffix should that clash with a `json_name` set explicitly).
/// Explicit `json_name`s are kept: two equal ones stay an error, as in
/// protobuf.
fn give_unique_json_names(message: &mut prost_types::DescriptorProto) {
    let mut taken: HashSet<String> = message
        .field
        .iter()
        .filter_map(|f| f.json_name.clone())
        .collect();
    for field in message.field.iter_mut().filter(|f| f.json_name.is_none()) {
        let mut name = field.name().to_owned();
        let mut n = 1u32;
        while taken.contains(&name) {
            name = format!("{}#{n}", field.name());
            n += 1;
        }
        taken.insert(name.clone());
        field.json_name = Some(name);
    }
    for nested in &mut message.nested_type {
        give_unique_json_names(nested);
    }
}

/// The `column_name` options of a writer schema (which `prost_reflect`, built
/// from `prost_types`, does not see): `(message full name, field number,
/// column)`.
struct ColumnNames(Vec<(String, i32, String)>);

impl ColumnNames {
    /// The column a field writes: its `column_name` option, or its name.
    fn of<'a>(&'a self, message: &MessageDescriptor, field: &'a FieldDescriptor) -> &'a str {
        self.0
            .iter()
            .find(|(m, number, _)| {
                *number == field.number() as i32 && m.as_str() == message.full_name()
            })
            .map_or(field.name(), |(_, _, column)| column.as_str())
    }
}

fn compile_message(
    message: &MessageDescriptor,
    columns: &Arc<[Column]>,
    prefix: &str,
    names: &ColumnNames,
    extras: &mut Vec<String>,
) -> Result<MessagePlan, SchemaProblem> {
    let mut fields: Vec<FieldPlan> = Vec::new();
    let mut column_slot: Vec<Option<usize>> = vec![None; columns.len()];
    let descriptors: Vec<FieldDescriptor> = message.fields().collect();
    for field in &descriptors {
        let name = names.of(message, field);
        let path = format!("{prefix}{name}");
        let Some(column_index) = find_column(columns, name) else {
            // every extra field is reported, as BigQuery lists them all
            extras.push(path);
            continue;
        };
        if let Some(other) = column_slot[column_index] {
            return Err(SchemaProblem::Invalid(format!(
                "writer_schema fields `{prefix}{}` and `{path}` both map to column `{prefix}{}` (names are case-insensitive)",
                descriptors
                    .get(other)
                    .map(|f| names.of(message, f))
                    .unwrap_or_default(),
                columns[column_index].name
            )));
        }
        let column = &columns[column_index];
        column_slot[column_index] = Some(fields.len());
        fields.push(compile_field(
            field,
            column,
            column_index,
            &path,
            names,
            extras,
        )?);
    }
    let max_number = fields.iter().map(|f| f.number).max().unwrap_or(0);
    let lookup = if max_number <= 4096 {
        let mut dense = vec![NO_FIELD; max_number as usize + 1];
        for (slot, f) in fields.iter().enumerate() {
            dense[f.number as usize] = slot as u32;
        }
        Lookup::Dense(dense)
    } else {
        Lookup::Sparse(
            fields
                .iter()
                .enumerate()
                .map(|(s, f)| (f.number, s))
                .collect(),
        )
    };
    let required = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.mode == ColumnMode::Required)
        .map(|(i, _)| (i, column_slot[i]))
        .collect();
    let proto_required = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.proto_required)
        .map(|(i, _)| i)
        .collect();
    Ok(MessagePlan {
        lookup,
        fields,
        columns: columns.clone(),
        required,
        proto_required,
    })
}

fn accepted(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Bool => "bool",
        ColumnType::Int64 => {
            "int64, int32, uint32, uint64, sint32, sint64, fixed32, fixed64, sfixed32, sfixed64 or enum"
        }
        ColumnType::Float64 => "double or float",
        ColumnType::String => "string or enum",
        ColumnType::Bytes => "bytes or string",
        ColumnType::Date => "int32 (days since 1970-01-01), int64 or string",
        ColumnType::Timestamp => "int64 (microseconds since the Unix epoch) or string",
        ColumnType::DateTime | ColumnType::Time => "int64 (packed civil encoding) or string",
        ColumnType::Numeric | ColumnType::BigNumeric => {
            "bytes (two's-complement little-endian) or string"
        }
        ColumnType::Geography | ColumnType::Json | ColumnType::Interval => "string",
        ColumnType::Range(_) => "a message with `start` and `end` fields",
        ColumnType::Struct => "a nested message",
    }
}

fn accepts(ty: ColumnType, src: &Src) -> bool {
    use Src as S;
    match ty {
        ColumnType::Bool => matches!(src, S::Bool),
        ColumnType::Int64 => matches!(
            src,
            S::Int32
                | S::Int64
                | S::UInt32
                | S::UInt64
                | S::SInt32
                | S::SInt64
                | S::Fixed32
                | S::Fixed64
                | S::SFixed32
                | S::SFixed64
                | S::Enum(_)
        ),
        ColumnType::Float64 => matches!(src, S::Double | S::Float),
        ColumnType::String => matches!(src, S::String | S::Enum(_)),
        ColumnType::Bytes => matches!(src, S::Bytes | S::String),
        ColumnType::Date => matches!(
            src,
            S::Int32 | S::SInt32 | S::SFixed32 | S::Int64 | S::SInt64 | S::SFixed64 | S::String
        ),
        ColumnType::Timestamp | ColumnType::DateTime | ColumnType::Time => {
            matches!(src, S::Int64 | S::SInt64 | S::SFixed64 | S::String)
        }
        ColumnType::Numeric | ColumnType::BigNumeric => matches!(src, S::Bytes | S::String),
        ColumnType::Geography | ColumnType::Json | ColumnType::Interval => {
            matches!(src, S::String)
        }
        ColumnType::Range(_) | ColumnType::Struct => matches!(src, S::Message),
    }
}

fn compile_field(
    field: &FieldDescriptor,
    column: &Column,
    column_index: usize,
    path: &str,
    names: &ColumnNames,
    extras: &mut Vec<String>,
) -> Result<FieldPlan, SchemaProblem> {
    let invalid = |why: String| Err(SchemaProblem::Invalid(why));
    if field.is_group() {
        return invalid(format!(
            "writer_schema field `{path}` is a group; use a nested message"
        ));
    }
    if field.is_map() {
        return invalid(format!(
            "writer_schema field `{path}` is a map; BigQuery has no map type (use a repeated message)"
        ));
    }
    let repeated = field.cardinality() == Cardinality::Repeated;
    let column_repeated = column.mode == ColumnMode::Repeated;
    if repeated != column_repeated {
        return invalid(format!(
            "writer_schema field `{path}` is {} but column `{path}` is {}",
            if repeated { "repeated" } else { "not repeated" },
            if column_repeated {
                "REPEATED"
            } else {
                "not REPEATED"
            },
        ));
    }
    let kind = field.kind();
    let src = Src::from_kind(&kind);
    if !accepts(column.ty, &src) {
        return invalid(format!(
            "column `{path}` is {} but writer_schema field `{path}` is {}; {} accepts {}",
            column.ty.name(),
            src.name(),
            column.ty.name(),
            accepted(column.ty)
        ));
    }
    let target =
        match (column.ty, &kind) {
            (ColumnType::Struct, Kind::Message(nested)) => Target::Struct(Box::new(
                compile_message(nested, &column.fields, &format!("{path}."), names, extras)?,
            )),
            (ColumnType::Range(element), Kind::Message(nested)) => {
                Target::Range(Box::new(compile_range(nested, element, path, extras)?))
            }
            (ty, _) => Target::Scalar(ty),
        };
    Ok(FieldPlan {
        number: field.number(),
        column: column_index,
        repeated,
        proto_required: field.cardinality() == Cardinality::Required,
        src,
        target,
    })
}

fn compile_range(
    message: &MessageDescriptor,
    element: RangeElement,
    path: &str,
    extras: &mut Vec<String>,
) -> Result<RangePlan, SchemaProblem> {
    let element_type = match element {
        RangeElement::Date => ColumnType::Date,
        RangeElement::DateTime => ColumnType::DateTime,
        RangeElement::Timestamp => ColumnType::Timestamp,
    };
    let mut plan = RangePlan {
        element,
        start: None,
        end: None,
    };
    for field in message.fields() {
        let name = field.name().to_ascii_lowercase();
        let slot = match name.as_str() {
            "start" => &mut plan.start,
            "end" => &mut plan.end,
            _ => {
                // neither `start` nor `end` of the RANGE column
                extras.push(format!("{path}.{}", field.name()));
                continue;
            }
        };
        if field.cardinality() == Cardinality::Repeated {
            return Err(SchemaProblem::Invalid(format!(
                "`{path}.{}` of a RANGE must not be repeated",
                field.name()
            )));
        }
        let src = Src::from_kind(&field.kind());
        if !accepts(element_type, &src) {
            return Err(SchemaProblem::Invalid(format!(
                "`{path}.{}` is {} but the RANGE element type {} accepts {}",
                field.name(),
                src.name(),
                element_type.name(),
                accepted(element_type)
            )));
        }
        *slot = Some((field.number(), src));
    }
    Ok(plan)
}
