//! BigQuery table schemas: the columns a table has, in the forms BigQuery
//! reads them.
//!
//! A [`TableSchema`] converts to and from
//! - BigQuery's JSON schema format, the file `bq mk --schema` takes and the
//!   REST API's `schema.fields` ([`TableSchema::to_json`], [`TableSchema::from_json`]);
//! - the Storage Write API's [`proto::storage::TableSchema`](crate::proto::storage::TableSchema)
//!   (`From`/`TryFrom`).
//!
//! ```
//! use bqwrite::{FieldSchema, FieldType, Mode, TableSchema};
//!
//! let schema = TableSchema::new(vec![
//!     FieldSchema::new("id", FieldType::Int64, Mode::Required),
//!     FieldSchema::structure("address", Mode::Nullable, vec![
//!         FieldSchema::new("zip", FieldType::String, Mode::Nullable),
//!     ]),
//!     FieldSchema::range("valid", Mode::Nullable, FieldType::Date),
//! ]);
//! let json = schema.to_json();
//! assert!(json.starts_with(r#"[{"name":"id","type":"INT64","mode":"REQUIRED"}"#));
//! assert_eq!(TableSchema::from_json(&json)?, schema);
//!
//! let err = TableSchema::from_json(
//!     r#"[{"name": "address", "type": "RECORD", "fields": [{"name": "zip", "type": "INTEGR"}]}]"#,
//! ).unwrap_err();
//! assert_eq!(err.to_string(), r#"address.zip: unknown type "INTEGR""#);
//! # Ok::<(), bqwrite::SchemaError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::proto::storage as pb;
use crate::proto::storage::table_field_schema::{FieldElementType, Mode as PbMode, Type as PbType};

/// BigQuery allows STRUCT columns nested 15 levels deep.
pub const MAX_NESTING_DEPTH: usize = 15;

/// The keys of BigQuery's JSON field schema that bqwrite reads but does not
/// keep: they restrict or describe values and do not change how rows are written.
const IGNORED_JSON_KEYS: &[&str] = &[
    "maxLength",
    "precision",
    "scale",
    "roundingMode",
    "collation",
    "policyTags",
    "dataPolicies",
    "foreignTypeDefinition",
    "timestampPrecision",
    "categories",
];

/// The schema of a BigQuery table: its top-level columns, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableSchema {
    /// The columns.
    pub fields: Vec<FieldSchema>,
}

/// One column of a table, or one field of a STRUCT column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSchema {
    /// The column name.
    pub name: String,
    /// The column type.
    pub field_type: FieldType,
    /// Whether the column is NULLABLE, REQUIRED or REPEATED.
    pub mode: Mode,
    /// The sub-fields of a STRUCT column; empty for other types.
    pub fields: Vec<FieldSchema>,
    /// The element type of a RANGE column (DATE, DATETIME or TIMESTAMP); `None` for other types.
    pub range_element_type: Option<FieldType>,
    /// The column description.
    pub description: Option<String>,
    /// The column's default value expression (`defaultValueExpression`), a
    /// GoogleSQL literal or function call such as `'n/a'` or
    /// `CURRENT_TIMESTAMP()`: what BigQuery writes when a row leaves the
    /// column out and the writer asks for defaults (see
    /// [Column defaults](crate::row#column-defaults)). Top-level columns only.
    pub default_value_expression: Option<String>,
}

/// A BigQuery column type.
///
/// Displayed (and written to JSON schemas) as BigQuery's standard SQL names:
/// `INT64`, `FLOAT64`, `BOOL`, `STRUCT`, ...; parsed case-insensitively,
/// also from the legacy names `INTEGER`, `FLOAT`, `BOOLEAN`, `DECIMAL`,
/// `BIGDECIMAL` and `RECORD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// STRING: UTF-8 text.
    String,
    /// INT64 (legacy INTEGER): a 64-bit signed integer.
    Int64,
    /// FLOAT64 (legacy FLOAT): a 64-bit IEEE float.
    Float64,
    /// BOOL (legacy BOOLEAN).
    Bool,
    /// BYTES: binary data.
    Bytes,
    /// NUMERIC: an exact decimal, precision 38, scale 9.
    Numeric,
    /// BIGNUMERIC: an exact decimal, precision 76.76, scale 38.
    BigNumeric,
    /// DATE: a civil date.
    Date,
    /// DATETIME: a civil date and time.
    DateTime,
    /// TIME: a civil time of day.
    Time,
    /// TIMESTAMP: an instant, microsecond precision.
    Timestamp,
    /// GEOGRAPHY: a point set on the Earth's surface.
    Geography,
    /// JSON: a JSON document.
    Json,
    /// INTERVAL: a duration in months, days and microseconds.
    Interval,
    /// RANGE: a half-open range of DATE, DATETIME or TIMESTAMP values.
    Range,
    /// STRUCT (legacy RECORD): a record of named sub-fields.
    Struct,
}

