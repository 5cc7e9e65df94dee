//! Table schemas: the emulator's own checked view of a table's columns, and
//! BigQuery's JSON schema form (as `bq mk --schema` and the REST API use it).

use std::sync::Arc;

use bqwrite::proto::storage::{
    TableFieldSchema, TableSchema,
    table_field_schema::{FieldElementType, Mode, Type},
};
use serde_json::{Map, Value as Json, json};

/// The element type of a RANGE column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeElement {
    Date,
    DateTime,
    Timestamp,
}

/// A column's BigQuery type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnType {
    String,
    Int64,
    Float64,
    Bool,
    Bytes,
    Numeric,
    BigNumeric,
    Date,
    DateTime,
    Time,
    Timestamp,
    Geography,
    Json,
    Interval,
    Range(RangeElement),
    Struct,
}

impl ColumnType {
    /// The GoogleSQL name, as error messages print it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ColumnType::String => "STRING",
            ColumnType::Int64 => "INT64",
            ColumnType::Float64 => "FLOAT64",
            ColumnType::Bool => "BOOL",
            ColumnType::Bytes => "BYTES",
            ColumnType::Numeric => "NUMERIC",
            ColumnType::BigNumeric => "BIGNUMERIC",
            ColumnType::Date => "DATE",
            ColumnType::DateTime => "DATETIME",
            ColumnType::Time => "TIME",
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::Geography => "GEOGRAPHY",
            ColumnType::Json => "JSON",
            ColumnType::Interval => "INTERVAL",
            ColumnType::Range(RangeElement::Date) => "RANGE<DATE>",
            ColumnType::Range(RangeElement::DateTime) => "RANGE<DATETIME>",
            ColumnType::Range(RangeElement::Timestamp) => "RANGE<TIMESTAMP>",
            ColumnType::Struct => "STRUCT",
        }
    }
}

/// A column's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnMode {
    Nullable,
    Required,
    Repeated,
}

/// One checked column of a table (or of a STRUCT column).
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub mode: ColumnMode,
    /// STRUCT sub-columns (empty otherwise).
    pub fields: Arc<[Column]>,
}

/// Finds a column by name, ignoring ASCII case as BigQuery does.
pub(crate) fn find_column(columns: &[Column], name: &str) -> Option<usize> {
    columns
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(name))
}

/// Checks a table schema and compiles it into columns.
pub(crate) fn compile(schema: &TableSchema) -> Result<Arc<[Column]>, String> {
    if schema.fields.is_empty() {
        return Err("a table schema needs at least one field".into());
    }
    compile_fields(&schema.fields, "")
}

