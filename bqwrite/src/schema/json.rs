//! BigQuery's JSON schema form: the file `bq mk --schema` takes and the
//! REST API's `schema.fields`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::*;

impl TableSchema {
    /// BigQuery's JSON schema: a JSON array of fields, the file `bq mk --schema` takes.
    ///
    /// Each field is `{"name", "type", "mode"}` plus `"fields"`, `"description"`,
    /// `"rangeElementType": {"type"}` and `"defaultValueExpression"` when present; types use the
    /// standard SQL names (`INT64`, `FLOAT64`, `BOOL`, `STRUCT`, ...).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&JsonFields(&self.fields)).unwrap_or_else(|_| "[]".to_owned())
    }

    /// [`TableSchema::to_json`], indented for reading.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&JsonFields(&self.fields)).unwrap_or_else(|_| "[]".to_owned())
    }

    /// The JSON schema as a value, as the REST API's `schema.fields` holds it.
    pub fn to_json_value(&self) -> Value {
        serde_json::to_value(JsonFields(&self.fields)).unwrap_or_else(|_| Value::Array(Vec::new()))
    }

    /// Reads BigQuery's JSON schema: a JSON array of fields, or an object
    /// `{"fields": [...]}` (a REST `schema`).
    ///
    /// Type and mode names are case-insensitive and may be the legacy
    /// `INTEGER`, `FLOAT`, `BOOLEAN`, `DECIMAL`, `BIGDECIMAL`, `RECORD`; the
    /// mode defaults to NULLABLE. `defaultValueExpression` is kept. The keys
    /// `maxLength`, `precision`, `scale`, `roundingMode`, `collation`,
    /// `policyTags`, `dataPolicies`,
    /// `foreignTypeDefinition`, `timestampPrecision` and `categories` are
    /// accepted and not kept; any other unknown key is an error (a misspelt
    /// `mode` must not silently become NULLABLE). The result is
    /// [validated](TableSchema::validate).
    pub fn from_json(text: &str) -> Result<Self, SchemaError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| SchemaError::Json(e.to_string()))?;
        Self::from_json_value(&value)
    }

    /// [`TableSchema::from_json`] of an already parsed JSON value.
    pub fn from_json_value(value: &Value) -> Result<Self, SchemaError> {
        let fields = match value {
            Value::Array(fields) => fields,
            Value::Object(object) => match object.get("fields") {
                Some(Value::Array(fields)) if object.len() == 1 => fields,
                _ => {
                    return Err(SchemaError::Json(
                        "expected an array of fields or an object {\"fields\": [...]}".to_owned(),
                    ));
                }
            },
            _ => return Err(SchemaError::Json("expected an array of fields".to_owned())),
        };
        let schema = Self {
            fields: fields_from_json(fields, "")?,
        };
        schema.validate()?;
        Ok(schema)
    }
}

fn fields_from_json(fields: &[Value], parent: &str) -> Result<Vec<FieldSchema>, SchemaError> {
    fields
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let name = value.get("name").and_then(Value::as_str).unwrap_or("");
            let path = child_path(parent, name, index);
            match value {
                Value::Object(object) => field_from_json(object, &path),
                _ => Err(invalid(&path, "a field must be a JSON object")),
            }
        })
        .collect()
}

fn field_from_json(object: &Map<String, Value>, path: &str) -> Result<FieldSchema, SchemaError> {
    for key in object.keys() {
        let known = matches!(
            key.as_str(),
            "name"
                | "type"
                | "mode"
                | "fields"
                | "description"
                | "rangeElementType"
                | "defaultValueExpression"
        );
        if !known && !IGNORED_JSON_KEYS.contains(&key.as_str()) {
            return Err(invalid(path, format!("unknown key {key:?}")));
        }
    }
    let string = |key: &str| -> Result<Option<&str>, SchemaError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(path, format!("\"{key}\" must be a string"))),
        }
    };
    let name = string("name")?.ok_or_else(|| invalid(path, "missing \"name\""))?;
    let type_name = string("type")?.ok_or_else(|| invalid(path, "missing \"type\""))?;
    let field_type = FieldType::parse_at(type_name, path)?;
    let mode = match string("mode")? {
        Some(mode) => Mode::parse_at(mode, path)?,
        None => Mode::Nullable,
    };
    let fields = match object.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(fields)) => fields_from_json(fields, path)?,
        Some(_) => return Err(invalid(path, "\"fields\" must be an array")),
    };
    let range_element_type = match object.get("rangeElementType") {
        None | Some(Value::Null) => None,
        Some(Value::Object(element)) => match element.get("type") {
            Some(Value::String(t)) if element.len() == 1 => Some(FieldType::parse_at(t, path)?),
            _ => {
                return Err(invalid(
                    path,
                    "\"rangeElementType\" must be {\"type\": \"DATE\"} or similar",
                ));
            }
        },
        Some(_) => {
            return Err(invalid(
                path,
                "\"rangeElementType\" must be an object {\"type\": ...}",
            ));
        }
    };
    Ok(FieldSchema {
        name: name.to_owned(),
        field_type,
        mode,
        fields,
        range_element_type,
        description: string("description")?.map(str::to_owned),
        default_value_expression: string("defaultValueExpression")?.map(str::to_owned),
    })
}

/// Serializes fields in BigQuery's JSON schema form, keys in the usual order.
struct JsonFields<'a>(&'a [FieldSchema]);

impl Serialize for JsonFields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JsonField))
    }
}

struct JsonField<'a>(&'a FieldSchema);

#[derive(Serialize)]
struct JsonElementType {
    #[serde(rename = "type")]
    element_type: &'static str,
}

impl Serialize for JsonField<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let field = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &field.name)?;
        map.serialize_entry("type", field.field_type.as_str())?;
        map.serialize_entry("mode", field.mode.as_str())?;
        if !field.fields.is_empty() {
            map.serialize_entry("fields", &JsonFields(&field.fields))?;
        }
        if let Some(description) = &field.description {
            map.serialize_entry("description", description)?;
        }
        if let Some(element) = field.range_element_type {
            map.serialize_entry(
                "rangeElementType",
                &JsonElementType {
                    element_type: element.as_str(),
                },
            )?;
        }
        if let Some(expression) = &field.default_value_expression {
            map.serialize_entry("defaultValueExpression", expression)?;
        }
        map.end()
    }
}
