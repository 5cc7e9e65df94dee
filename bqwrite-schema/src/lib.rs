//! Which rows can write to which BigQuery table: the one set of rules that
//! bqwrite's runtime check (before a writer sends its first row), the
//! `#[bq(schema = "...")]` compile-time check of `#[derive(BqRow)]` and the
//! `bqwrite struct` generator all use.
//!
//! It lives in its own crate because a proc-macro crate cannot depend on
//! the library whose items it generates code for: `bqwrite-derive` and
//! `bqwrite` both depend on this crate instead, so the rules exist once.
//! It knows nothing of Rust types: a row is described by [`Column`]s, with
//! the type left out ([`None`]) where the caller cannot tell it.
//!
//! ```
//! use bqwrite_schema::{Column, Mode, Type, check, parse_json};
//!
//! let table = parse_json(r#"[
//!     {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
//!     {"name": "doc", "type": "JSON"}
//! ]"#)?;
//! let row = [
//!     Column::new("id", Some(Type::Int64), Mode::Nullable),
//!     Column::new("doc", Some(Type::String), Mode::Nullable),
//! ];
//! let found: Vec<String> = check(&row, &table).iter().map(ToString::to_string).collect();
//! assert_eq!(found, ["column `id` is REQUIRED but the struct's field is optional"]);
//! # Ok::<(), bqwrite_schema::JsonError>(())
//! ```

mod json;
pub mod nested;

pub use json::{JsonError, parse_json};

use std::fmt;

/// A BigQuery column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// STRING.
    String,
    /// INT64 (INTEGER).
    Int64,
    /// FLOAT64 (FLOAT).
    Float64,
    /// BOOL (BOOLEAN).
    Bool,
    /// BYTES.
    Bytes,
    /// NUMERIC (DECIMAL).
    Numeric,
    /// BIGNUMERIC (BIGDECIMAL).
    BigNumeric,
    /// DATE.
    Date,
    /// DATETIME.
    DateTime,
    /// TIME.
    Time,
    /// TIMESTAMP.
    Timestamp,
    /// GEOGRAPHY.
    Geography,
    /// JSON.
    Json,
    /// INTERVAL.
    Interval,
    /// RANGE.
    Range,
    /// STRUCT (RECORD).
    Struct,
}

impl Type {
    /// Every type, in the order above.
    pub const ALL: [Type; 16] = [
        Type::String,
        Type::Int64,
        Type::Float64,
        Type::Bool,
        Type::Bytes,
        Type::Numeric,
        Type::BigNumeric,
        Type::Date,
        Type::DateTime,
        Type::Time,
        Type::Timestamp,
        Type::Geography,
        Type::Json,
        Type::Interval,
        Type::Range,
        Type::Struct,
    ];

    /// The standard SQL name: `INT64`, `STRUCT`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Type::String => "STRING",
            Type::Int64 => "INT64",
            Type::Float64 => "FLOAT64",
            Type::Bool => "BOOL",
            Type::Bytes => "BYTES",
            Type::Numeric => "NUMERIC",
            Type::BigNumeric => "BIGNUMERIC",
            Type::Date => "DATE",
            Type::DateTime => "DATETIME",
            Type::Time => "TIME",
            Type::Timestamp => "TIMESTAMP",
            Type::Geography => "GEOGRAPHY",
            Type::Json => "JSON",
            Type::Interval => "INTERVAL",
            Type::Range => "RANGE",
            Type::Struct => "STRUCT",
        }
    }

    /// Parses a type name as BigQuery writes it, legacy names included,
    /// ignoring case.
    pub fn parse(name: &str) -> Option<Type> {
        let upper = name.to_ascii_uppercase();
        let ty = match upper.as_str() {
            "INTEGER" => Type::Int64,
            "FLOAT" => Type::Float64,
            "BOOLEAN" => Type::Bool,
            "DECIMAL" => Type::Numeric,
            "BIGDECIMAL" => Type::BigNumeric,
            "RECORD" => Type::Struct,
            _ => return Type::ALL.into_iter().find(|ty| ty.name() == upper),
        };
        Some(ty)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a column holds values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// NULLABLE (the default).
    #[default]
    Nullable,
    /// REQUIRED.
    Required,
    /// REPEATED.
    Repeated,
}

