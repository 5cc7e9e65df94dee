//! Can a row type write to a table? The check a writer runs before its first
//! row is sent. The rules are `bqwrite_schema`'s, the same ones
//! `#[bq(schema = "...")]` applies at compile time.

use bqwrite_schema::Column;

use crate::error::SchemaMismatch;
use crate::schema::{FieldSchema, FieldType, Mode, TableSchema};

/// Every reason the rows described by `row` cannot be written to `table`.
/// `asks_default(column, nullable)` says whether the row asks for a top-level
/// column's default when its value is absent.
pub(crate) fn check(
    row: &TableSchema,
    asks_default: impl Fn(&str, bool) -> bool,
    table: &TableSchema,
) -> Vec<SchemaMismatch> {
    let mut row_columns = columns(&row.fields);
    for column in &mut row_columns {
        column.has_default =
            asks_default(&column.name, column.mode == bqwrite_schema::Mode::Nullable);
    }
    bqwrite_schema::check(&row_columns, &columns(&table.fields))
}

fn columns(fields: &[FieldSchema]) -> Vec<Column> {
    fields
        .iter()
        .map(|field| Column {
            name: field.name.clone(),
            ty: Some(rule_type(field.field_type)),
            mode: rule_mode(field.mode),
            range_element: field.range_element_type.map(rule_type),
            fields: columns(&field.fields),
            has_default: field.default_value_expression.is_some(),
        })
        .collect()
}

/// The same type in `bqwrite_schema`'s terms.
pub(crate) const fn rule_type(ty: FieldType) -> bqwrite_schema::Type {
    use bqwrite_schema::Type as T;
    match ty {
        FieldType::String => T::String,
        FieldType::Int64 => T::Int64,
        FieldType::Float64 => T::Float64,
        FieldType::Bool => T::Bool,
        FieldType::Bytes => T::Bytes,
        FieldType::Numeric => T::Numeric,
        FieldType::BigNumeric => T::BigNumeric,
        FieldType::Date => T::Date,
        FieldType::DateTime => T::DateTime,
        FieldType::Time => T::Time,
        FieldType::Timestamp => T::Timestamp,
        FieldType::Geography => T::Geography,
        FieldType::Json => T::Json,
        FieldType::Interval => T::Interval,
        FieldType::Range => T::Range,
        FieldType::Struct => T::Struct,
    }
}

/// The same type in `bqwrite`'s terms.
pub(crate) const fn from_rule_type(ty: bqwrite_schema::Type) -> FieldType {
    use bqwrite_schema::Type as T;
    match ty {
        T::String => FieldType::String,
        T::Int64 => FieldType::Int64,
        T::Float64 => FieldType::Float64,
        T::Bool => FieldType::Bool,
        T::Bytes => FieldType::Bytes,
        T::Numeric => FieldType::Numeric,
        T::BigNumeric => FieldType::BigNumeric,
        T::Date => FieldType::Date,
        T::DateTime => FieldType::DateTime,
        T::Time => FieldType::Time,
        T::Timestamp => FieldType::Timestamp,
        T::Geography => FieldType::Geography,
        T::Json => FieldType::Json,
        T::Interval => FieldType::Interval,
        T::Range => FieldType::Range,
        T::Struct => FieldType::Struct,
    }
}