fn compile_fields(fields: &[TableFieldSchema], prefix: &str) -> Result<Arc<[Column]>, String> {
    let mut columns: Vec<Column> = Vec::with_capacity(fields.len());
    for field in fields {
        let path = format!("{prefix}{}", field.name);
        if field.name.is_empty() {
            return Err(format!("a field of `{prefix}` has an empty name"));
        }
        if field.name.len() > 300 {
            return Err(format!("field name `{path}` is longer than 300 characters"));
        }
        if find_column(&columns, &field.name).is_some() {
            return Err(format!(
                "field name `{path}` appears twice (names are case-insensitive)"
            ));
        }
        let ty = match Type::try_from(field.r#type) {
            Ok(Type::String) => ColumnType::String,
            Ok(Type::Int64) => ColumnType::Int64,
            Ok(Type::Double) => ColumnType::Float64,
            Ok(Type::Bool) => ColumnType::Bool,
            Ok(Type::Bytes) => ColumnType::Bytes,
            Ok(Type::Numeric) => ColumnType::Numeric,
            Ok(Type::Bignumeric) => ColumnType::BigNumeric,
            Ok(Type::Date) => ColumnType::Date,
            Ok(Type::Datetime) => ColumnType::DateTime,
            Ok(Type::Time) => ColumnType::Time,
            Ok(Type::Timestamp) => ColumnType::Timestamp,
            Ok(Type::Geography) => ColumnType::Geography,
            Ok(Type::Json) => ColumnType::Json,
            Ok(Type::Interval) => ColumnType::Interval,
            Ok(Type::Struct) => ColumnType::Struct,
            Ok(Type::Range) => {
                let element = field.range_element_type.map(|e| Type::try_from(e.r#type));
                ColumnType::Range(match element {
                    Some(Ok(Type::Date)) => RangeElement::Date,
                    Some(Ok(Type::Datetime)) => RangeElement::DateTime,
                    Some(Ok(Type::Timestamp)) => RangeElement::Timestamp,
                    _ => {
                        return Err(format!(
                            "RANGE field `{path}` needs a range element type of DATE, DATETIME or TIMESTAMP"
                        ));
                    }
                })
            }
            Ok(Type::Unspecified) | Err(_) => {
                return Err(format!(
                    "field `{path}` has no valid type (type number {})",
                    field.r#type
                ));
            }
        };
        let mode = match Mode::try_from(field.mode) {
            Ok(Mode::Unspecified | Mode::Nullable) => ColumnMode::Nullable,
            Ok(Mode::Required) => ColumnMode::Required,
            Ok(Mode::Repeated) => ColumnMode::Repeated,
            Err(_) => return Err(format!("field `{path}` has an invalid mode {}", field.mode)),
        };
        let sub = if ty == ColumnType::Struct {
            if field.fields.is_empty() {
                return Err(format!("STRUCT field `{path}` has no sub-fields"));
            }
            compile_fields(&field.fields, &format!("{path}."))?
        } else if !field.fields.is_empty() {
            return Err(format!(
                "field `{path}` of type {} cannot have sub-fields",
                ty.name()
            ));
        } else {
            Arc::from(Vec::new())
        };
        columns.push(Column {
            name: field.name.clone(),
            ty,
            mode,
            fields: sub,
        });
    }
    Ok(columns.into())
}

/// Parses BigQuery's JSON schema: an array of fields or `{"fields": [...]}`,
/// with the legacy type names (INTEGER, FLOAT, BOOLEAN, RECORD) accepted.
pub(crate) fn from_json_text(text: &str) -> Result<TableSchema, String> {
    let value: Json =
        serde_json::from_str(text).map_err(|e| format!("the schema is not valid JSON: {e}"))?;
    from_json(&value)
}

/// Same as [`from_json_text`], from a parsed value.
pub(crate) fn from_json(value: &Json) -> Result<TableSchema, String> {
    let fields = match value {
        Json::Array(fields) => fields,
        Json::Object(obj) => match obj.get("fields") {
            Some(Json::Array(fields)) => fields,
            _ => return Err("the schema object has no `fields` array".into()),
        },
        _ => return Err("the schema must be an array of fields or {\"fields\": [...]}".into()),
    };
    Ok(TableSchema {
        fields: fields_from_json(fields, "")?,
    })
}

fn type_from_name(name: &str) -> Option<Type> {
    Some(match name.to_ascii_uppercase().as_str() {
        "STRING" => Type::String,
        "INTEGER" | "INT64" => Type::Int64,
        "FLOAT" | "FLOAT64" => Type::Double,
        "BOOLEAN" | "BOOL" => Type::Bool,
        "BYTES" => Type::Bytes,
        "NUMERIC" | "DECIMAL" => Type::Numeric,
        "BIGNUMERIC" | "BIGDECIMAL" => Type::Bignumeric,
        "DATE" => Type::Date,
        "DATETIME" => Type::Datetime,
        "TIME" => Type::Time,
        "TIMESTAMP" => Type::Timestamp,
        "GEOGRAPHY" => Type::Geography,
        "JSON" => Type::Json,
        "INTERVAL" => Type::Interval,
        "RANGE" => Type::Range,
        "RECORD" | "STRUCT" => Type::Struct,
        _ => return None,
    })
}

fn int_field(obj: &Map<String, Json>, key: &str, path: &str) -> Result<i64, String> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(0),
        Some(Json::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("`{key}` of field `{path}` is not an integer")),
        Some(Json::String(s)) => s
            .parse()
            .map_err(|_| format!("`{key}` of field `{path}` is not an integer")),
        Some(_) => Err(format!("`{key}` of field `{path}` is not an integer")),
    }
}

fn str_field<'a>(
    obj: &'a Map<String, Json>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{key}` of field `{path}` must be a string")),
    }
}