impl Mode {
    /// NULLABLE, REQUIRED or REPEATED.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Nullable => "NULLABLE",
            Mode::Required => "REQUIRED",
            Mode::Repeated => "REPEATED",
        }
    }
}

/// One column of a table, or one field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The name (compared case-insensitively, as BigQuery does).
    pub name: String,
    /// The type; `None` on the row side when the caller cannot tell it (the
    /// check then compares names and modes only, and the caller checks the
    /// type in its own way).
    pub ty: Option<Type>,
    /// The mode.
    pub mode: Mode,
    /// The element type of a RANGE.
    pub range_element: Option<Type>,
    /// The sub-columns of a STRUCT.
    pub fields: Vec<Column>,
    /// On the table side: the column has a default value expression. On the
    /// row side: the row asks for the column's default when it has no value
    /// (`#[bq(default)]`). A REQUIRED column with a default may be left out
    /// of the row, and written by an optional field that asks for it.
    pub has_default: bool,
}

impl Column {
    /// A column without sub-columns.
    pub fn new(name: impl Into<String>, ty: Option<Type>, mode: Mode) -> Column {
        Column {
            name: name.into(),
            ty,
            mode,
            range_element: None,
            fields: Vec::new(),
            has_default: false,
        }
    }

    /// The same column with [`has_default`](Column::has_default) set.
    #[must_use]
    pub fn with_default(mut self, has_default: bool) -> Column {
        self.has_default = has_default;
        self
    }
}

/// One reason rows cannot be written to a table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// The table has no column for this field.
    MissingColumn {
        /// The field path (`address.zip` for nested fields).
        field: String,
    },
    /// The table's REQUIRED column has no field in the row.
    MissingRequiredField {
        /// The column path.
        column: String,
    },
    /// The field's type cannot be written to the column's type.
    TypeMismatch {
        /// The column path.
        column: String,
        /// The type the row writes.
        field_type: String,
        /// The column's type.
        column_type: String,
    },
    /// The column is REQUIRED but the field may be NULL.
    NullableIntoRequired {
        /// The column path.
        column: String,
    },
    /// One side is REPEATED and the other is not.
    RepeatedMismatch {
        /// The column path.
        column: String,
        /// Whether the row's field is repeated.
        field_repeated: bool,
    },
}

impl Mismatch {
    /// The path of the field or column the mismatch is about.
    pub fn path(&self) -> &str {
        match self {
            Mismatch::MissingColumn { field } => field,
            Mismatch::MissingRequiredField { column }
            | Mismatch::TypeMismatch { column, .. }
            | Mismatch::NullableIntoRequired { column }
            | Mismatch::RepeatedMismatch { column, .. } => column,
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingColumn { field } => {
                write!(f, "field `{field}` has no column in the table")
            }
            Self::MissingRequiredField { column } => {
                write!(f, "REQUIRED column `{column}` has no field in the struct")
            }
            Self::TypeMismatch {
                column,
                field_type,
                column_type,
            } => write!(
                f,
                "column `{column}` is {column_type}, the struct writes {field_type}"
            ),
            Self::NullableIntoRequired { column } => write!(
                f,
                "column `{column}` is REQUIRED but the struct's field is optional"
            ),
            Self::RepeatedMismatch {
                column,
                field_repeated: true,
            } => write!(
                f,
                "column `{column}` is not REPEATED but the struct's field is a Vec"
            ),
            Self::RepeatedMismatch {
                column,
                field_repeated: false,
            } => write!(
                f,
                "column `{column}` is REPEATED but the struct's field is not a Vec"
            ),
        }
    }
}

/// Every reason the rows described by `row` cannot be written to `table`:
/// fields without a column, REQUIRED columns without a field, mode and type
/// mismatches, in STRUCTs too.
pub fn check(row: &[Column], table: &[Column]) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    check_fields(row, table, "", &mut mismatches);
    mismatches
}