fn rule_mode(mode: Mode) -> bqwrite_schema::Mode {
    match mode {
        Mode::Nullable => bqwrite_schema::Mode::Nullable,
        Mode::Required => bqwrite_schema::Mode::Required,
        Mode::Repeated => bqwrite_schema::Mode::Repeated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: Vec<FieldSchema>) -> TableSchema {
        TableSchema { fields }
    }

    fn no_defaults(_: &str, _: bool) -> bool {
        false
    }

    #[test]
    fn required_columns_with_defaults() {
        let row = schema(vec![
            FieldSchema::new("id", FieldType::Int64, Mode::Required),
            FieldSchema::new("status", FieldType::String, Mode::Nullable),
        ]);
        let table = schema(vec![
            FieldSchema::new("id", FieldType::Int64, Mode::Required),
            FieldSchema::new("status", FieldType::String, Mode::Required)
                .with_default_value("'new'"),
            FieldSchema::new("at", FieldType::Timestamp, Mode::Required)
                .with_default_value("CURRENT_TIMESTAMP()"),
        ]);
        let text = |found: Vec<SchemaMismatch>| -> Vec<String> {
            found.iter().map(ToString::to_string).collect()
        };
        // `at` may be left out; `status` is optional and asks for no default
        assert_eq!(
            text(check(&row, no_defaults, &table)),
            ["column `status` is REQUIRED but the struct's field is optional"]
        );
        assert!(check(&row, |c, _| c == "status", &table).is_empty());
    }

    #[test]
    fn identical_schemas_match() {
        let s = schema(vec![
            FieldSchema::new("row_num", FieldType::Int64, Mode::Required),
            FieldSchema::new("customer_name", FieldType::String, Mode::Nullable),
        ]);
        assert!(check(&s, no_defaults, &s).is_empty());
    }

    #[test]
    fn every_mismatch_is_listed() {
        let row = schema(vec![
            FieldSchema::new("ROW_NUM", FieldType::String, Mode::Nullable),
            FieldSchema::new("extra", FieldType::Int64, Mode::Nullable),
            FieldSchema::new("tags", FieldType::String, Mode::Nullable),
            FieldSchema::structure(
                "address",
                Mode::Nullable,
                vec![FieldSchema::new("zip", FieldType::Int64, Mode::Nullable)],
            ),
            FieldSchema::new("amount", FieldType::Numeric, Mode::Nullable),
        ]);
        let table = schema(vec![
            FieldSchema::new("row_num", FieldType::Int64, Mode::Required),
            FieldSchema::new("must", FieldType::Bool, Mode::Required),
            FieldSchema::new("tags", FieldType::String, Mode::Repeated),
            FieldSchema::structure(
                "address",
                Mode::Nullable,
                vec![FieldSchema::new("zip", FieldType::String, Mode::Nullable)],
            ),
            FieldSchema::new("amount", FieldType::BigNumeric, Mode::Nullable),
        ]);
        let found = check(&row, no_defaults, &table);
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "column `ROW_NUM` is REQUIRED but the struct's field is optional",
                "column `ROW_NUM` is INT64, the struct writes STRING",
                "field `extra` has no column in the table",
                "column `tags` is REPEATED but the struct's field is not a Vec",
                "column `address.zip` is STRING, the struct writes INT64",
                "column `amount` is BIGNUMERIC, the struct writes NUMERIC",
                "REQUIRED column `must` has no field in the struct",
            ]
        );
    }

    #[test]
    fn strings_write_json_and_geography_and_required_writes_nullable() {
        let row = schema(vec![
            FieldSchema::new("doc", FieldType::String, Mode::Required),
            FieldSchema::new("place", FieldType::String, Mode::Nullable),
        ]);
        let table = schema(vec![
            FieldSchema::new("doc", FieldType::Json, Mode::Nullable),
            FieldSchema::new("place", FieldType::Geography, Mode::Nullable),
            FieldSchema::new("optional_extra", FieldType::Int64, Mode::Nullable),
        ]);
        assert!(check(&row, no_defaults, &table).is_empty());
    }

    #[test]
    fn range_element_types_must_agree() {
        let row = schema(vec![FieldSchema::range(
            "r",
            Mode::Nullable,
            FieldType::Date,
        )]);
        let table = schema(vec![FieldSchema::range(
            "r",
            Mode::Nullable,
            FieldType::Timestamp,
        )]);
        assert_eq!(check(&row, no_defaults, &table).len(), 1);
        assert!(check(&row, no_defaults, &row).is_empty());
    }
}
