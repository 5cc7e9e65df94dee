//! Rules across the columns of a row, one function per rule.

use std::collections::HashMap;

use syn::Error;

use crate::ast::{Row, is_proto_identifier};
use crate::ctxt::Ctxt;

/// BigQuery's limit on the length of a column name.
const MAX_COLUMN_NAME_LEN: usize = 300;
/// BigQuery's limit on the number of columns of a table.
const MAX_COLUMNS: usize = 10_000;
/// Column name prefixes BigQuery reserves (compared case-insensitively).
const RESERVED_PREFIXES: &[&str] = &[
    "_TABLE_",
    "_FILE_",
    "_PARTITION",
    "_ROW_TIMESTAMP",
    "__ROOT__",
    "_COLIDENTIFIER",
    "_CHANGE_SEQUENCE_NUMBER",
    "_CHANGE_TYPE",
];

/// Runs every rule, recording failures in `cx`.
pub(crate) fn check(cx: &Ctxt, row: &Row<'_>) {
    check_not_empty(cx, row);
    check_column_count(cx, row);
    check_column_names(cx, row);
    check_reserved_prefixes(cx, row);
    check_duplicate_columns(cx, row);
}

fn check_not_empty(cx: &Ctxt, row: &Row<'_>) {
    if !row.declares_columns {
        cx.error_spanned_by(
            row.ident,
            "a `BqRow` struct needs at least one column (a field that is not `#[bq(skip)]`)",
        );
    }
}

fn check_column_count(cx: &Ctxt, row: &Row<'_>) {
    if row.fields.len() > MAX_COLUMNS {
        cx.error_spanned_by(
            row.ident,
            format!(
                "`{}` has {} columns; BigQuery allows at most {MAX_COLUMNS}",
                row.ident,
                row.fields.len()
            ),
        );
    }
}

/// Column names double as proto field names, which must be identifiers. The
/// Storage Write API's `column_name` field option would lift this, but
/// `prost_types::FieldOptions` cannot carry that extension.
fn check_column_names(cx: &Ctxt, row: &Row<'_>) {
    for field in &row.fields {
        if field.column.is_empty() {
            cx.syn_error(Error::new(field.column_span, "column name is empty"));
        } else if !is_proto_identifier(&field.column) {
            cx.syn_error(Error::new(
                field.column_span,
                format!(
                    "column name `{}` is not supported: bqwrite writes column names as proto field names, which must be ASCII letters, digits and `_`, not starting with a digit; use `#[bq(rename = \"...\")]` with such a name",
                    field.column
                ),
            ));
        } else if field.column.len() > MAX_COLUMN_NAME_LEN {
            cx.syn_error(Error::new(
                field.column_span,
                format!(
                    "column name `{}` is {} characters long; BigQuery allows at most {MAX_COLUMN_NAME_LEN}",
                    field.column,
                    field.column.len()
                ),
            ));
        }
    }
}

fn check_reserved_prefixes(cx: &Ctxt, row: &Row<'_>) {
    for field in &row.fields {
        let upper = field.column.to_ascii_uppercase();
        if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| upper.starts_with(**p)) {
            cx.syn_error(Error::new(
                field.column_span,
                format!(
                    "column name `{}` starts with `{prefix}`, a prefix BigQuery reserves; use `#[bq(rename = \"...\")]`",
                    field.column
                ),
            ));
        }
    }
}

/// BigQuery column names are case-insensitive, so `id` and `ID` collide.
fn check_duplicate_columns(cx: &Ctxt, row: &Row<'_>) {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for field in &row.fields {
        let key = field.column.to_ascii_lowercase();
        if let Some(first) = seen.get(&key) {
            cx.syn_error(Error::new(
                field.column_span,
                format!(
                    "duplicate column name `{}` (column names are case-insensitive; `{first}` is already a column of `{}`)",
                    field.column, row.ident
                ),
            ));
        } else {
            seen.insert(key, &field.column);
        }
    }
}