fn check_fields(row: &[Column], table: &[Column], prefix: &str, out: &mut Vec<Mismatch>) {
    for field in row {
        let path = format!("{prefix}{}", field.name);
        match find(table, &field.name) {
            None => out.push(Mismatch::MissingColumn { field: path }),
            Some(column) => check_field(field, column, &path, out),
        }
    }
    for column in table {
        // BigQuery writes the default of a column the row leaves out (the
        // writer asks for it), so only a REQUIRED column without one needs a field
        if column.mode == Mode::Required && !column.has_default && find(row, &column.name).is_none()
        {
            out.push(Mismatch::MissingRequiredField {
                column: format!("{prefix}{}", column.name),
            });
        }
    }
}

/// The column named `name`, ignoring case.
pub fn find<'a>(columns: &'a [Column], name: &str) -> Option<&'a Column> {
    columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

fn check_field(field: &Column, column: &Column, path: &str, out: &mut Vec<Mismatch>) {
    let field_repeated = field.mode == Mode::Repeated;
    if field_repeated != (column.mode == Mode::Repeated) {
        out.push(Mismatch::RepeatedMismatch {
            column: path.to_owned(),
            field_repeated,
        });
        return;
    }
    let defaulted = field.has_default && column.has_default;
    if field.mode == Mode::Nullable && column.mode == Mode::Required && !defaulted {
        out.push(Mismatch::NullableIntoRequired {
            column: path.to_owned(),
        });
    }
    let (Some(field_type), Some(column_type)) = (field.ty, column.ty) else {
        return;
    };
    let same_element = field.range_element == column.range_element;
    if !writable(field_type, column_type) || (field_type == Type::Range && !same_element) {
        out.push(Mismatch::TypeMismatch {
            column: path.to_owned(),
            field_type: type_name(field_type, field.range_element),
            column_type: type_name(column_type, column.range_element),
        });
        return;
    }
    if field_type == Type::Struct {
        check_fields(&field.fields, &column.fields, &format!("{path}."), out);
    }
}

/// Whether what a row writes for a `field` column is accepted by a `column`
/// column (RANGE element types aside).
///
/// Exact types always are. STRING also writes the columns that take text
/// (JSON, GEOGRAPHY); nothing else is widened, so that, say, NUMERIC bytes
/// (scale 9) never land in a BIGNUMERIC column (scale 38). A `const fn`, so
/// generated code can evaluate it at compile time.
pub const fn writable(field: Type, column: Type) -> bool {
    field as u8 == column as u8
        || matches!(
            (field, column),
            (Type::String, Type::Json | Type::Geography)
        )
}

fn type_name(ty: Type, element: Option<Type>) -> String {
    match (ty, element) {
        (Type::Range, Some(element)) => format!("RANGE<{element}>"),
        (ty, _) => ty.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(row: &[Column], table: &[Column]) -> Vec<String> {
        check(row, table).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_required_column_with_a_default_may_be_left_out() {
        let table = [
            Column::new("id", Some(Type::Int64), Mode::Required),
            Column::new("created", Some(Type::Timestamp), Mode::Required).with_default(true),
            Column::new("must", Some(Type::Bool), Mode::Required),
        ];
        let row = [Column::new("id", Some(Type::Int64), Mode::Required)];
        assert_eq!(
            texts(&row, &table),
            ["REQUIRED column `must` has no field in the struct"]
        );
    }

    #[test]
    fn an_optional_field_writes_a_required_column_only_when_both_have_defaults() {
        let table = [Column::new("n", Some(Type::Int64), Mode::Required).with_default(true)];
        let plain = [Column::new("n", Some(Type::Int64), Mode::Nullable)];
        assert_eq!(
            texts(&plain, &table),
            ["column `n` is REQUIRED but the struct's field is optional"]
        );
        let asks = [Column::new("n", Some(Type::Int64), Mode::Nullable).with_default(true)];
        assert!(texts(&asks, &table).is_empty());
        let no_default = [Column::new("n", Some(Type::Int64), Mode::Required)];
        assert_eq!(
            texts(&asks, &no_default),
            ["column `n` is REQUIRED but the struct's field is optional"]
        );
    }
}
