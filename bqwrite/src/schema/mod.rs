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

mod json;
mod proto;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use crate::proto::storage::table_field_schema::{Mode as PbMode, Type as PbType};

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
}