fn fields_from_json(fields: &[Json], prefix: &str) -> Result<Vec<TableFieldSchema>, String> {
    fields
        .iter()
        .map(|field| {
            let obj = field
                .as_object()
                .ok_or_else(|| format!("a field of `{prefix}` is not a JSON object"))?;
            let name = str_field(obj, "name", prefix)?
                .ok_or_else(|| format!("a field of `{prefix}` has no `name`"))?;
            let path = format!("{prefix}{name}");
            let type_name = str_field(obj, "type", &path)?
                .ok_or_else(|| format!("field `{path}` has no `type`"))?;
            let ty = type_from_name(type_name)
                .ok_or_else(|| format!("field `{path}` has an unknown type {type_name:?}"))?;
            let mode = match str_field(obj, "mode", &path)? {
                None => Mode::Nullable,
                Some(m) => match m.to_ascii_uppercase().as_str() {
                    "NULLABLE" => Mode::Nullable,
                    "REQUIRED" => Mode::Required,
                    "REPEATED" => Mode::Repeated,
                    _ => return Err(format!("field `{path}` has an unknown mode {m:?}")),
                },
            };
            let sub = match obj.get("fields") {
                None | Some(Json::Null) => Vec::new(),
                Some(Json::Array(sub)) => fields_from_json(sub, &format!("{path}."))?,
                Some(_) => return Err(format!("`fields` of field `{path}` must be an array")),
            };
            let range_element_type = match obj.get("rangeElementType") {
                None | Some(Json::Null) => None,
                Some(Json::Object(e)) => {
                    let name = str_field(e, "type", &path)?.ok_or_else(|| {
                        format!("`rangeElementType` of field `{path}` has no `type`")
                    })?;
                    let t = type_from_name(name).ok_or_else(|| {
                        format!("field `{path}` has an unknown range element type {name:?}")
                    })?;
                    Some(FieldElementType { r#type: t as i32 })
                }
                Some(_) => {
                    return Err(format!(
                        "`rangeElementType` of field `{path}` must be an object"
                    ));
                }
            };
            Ok(TableFieldSchema {
                name: name.to_string(),
                r#type: ty as i32,
                mode: mode as i32,
                fields: sub,
                description: str_field(obj, "description", &path)?
                    .unwrap_or_default()
                    .to_string(),
                max_length: int_field(obj, "maxLength", &path)?,
                precision: int_field(obj, "precision", &path)?,
                scale: int_field(obj, "scale", &path)?,
                default_value_expression: str_field(obj, "defaultValueExpression", &path)?
                    .unwrap_or_default()
                    .to_string(),
                range_element_type,
                timestamp_precision: None,
            })
        })
        .collect()
}

fn rest_type_name(ty: i32) -> &'static str {
    match Type::try_from(ty) {
        Ok(Type::Int64) => "INTEGER",
        Ok(Type::Double) => "FLOAT",
        Ok(Type::Bool) => "BOOLEAN",
        Ok(Type::Struct) => "RECORD",
        Ok(t) => t.as_str_name(),
        Err(_) => "TYPE_UNSPECIFIED",
    }
}

/// The REST form `{"fields": [...]}`, with the type names the REST API returns.
pub(crate) fn to_json(schema: &TableSchema) -> Json {
    json!({ "fields": fields_to_json(&schema.fields) })
}

fn fields_to_json(fields: &[TableFieldSchema]) -> Json {
    Json::Array(
        fields
            .iter()
            .map(|f| {
                let mut obj = Map::new();
                obj.insert("name".into(), json!(f.name));
                obj.insert("type".into(), json!(rest_type_name(f.r#type)));
                let mode = match Mode::try_from(f.mode) {
                    Ok(Mode::Required) => "REQUIRED",
                    Ok(Mode::Repeated) => "REPEATED",
                    _ => "NULLABLE",
                };
                obj.insert("mode".into(), json!(mode));
                if !f.fields.is_empty() {
                    obj.insert("fields".into(), fields_to_json(&f.fields));
                }
                if !f.description.is_empty() {
                    obj.insert("description".into(), json!(f.description));
                }
                if let Some(e) = f.range_element_type {
                    obj.insert(
                        "rangeElementType".into(),
                        json!({ "type": rest_type_name(e.r#type) }),
                    );
                }
                if f.max_length != 0 {
                    obj.insert("maxLength".into(), json!(f.max_length.to_string()));
                }
                if f.precision != 0 {
                    obj.insert("precision".into(), json!(f.precision.to_string()));
                }
                if f.scale != 0 {
                    obj.insert("scale".into(), json!(f.scale.to_string()));
                }
                if !f.default_value_expression.is_empty() {
                    obj.insert(
                        "defaultValueExpression".into(),
                        json!(f.default_value_expression),
                    );
                }
                Json::Object(obj)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_schema_round_trips_with_legacy_names() {
        let schema = from_json_text(
            r#"[{"name":"id","type":"INTEGER","mode":"REQUIRED"},
                {"name":"tags","type":"STRING","mode":"REPEATED"},
                {"name":"addr","type":"RECORD","fields":[{"name":"city","type":"STRING"}]},
                {"name":"during","type":"RANGE","rangeElementType":{"type":"DATE"}}]"#,
        )
        .unwrap();
        let columns = compile(&schema).unwrap();
        assert_eq!(columns[0].ty, ColumnType::Int64);
        assert_eq!(columns[0].mode, ColumnMode::Required);
        assert_eq!(columns[2].fields[0].name, "city");
        assert_eq!(columns[3].ty, ColumnType::Range(RangeElement::Date));
        let again = from_json(&to_json(&schema)).unwrap();
        assert_eq!(again, schema);
    }

    #[test]
    fn bad_schemas_are_named() {
        let dup = from_json_text(r#"[{"name":"a","type":"STRING"},{"name":"A","type":"INT64"}]"#)
            .unwrap();
        assert!(compile(&dup).unwrap_err().contains("`A` appears twice"));
        let empty_struct = from_json_text(r#"{"fields":[{"name":"s","type":"STRUCT"}]}"#).unwrap();
        assert!(
            compile(&empty_struct)
                .unwrap_err()
                .contains("no sub-fields")
        );
        assert!(
            from_json_text(r#"[{"name":"x","type":"NOPE"}]"#)
                .unwrap_err()
                .contains("unknown type")
        );
    }
}