/// How a column holds values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// The column may be NULL (the default).
    #[default]
    Nullable,
    /// The column always has a value.
    Required,
    /// The column holds an array of values (never NULL; an empty array when none).
    Repeated,
}

/// A schema BigQuery would not accept, or JSON or proto that does not hold one.
///
/// Errors about a field name it by its path, e.g.
/// `address.zip: unknown type "INTEGR"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The text is not JSON, or not a JSON array of fields.
    #[error("invalid schema JSON: {0}")]
    Json(String),
    /// A type name no BigQuery type has.
    #[error("{}unknown type {name:?}", at(.path))]
    UnknownType {
        /// The dotted path of the field (empty when parsing a lone type name).
        path: String,
        /// The name as given.
        name: String,
    },
    /// A mode name other than NULLABLE, REQUIRED or REPEATED.
    #[error("{}unknown mode {name:?}", at(.path))]
    UnknownMode {
        /// The dotted path of the field (empty when parsing a lone mode name).
        path: String,
        /// The name as given.
        name: String,
    },
    /// Any other problem with one field.
    #[error("{}{detail}", at(.path))]
    InvalidField {
        /// The dotted path of the field.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn invalid(path: &str, detail: impl Into<String>) -> SchemaError {
    SchemaError::InvalidField {
        path: path.to_owned(),
        detail: detail.into(),
    }
}

impl FieldType {
    /// Every type, in the order of the enum.
    pub const ALL: [FieldType; 16] = [
        FieldType::String,
        FieldType::Int64,
        FieldType::Float64,
        FieldType::Bool,
        FieldType::Bytes,
        FieldType::Numeric,
        FieldType::BigNumeric,
        FieldType::Date,
        FieldType::DateTime,
        FieldType::Time,
        FieldType::Timestamp,
        FieldType::Geography,
        FieldType::Json,
        FieldType::Interval,
        FieldType::Range,
        FieldType::Struct,
    ];

