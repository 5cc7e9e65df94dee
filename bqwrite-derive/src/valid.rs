//! Rules across the columns of a row, one function per rule.

use std::collections::HashMap;

use syn::Error;

use crate::ast::Row;
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

/// Characters BigQuery's flexible column names exclude (besides control
/// characters). Any other character is left for BigQuery to judge.
const FORBIDDEN_CHARS: &str = "!\"$()*,./;?@[\\]^`{}~";

/// A name that is not a proto identifier still works (the descriptor carries
/// it in the `column_name` option), as long as BigQuery takes it as a
/// flexible column name.
fn check_column_names(cx: &Ctxt, row: &Row<'_>) {
    for field in &row.fields {
        let len = field.column.chars().count();
        if field.column.is_empty() {
            cx.syn_error(Error::new(field.column_span, "column name is empty"));
        } else if let Some(c) = field
            .column
            .chars()
            .find(|c| FORBIDDEN_CHARS.contains(*c) || c.is_control())
        {
            let nested = if c == '.' {
                "; a `.` does not reach into a STRUCT column: make the field a struct that derives `BqRow`"
            } else {
                ""
            };
            cx.syn_error(Error::new(
                field.column_span,
                format!(
                    "column name `{}` contains {}, which BigQuery does not allow in column names (nor any of {FORBIDDEN_CHARS} or control characters); {}{nested}",
                    field.column.escape_debug(),
                    describe(c),
                    fix(field),
                ),
            ));
        } else if len > MAX_COLUMN_NAME_LEN {
            cx.syn_error(Error::new(
                field.column_span,
                format!(
                    "column name `{}` is {len} characters long; BigQuery allows at most {MAX_COLUMN_NAME_LEN}",
                    field.column,
                ),
            ));
        }
    }
}

/// How to change a rejected name: pick another in the `rename` already
/// there, or add one.
fn fix(field: &crate::ast::Field<'_>) -> &'static str {
    if field.renamed {
        "choose another name in `rename`"
    } else {
        "give the column another name with `#[bq(rename = \"...\")]`"
    }
}

/// `c` for an error message: quoted, or its code point when invisible.
fn describe(c: char) -> String {
    if c.is_control() {
        format!("the control character U+{:04X}", u32::from(c))
    } else {
        format!("`{c}`")
    }
}

fn check_reserved_prefixes(cx: &Ctxt, row: &Row<'_>) {
    for field in &row.fields {
        let upper = field.column.to_ascii_uppercase();
        if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| upper.starts_with(**p)) {
            cx.syn_error(Error::new(
                field.column_span,
                format!(
                    "column name `{}` starts with `{prefix}`, a prefix BigQuery reserves; {}",
                    field.column,
                    fix(field),
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
