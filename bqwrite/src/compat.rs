//! Can a row type write to a table? The check a writer runs before its first
//! row is sent.

use crate::error::SchemaMismatch;
use crate::schema::{FieldSchema, FieldType, Mode, TableSchema};

/// Every reason the rows described by `row` cannot be written to `table`.
pub(crate) fn check(row: &TableSchema, table: &TableSchema) -> Vec<SchemaMismatch> {
    let mut mismatches = Vec::new();
    check_fields(&row.fields, &table.fields, "", &mut mismatches);
    mismatches
}

fn check_fields(
    row: &[FieldSchema],
    table: &[FieldSchema],
    prefix: &str,
    out: &mut Vec<SchemaMismatch>,
) {
    for field in row {
        let path = format!("{prefix}{}", field.name);
        match table
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&field.name))
        {
            None => out.push(SchemaMismatch::MissingColumn { field: path }),
            Some(column) => check_field(field, column, &path, out),
        }
    }
    for column in table {
        if column.mode == Mode::Required
            && !row
                .iter()
                .any(|f| f.name.eq_ignore_ascii_case(&column.name))
        {
            out.push(SchemaMismatch::MissingRequiredField {
                column: format!("{prefix}{}", column.name),
            });
        }
    }
}

fn check_field(
    field: &FieldSchema,
    column: &FieldSchema,
    path: &str,
    out: &mut Vec<SchemaMismatch>,
) {
    let field_repeated = field.mode == Mode::Repeated;
    if field_repeated != (column.mode == Mode::Repeated) {
        out.push(SchemaMismatch::RepeatedMismatch {
            column: path.to_owned(),
            field_repeated,
        });
        return;
    }
    if field.mode == Mode::Nullable && column.mode == Mode::Required {
        out.push(SchemaMismatch::NullableIntoRequired {
            column: path.to_owned(),
        });
    }
    if !writable(field, column) {
        out.push(SchemaMismatch::TypeMismatch {
            column: path.to_owned(),
            field_type: type_name(field),
            column_type: type_name(column),
        });
        return;
    }
    if field.field_type == FieldType::Struct {
        check_fields(&field.fields, &column.fields, &format!("{path}."), out);
    }
}

/// Whether the wire form the row type sends for `field` is accepted for `column`.
///
/// Exact types always are. A STRING field also writes the columns that take
/// text (JSON, GEOGRAPHY, and the text forms of the other types); nothing else
/// is widened, so that, say, NUMERIC bytes (scale 9) never land in a
/// BIGNUMERIC column (scale 38).
fn writable(field: &FieldSchema, column: &FieldSchema) -> bool {
    use FieldType as T;
    match (field.field_type, column.field_type) {
        (T::Range, T::Range) => field.range_element_type == column.range_element_type,
        (a, b) if a == b => true,
        (T::String, T::Json | T::Geography) => true,
        _ => false,
    }
}

fn type_name(field: &FieldSchema) -> String {
    match (field.field_type, field.range_element_type) {
        (FieldType::Range, Some(element)) => format!("RANGE<{element:?}>").to_uppercase(),
        (ty, _) => format!("{ty:?}").to_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: Vec<FieldSchema>) -> TableSchema {
        TableSchema { fields }
    }

    #[test]
    fn identical_schemas_match() {
        let s = schema(vec![
            FieldSchema::new("row_num", FieldType::Int64, Mode::Required),
            FieldSchema::new("customer_name", FieldType::String, Mode::Nullable),
        ]);
        assert!(check(&s, &s).is_empty());
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
        let found = check(&row, &table);
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
        assert!(check(&row, &table).is_empty());
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
        assert_eq!(check(&row, &table).len(), 1);
        assert!(check(&row, &row).is_empty());
    }
}