    /// The standard SQL name: `INT64`, `FLOAT64`, `BOOL`, `STRUCT`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "STRING",
            FieldType::Int64 => "INT64",
            FieldType::Float64 => "FLOAT64",
            FieldType::Bool => "BOOL",
            FieldType::Bytes => "BYTES",
            FieldType::Numeric => "NUMERIC",
            FieldType::BigNumeric => "BIGNUMERIC",
            FieldType::Date => "DATE",
            FieldType::DateTime => "DATETIME",
            FieldType::Time => "TIME",
            FieldType::Timestamp => "TIMESTAMP",
            FieldType::Geography => "GEOGRAPHY",
            FieldType::Json => "JSON",
            FieldType::Interval => "INTERVAL",
            FieldType::Range => "RANGE",
            FieldType::Struct => "STRUCT",
        }
    }

    /// Whether a RANGE may have elements of this type (DATE, DATETIME, TIMESTAMP).
    pub const fn is_range_element(self) -> bool {
        matches!(
            self,
            FieldType::Date | FieldType::DateTime | FieldType::Timestamp
        )
    }

    /// The Storage Write API's enum value of this type.
    pub const fn to_proto(self) -> PbType {
        match self {
            FieldType::String => PbType::String,
            FieldType::Int64 => PbType::Int64,
            FieldType::Float64 => PbType::Double,
            FieldType::Bool => PbType::Bool,
            FieldType::Bytes => PbType::Bytes,
            FieldType::Numeric => PbType::Numeric,
            FieldType::BigNumeric => PbType::Bignumeric,
            FieldType::Date => PbType::Date,
            FieldType::DateTime => PbType::Datetime,
            FieldType::Time => PbType::Time,
            FieldType::Timestamp => PbType::Timestamp,
            FieldType::Geography => PbType::Geography,
            FieldType::Json => PbType::Json,
            FieldType::Interval => PbType::Interval,
            FieldType::Range => PbType::Range,
            FieldType::Struct => PbType::Struct,
        }
    }

    /// The type of a Storage Write API enum value; `None` for `TYPE_UNSPECIFIED`.
    pub const fn from_proto(value: PbType) -> Option<Self> {
        Some(match value {
            PbType::Unspecified => return None,
            PbType::String => FieldType::String,
            PbType::Int64 => FieldType::Int64,
            PbType::Double => FieldType::Float64,
            PbType::Bool => FieldType::Bool,
            PbType::Bytes => FieldType::Bytes,
            PbType::Numeric => FieldType::Numeric,
            PbType::Bignumeric => FieldType::BigNumeric,
            PbType::Date => FieldType::Date,
            PbType::Datetime => FieldType::DateTime,
            PbType::Time => FieldType::Time,
            PbType::Timestamp => FieldType::Timestamp,
            PbType::Geography => FieldType::Geography,
            PbType::Json => FieldType::Json,
            PbType::Interval => FieldType::Interval,
            PbType::Range => FieldType::Range,
            PbType::Struct => FieldType::Struct,
        })
    }

    /// Parses a type name as BigQuery writes it, legacy names (`INTEGER`,
    /// `FLOAT`, `BOOLEAN`, `DECIMAL`, `BIGDECIMAL`, `RECORD`) included,
    /// ignoring case: the shared rules of `bqwrite_schema` decide.
    fn parse_at(name: &str, path: &str) -> Result<Self, SchemaError> {
        bqwrite_schema::Type::parse(name)
            .map(crate::compat::from_rule_type)
            .ok_or_else(|| SchemaError::UnknownType {
                path: path.to_owned(),
                name: name.to_owned(),
            })
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FieldType {
    type Err = SchemaError;

    /// Parses a type name, case-insensitively, legacy names included.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse_at(name, "")
    }
}

impl From<FieldType> for PbType {
    fn from(value: FieldType) -> Self {
        value.to_proto()
    }
}

