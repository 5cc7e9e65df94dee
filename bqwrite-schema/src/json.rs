//! BigQuery's JSON schema format, as `bq show --schema --format=prettyjson`
//! prints it: an array of fields (a `{"fields": [...]}` object, the
//! `schema` of a table resource, is accepted too).

use std::fmt;

use serde_json::Value;

use crate::{Column, Mode, Type};

/// A schema file that is not a BigQuery JSON schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Where (`fields[2].type`), or empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JsonError {}

fn error(path: &str, message: impl Into<String>) -> JsonError {
    JsonError {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Parses a BigQuery JSON schema into its columns.
///
/// # Errors
/// Text that is not JSON, or a field without a name or with an unknown
/// type or mode.
pub fn parse_json(text: &str) -> Result<Vec<Column>, JsonError> {
    let value: Value =
        serde_json::from_str(text).map_err(|err| error("", format!("not JSON: {err}")))?;
    let fields = match &value {
        Value::Array(fields) => fields,
        Value::Object(object) => match object.get("fields") {
            Some(Value::Array(fields)) => fields,
            _ => {
                return Err(error(
                    "",
                    "expected an array of fields or an object with `fields`",
                ));
            }
        },
        _ => return Err(error("", "expected an array of fields")),
    };
    parse_fields(fields, "")
}

fn parse_fields(fields: &[Value], prefix: &str) -> Result<Vec<Column>, JsonError> {
    fields
        .iter()
        .enumerate()
        .map(|(i, field)| parse_field(field, &format!("{prefix}[{i}]")))
        .collect()
}

fn parse_field(value: &Value, path: &str) -> Result<Column, JsonError> {
    let Value::Object(field) = value else {
        return Err(error(path, "a field is an object"));
    };
    let text = |key: &str| field.get(key).and_then(Value::as_str);
    let name = text("name").ok_or_else(|| error(path, "missing `name`"))?;
    let path = format!("{path} `{name}`");
    let ty_name = text("type").ok_or_else(|| error(&path, "missing `type`"))?;
    let ty =
        Type::parse(ty_name).ok_or_else(|| error(&path, format!("unknown type `{ty_name}`")))?;
    let mode = match text("mode").map(str::to_ascii_uppercase).as_deref() {
        None | Some("NULLABLE") => Mode::Nullable,
        Some("REQUIRED") => Mode::Required,
        Some("REPEATED") => Mode::Repeated,
        Some(other) => return Err(error(&path, format!("unknown mode `{other}`"))),
    };
    let range_element = match field.get("rangeElementType") {
        None => None,
        Some(element) => {
            let name = element
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| error(&path, "`rangeElementType` needs a `type`"))?;
            Some(
                Type::parse(name)
                    .ok_or_else(|| error(&path, format!("unknown range element type `{name}`")))?,
            )
        }
    };
    if ty == Type::Range && range_element.is_none() {
        return Err(error(&path, "a RANGE needs `rangeElementType`"));
    }
    let fields = match field.get("fields") {
        None => Vec::new(),
        Some(Value::Array(fields)) => parse_fields(fields, &format!("{path}.fields"))?,
        Some(_) => return Err(error(&path, "`fields` is an array")),
    };
    if ty == Type::Struct && fields.is_empty() {
        return Err(error(&path, "a STRUCT needs `fields`"));
    }
    Ok(Column {
        name: name.to_owned(),
        ty: Some(ty),
        mode,
        range_element,
        fields,
        has_default: text("defaultValueExpression").is_some_and(|e| !e.trim().is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bq_show_output() {
        let columns = parse_json(
            r#"[
  {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
  {"name": "addr", "type": "RECORD", "mode": "REPEATED", "fields": [
    {"name": "zip", "type": "STRING"}
  ]},
  {"name": "during", "type": "RANGE", "rangeElementType": {"type": "DATE"}}
]"#,
        )
        .expect("valid schema");
        assert_eq!(columns.len(), 3);
        assert_eq!(columns[0].ty, Some(Type::Int64));
        assert_eq!(columns[0].mode, Mode::Required);
        assert_eq!(columns[1].fields[0].mode, Mode::Nullable);
        assert_eq!(columns[2].range_element, Some(Type::Date));
        assert!(parse_json(r#"{"fields": []}"#).expect("object").is_empty());
    }

    #[test]
    fn default_value_expressions_are_noted() {
        let columns = parse_json(
            r#"[{"name": "a", "type": "STRING", "defaultValueExpression": "'x'"},
                {"name": "b", "type": "STRING", "defaultValueExpression": ""},
                {"name": "c", "type": "STRING"}]"#,
        )
        .expect("valid schema");
        let has: Vec<bool> = columns.iter().map(|c| c.has_default).collect();
        assert_eq!(has, [true, false, false]);
    }

    #[test]
    fn errors_say_where() {
        let err = parse_json(r#"[{"name": "a", "type": "VARCHAR"}]"#).unwrap_err();
        assert_eq!(err.to_string(), "[0] `a`: unknown type `VARCHAR`");
        assert!(parse_json("nope").is_err());
    }
}