impl Mode {
    /// The name: `NULLABLE`, `REQUIRED` or `REPEATED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Nullable => "NULLABLE",
            Mode::Required => "REQUIRED",
            Mode::Repeated => "REPEATED",
        }
    }

    /// The Storage Write API's enum value of this mode.
    pub const fn to_proto(self) -> PbMode {
        match self {
            Mode::Nullable => PbMode::Nullable,
            Mode::Required => PbMode::Required,
            Mode::Repeated => PbMode::Repeated,
        }
    }

    /// The mode of a Storage Write API enum value; `MODE_UNSPECIFIED` is
    /// NULLABLE, as BigQuery reads it.
    pub const fn from_proto(value: PbMode) -> Self {
        match value {
            PbMode::Unspecified | PbMode::Nullable => Mode::Nullable,
            PbMode::Required => Mode::Required,
            PbMode::Repeated => Mode::Repeated,
        }
    }

    fn parse_at(name: &str, path: &str) -> Result<Self, SchemaError> {
        match name.to_ascii_uppercase().as_str() {
            "NULLABLE" => Ok(Mode::Nullable),
            "REQUIRED" => Ok(Mode::Required),
            "REPEATED" => Ok(Mode::Repeated),
            _ => Err(SchemaError::UnknownMode {
                path: path.to_owned(),
                name: name.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = SchemaError;

    /// Parses a mode name, case-insensitively.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse_at(name, "")
    }
}

impl From<Mode> for PbMode {
    fn from(value: Mode) -> Self {
        value.to_proto()
    }
}

impl FieldSchema {
    /// A column of a scalar type (for STRUCT and RANGE use
    /// [`FieldSchema::structure`] and [`FieldSchema::range`]).
    pub fn new(name: impl Into<String>, field_type: FieldType, mode: Mode) -> Self {
        Self {
            name: name.into(),
            field_type,
            mode,
            fields: Vec::new(),
            range_element_type: None,
            description: None,
            default_value_expression: None,
        }
    }

    /// A STRUCT column with its sub-fields.
    pub fn structure(name: impl Into<String>, mode: Mode, fields: Vec<FieldSchema>) -> Self {
        Self {
            fields,
            ..Self::new(name, FieldType::Struct, mode)
        }
    }

    /// A RANGE column of `element_type` (DATE, DATETIME or TIMESTAMP).
    pub fn range(name: impl Into<String>, mode: Mode, element_type: FieldType) -> Self {
        Self {
            range_element_type: Some(element_type),
            ..Self::new(name, FieldType::Range, mode)
        }
    }

    /// The same field with a description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The same field with a default value expression, such as `"'n/a'"`,
    /// `"0"` or `"CURRENT_TIMESTAMP()"`.
    #[must_use]
    pub fn with_default_value(mut self, expression: impl Into<String>) -> Self {
        self.default_value_expression = Some(expression.into());
        self
    }

    /// The sub-field of a STRUCT named `name`, compared case-insensitively as BigQuery does.
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    fn validate(&self, path: &str, depth: usize) -> Result<(), SchemaError> {
        if self.name.is_empty() {
            return Err(invalid(path, "empty field name"));
        }
        if self.name.chars().count() > 300 {
            return Err(invalid(path, "field name longer than 300 characters"));
        }
        match (self.field_type, self.fields.is_empty()) {
            (FieldType::Struct, true) => {
                return Err(invalid(path, "a STRUCT needs at least one field"));
            }
            (FieldType::Struct, false) => {
                if depth > MAX_NESTING_DEPTH {
                    return Err(invalid(
                        path,
                        format!("STRUCT nested deeper than BigQuery's {MAX_NESTING_DEPTH} levels"),
                    ));
                }
                validate_fields(&self.fields, path, depth + 1)?;
            }
            (other, false) => {
                return Err(invalid(
                    path,
                    format!("a {other} column cannot have sub-fields"),
                ));
            }
            (_, true) => {}
        }
        match (self.field_type, self.range_element_type) {
            (FieldType::Range, None) => Err(invalid(path, "a RANGE needs a range element type")),
            (FieldType::Range, Some(element)) if !element.is_range_element() => Err(invalid(
                path,
                format!(
                    "RANGE<{element}> is not allowed: the element type must be DATE, DATETIME or TIMESTAMP"
                ),
            )),
            (other, Some(_)) if other != FieldType::Range => Err(invalid(
                path,
                format!("a {other} column cannot have a range element type"),
            )),
            _ => Ok(()),
        }
    }
}

fn child_path(parent: &str, name: &str, index: usize) -> String {
    let name = if name.is_empty() {
        format!("[{index}]")
    } else {
        name.to_owned()
    };
    if parent.is_empty() {
        name
    } else {
        format!("{parent}.{name}")
    }
}

fn validate_fields(fields: &[FieldSchema], parent: &str, depth: usize) -> Result<(), SchemaError> {
    for (index, field) in fields.iter().enumerate() {
        let path = child_path(parent, &field.name, index);
        if fields[..index]
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(&field.name))
        {
            return Err(invalid(
                &path,
                "duplicate field name (names are case-insensitive)",
            ));
        }
        field.validate(&path, depth)?;
    }
    Ok(())
}

impl TableSchema {
    /// A schema of these columns.
    pub fn new(fields: Vec<FieldSchema>) -> Self {
        Self { fields }
    }

    /// The column named `name`, compared case-insensitively as BigQuery does.
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Checks the rules BigQuery enforces: non-empty names, unique
    /// (case-insensitively) among siblings; STRUCTs with at least one field,
    /// at most 15 levels deep; RANGEs of DATE, DATETIME or TIMESTAMP; no
    /// sub-fields or range element type on other types.
    pub fn validate(&self) -> Result<(), SchemaError> {
        validate_fields(&self.fields, "", 1)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> TableSchema {
        TableSchema::new(vec![
            FieldSchema::new("id", FieldType::Int64, Mode::Required).with_description("the key"),
            FieldSchema::new("tags", FieldType::String, Mode::Repeated),
            FieldSchema::structure(
                "address",
                Mode::Nullable,
                vec![
                    FieldSchema::new("zip", FieldType::String, Mode::Nullable),
                    FieldSchema::structure(
                        "geo",
                        Mode::Repeated,
                        vec![FieldSchema::new(
                            "point",
                            FieldType::Geography,
                            Mode::Required,
                        )],
                    ),
                ],
            ),
            FieldSchema::range("valid", Mode::Nullable, FieldType::Timestamp),
        ])
    }

    #[test]
    fn json_form() {
        let json = sample().to_json();
        assert_eq!(
            json,
            concat!(
                r#"[{"name":"id","type":"INT64","mode":"REQUIRED","description":"the key"},"#,
                r#"{"name":"tags","type":"STRING","mode":"REPEATED"},"#,
                r#"{"name":"address","type":"STRUCT","mode":"NULLABLE","fields":["#,
                r#"{"name":"zip","type":"STRING","mode":"NULLABLE"},"#,
                r#"{"name":"geo","type":"STRUCT","mode":"REPEATED","fields":["#,
                r#"{"name":"point","type":"GEOGRAPHY","mode":"REQUIRED"}]}]},"#,
                r#"{"name":"valid","type":"RANGE","mode":"NULLABLE","rangeElementType":{"type":"TIMESTAMP"}}]"#,
            )
        );
        assert_eq!(TableSchema::from_json(&json).unwrap(), sample());
        assert_eq!(
            TableSchema::from_json(&sample().to_json_pretty()).unwrap(),
            sample()
        );
        assert_eq!(
            TableSchema::from_json_value(&sample().to_json_value()).unwrap(),
            sample()
        );
    }

    #[test]
    fn legacy_and_lowercase_names() {
        let schema = TableSchema::from_json(
            r#"{"fields": [
                {"name": "a", "type": "INTEGER"},
                {"name": "b", "type": "float", "mode": "required"},
                {"name": "c", "type": "Boolean", "mode": null, "description": null},
                {"name": "d", "type": "RECORD", "mode": "REPEATED", "fields": [{"name": "e", "type": "bignumeric", "precision": "40", "scale": "2"}]},
                {"name": "f", "type": "range", "rangeElementType": {"type": "date"}},
                {"name": "g", "type": "STRING", "maxLength": "10", "policyTags": {"names": []}},
                {"name": "h", "type": "DECIMAL", "precision": "10", "scale": "2"},
                {"name": "i", "type": "bigdecimal"}
            ]}"#,
        )
        .unwrap();
        let expected = TableSchema::new(vec![
            FieldSchema::new("a", FieldType::Int64, Mode::Nullable),
            FieldSchema::new("b", FieldType::Float64, Mode::Required),
            FieldSchema::new("c", FieldType::Bool, Mode::Nullable),
            FieldSchema::structure(
                "d",
                Mode::Repeated,
                vec![FieldSchema::new("e", FieldType::BigNumeric, Mode::Nullable)],
            ),
            FieldSchema::range("f", Mode::Nullable, FieldType::Date),
            FieldSchema::new("g", FieldType::String, Mode::Nullable),
            FieldSchema::new("h", FieldType::Numeric, Mode::Nullable),
            FieldSchema::new("i", FieldType::BigNumeric, Mode::Nullable),
        ]);
        assert_eq!(schema, expected);
        assert_eq!(
            schema.field("D").unwrap().field("E").unwrap().field_type,
            FieldType::BigNumeric
        );
        assert!(schema.field("z").is_none());
    }

    #[test]
    fn json_errors_name_the_field() {
        let cases = [
            (
                r#"[{"name": "address", "type": "RECORD", "fields": [{"name": "zip", "type": "INTEGR"}]}]"#,
                r#"address.zip: unknown type "INTEGR""#,
            ),
            (
                r#"[{"name": "a", "type": "STRING", "mode": "OPTIONAL"}]"#,
                r#"a: unknown mode "OPTIONAL""#,
            ),
            (
                r#"[{"name": "a", "type": "STRING", "mdoe": "REQUIRED"}]"#,
                r#"a: unknown key "mdoe""#,
            ),
            (r#"[{"type": "STRING"}]"#, r#"[0]: missing "name""#),
            (r#"[{"name": "a"}]"#, r#"a: missing "type""#),
            (
                r#"[{"name": "a", "type": 5}]"#,
                r#"a: "type" must be a string"#,
            ),
            (
                r#"[{"name": "s", "type": "STRUCT"}]"#,
                "s: a STRUCT needs at least one field",
            ),
            (
                r#"[{"name": "s", "type": "INT64", "fields": [{"name": "x", "type": "INT64"}]}]"#,
                "s: a INT64 column cannot have sub-fields",
            ),
            (
                r#"[{"name": "r", "type": "RANGE"}]"#,
                "r: a RANGE needs a range element type",
            ),
            (
                r#"[{"name": "r", "type": "RANGE", "rangeElementType": {"type": "TIME"}}]"#,
                "r: RANGE<TIME> is not allowed: the element type must be DATE, DATETIME or TIMESTAMP",
            ),
            (
                r#"[{"name": "d", "type": "DATE", "rangeElementType": {"type": "DATE"}}]"#,
                "d: a DATE column cannot have a range element type",
            ),
            (
                r#"[{"name": "a", "type": "INT64"}, {"name": "A", "type": "STRING"}]"#,
                "A: duplicate field name (names are case-insensitive)",
            ),
            (
                r#"[{"name": "", "type": "INT64"}]"#,
                "[0]: empty field name",
            ),
            (r#"[1]"#, "[0]: a field must be a JSON object"),
        ];
        for (json, message) in cases {
            let err = TableSchema::from_json(json).unwrap_err();
            assert_eq!(err.to_string(), message, "{json}");
        }
        assert!(matches!(
            TableSchema::from_json("{"),
            Err(SchemaError::Json(_))
        ));
        assert!(matches!(
            TableSchema::from_json("{\"schema\": []}"),
            Err(SchemaError::Json(_))
        ));
        assert!(matches!(
            TableSchema::from_json("\"INT64\""),
            Err(SchemaError::Json(_))
        ));
    }

    #[test]
    fn nesting_limit() {
        let mut field = FieldSchema::new("leaf", FieldType::Int64, Mode::Nullable);
        for level in 0..MAX_NESTING_DEPTH {
            field = FieldSchema::structure(format!("s{level}"), Mode::Nullable, vec![field]);
        }
        // 15 STRUCT levels are fine; a 16th is not.
        assert!(TableSchema::new(vec![field.clone()]).validate().is_ok());
        let deeper = TableSchema::new(vec![FieldSchema::structure(
            "top",
            Mode::Nullable,
            vec![field],
        )]);
        let err = deeper.validate().unwrap_err();
        assert!(
            err.to_string().contains("deeper than BigQuery's 15 levels"),
            "{err}"
        );
    }

    #[test]
    fn type_and_mode_names() {
        for t in FieldType::ALL {
            assert_eq!(t.as_str().parse::<FieldType>().unwrap(), t);
            assert_eq!(t.as_str().to_lowercase().parse::<FieldType>().unwrap(), t);
            assert_eq!(FieldType::from_proto(t.to_proto()), Some(t));
            assert_eq!(
                t.to_proto().as_str_name().replace("DOUBLE", "FLOAT64"),
                t.as_str()
            );
        }
        assert_eq!(FieldType::from_proto(PbType::Unspecified), None);
        assert_eq!("integer".parse::<FieldType>().unwrap(), FieldType::Int64);
        assert_eq!(
            "INTEGR".parse::<FieldType>().unwrap_err().to_string(),
            r#"unknown type "INTEGR""#
        );
        for m in [Mode::Nullable, Mode::Required, Mode::Repeated] {
            assert_eq!(m.to_string().parse::<Mode>().unwrap(), m);
            assert_eq!(Mode::from_proto(m.to_proto()), m);
        }
        assert_eq!(Mode::from_proto(PbMode::Unspecified), Mode::Nullable);
        assert_eq!(Mode::default(), Mode::Nullable);
    }

    #[test]
    fn proto_form() {
        let proto = pb::TableSchema::from(sample());
        assert_eq!(proto.fields[0].r#type, PbType::Int64 as i32);
        assert_eq!(proto.fields[0].mode, PbMode::Required as i32);
        assert_eq!(proto.fields[0].description, "the key");
        assert_eq!(
            proto.fields[2].fields[1].fields[0].r#type,
            PbType::Geography as i32
        );
        assert_eq!(
            proto.fields[3].range_element_type,
            Some(FieldElementType {
                r#type: PbType::Timestamp as i32
            })
        );
        assert_eq!(TableSchema::try_from(&proto).unwrap(), sample());

        let mut bad = proto.clone();
        bad.fields[2].fields[0].r#type = 0;
        assert_eq!(
            TableSchema::try_from(&bad).unwrap_err().to_string(),
            "address.zip: type is TYPE_UNSPECIFIED"
        );
        let mut bad = proto.clone();
        bad.fields[1].mode = 9;
        assert_eq!(
            TableSchema::try_from(&bad).unwrap_err().to_string(),
            "tags: mode has unknown number 9"
        );
        let mut bad = proto.clone();
        bad.fields[3].range_element_type = Some(FieldElementType { r#type: 99 });
        assert_eq!(
            TableSchema::try_from(bad).unwrap_err().to_string(),
            "valid: range element type has unknown number 99"
        );
        let mut unspecified_mode = proto;
        unspecified_mode.fields[1].mode = 0;
        assert_eq!(
            TableSchema::try_from(&unspecified_mode).unwrap().fields[1].mode,
            Mode::Nullable
        );
    }

    fn any_scalar_type() -> impl Strategy<Value = FieldType> {
        proptest::sample::select(
            FieldType::ALL
                .iter()
                .copied()
                .filter(|t| !matches!(t, FieldType::Struct | FieldType::Range))
                .collect::<Vec<_>>(),
        )
    }

    fn any_mode() -> impl Strategy<Value = Mode> {
        prop_oneof![
            Just(Mode::Nullable),
            Just(Mode::Required),
            Just(Mode::Repeated)
        ]
    }

    fn any_leaf() -> impl Strategy<Value = FieldSchema> {
        let description = proptest::option::of("[ -~]{1,12}");
        prop_oneof![
            (
                any_scalar_type(),
                any_mode(),
                description.clone(),
                proptest::option::of("[ -~]{1,12}")
            )
                .prop_map(|(t, m, d, e)| FieldSchema {
                    description: d,
                    default_value_expression: e,
                    ..FieldSchema::new("f", t, m)
                }),
            (
                proptest::sample::select(vec![
                    FieldType::Date,
                    FieldType::DateTime,
                    FieldType::Timestamp
                ]),
                any_mode(),
                description,
            )
                .prop_map(|(t, m, d)| FieldSchema {
                    description: d,
                    ..FieldSchema::range("f", m, t)
                }),
        ]
    }

    /// Gives siblings distinct names, as BigQuery requires.
    fn renamed(mut fields: Vec<FieldSchema>) -> Vec<FieldSchema> {
        for (i, field) in fields.iter_mut().enumerate() {
            field.name = format!("{}_{i}", field.field_type.as_str().to_lowercase());
        }
        fields
    }

    fn any_field() -> impl Strategy<Value = FieldSchema> {
        any_leaf().prop_recursive(4, 32, 5, |inner| {
            (proptest::collection::vec(inner, 1..5), any_mode())
                .prop_map(|(fields, mode)| FieldSchema::structure("s", mode, renamed(fields)))
        })
    }

    proptest! {
        #[test]
        fn json_and_proto_round_trips(fields in proptest::collection::vec(any_field(), 0..6)) {
            let schema = TableSchema::new(renamed(fields));
            prop_assert!(schema.validate().is_ok());
            let from_json = TableSchema::from_json(&schema.to_json()).unwrap();
            prop_assert_eq!(&from_json, &schema);
            let proto = pb::TableSchema::from(&schema);
            let from_proto = TableSchema::try_from(&proto).unwrap();
            prop_assert_eq!(&from_proto, &schema);
            // JSON -> proto -> JSON is stable too.
            prop_assert_eq!(TableSchema::try_from(&pb::TableSchema::from(from_json)).unwrap().to_json(), schema.to_json());
        }
    }
}
