//! `#[bq(schema = "path.json")]`: the table schema file, read when the
//! struct compiles, and every mismatch with the struct as a compile error on
//! the field. The rules are `bqwrite_schema::check`, the ones the writer
//! applies at run time.
//!
//! The macro sees names, modes (`Option`, `Vec`, `&[T]`) and `type = "..."`
//! overrides in the source; those are checked here. The type of any other
//! field is known only to the compiler: for each such field the generated
//! code holds a `const` that compares `<T as BqField>::__BQ_TYPE` with the
//! column's type and, for a STRUCT column, `<T as BqField>::__BQ_COLUMNS`
//! with its sub-columns (`bqwrite_schema::nested`, the same rules as
//! `const fn`s; see `codegen::schema_consts`). A RANGE's element type is
//! not checked at compile time; the writer checks it before its first row.

use std::path::PathBuf;

use bqwrite_schema::{Column, Mismatch, Mode as RuleMode, Type, find};
use proc_macro2::Span;
use syn::LitStr;

use crate::ast::{Field, Mode, Row};
use crate::attr::Kind;
use crate::ctxt::Ctxt;

/// The schema file of a row, read and parsed.
pub(crate) struct SchemaFile {
    /// The absolute path, for `include_bytes!`.
    pub(crate) path: String,
    /// The path as written in the attribute.
    pub(crate) shown: String,
    pub(crate) columns: Vec<Column>,
}

/// Reads the file named by `#[bq(schema = "...")]`, if any, and records a
/// spanned error for every mismatch the source shows.
pub(crate) fn check(cx: &Ctxt, row: &Row<'_>) -> Option<SchemaFile> {
    let lit = row.schema.as_ref()?;
    let file = load(cx, lit)?;
    let fields: Vec<Column> = row.fields.iter().map(|f| column(row, f)).collect();
    for mismatch in bqwrite_schema::check(&fields, &file.columns) {
        let span = span_of(row, lit, &mismatch);
        let mismatch = mismatch.to_string().replace("the table", "the schema file");
        cx.syn_error(syn::Error::new(
            span,
            format!("{mismatch} (`{}`)", file.shown),
        ));
    }
    Some(file)
}

fn load(cx: &Ctxt, lit: &LitStr) -> Option<SchemaFile> {
    let shown = lit.value();
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else {
        cx.error_spanned_by(lit, "`schema` needs CARGO_MANIFEST_DIR (build with cargo)");
        return None;
    };
    let path = PathBuf::from(dir).join(&shown);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) => {
            cx.error_spanned_by(
                lit,
                format!(
                    "cannot read the schema file `{}`: {err} (the path is relative to the crate's Cargo.toml)",
                    path.display()
                ),
            );
            return None;
        }
    };
    match bqwrite_schema::parse_json(&text) {
        Ok(columns) => Some(SchemaFile {
            path: path.display().to_string(),
            shown,
            columns,
        }),
        Err(err) => {
            cx.error_spanned_by(
                lit,
                format!("`{shown}` is not a BigQuery JSON schema: {err}"),
            );
            None
        }
    }
}

/// What the source says about a field: its name, its mode, and its type
/// when a `type = "..."` override names it.
fn column(row: &Row<'_>, field: &Field<'_>) -> Column {
    let mode = match field.mode {
        Mode::Required => RuleMode::Required,
        Mode::Nullable => RuleMode::Nullable,
        Mode::Repeated => RuleMode::Repeated,
    };
    let ty = if field.with.is_some() {
        None
    } else {
        field.kind.map(kind_type)
    };
    let asks_default = field.default || (row.missing_default && field.mode == Mode::Nullable);
    Column::new(field.column.clone(), ty, mode).with_default(asks_default)
}

pub(crate) fn kind_type(kind: Kind) -> Type {
    match kind {
        Kind::String => Type::String,
        Kind::Int64 => Type::Int64,
        Kind::Float64 => Type::Float64,
        Kind::Bool => Type::Bool,
        Kind::Bytes => Type::Bytes,
        Kind::Numeric => Type::Numeric,
        Kind::BigNumeric => Type::BigNumeric,
        Kind::Date => Type::Date,
        Kind::DateTime => Type::DateTime,
        Kind::Time => Type::Time,
        Kind::Timestamp => Type::Timestamp,
        Kind::Geography => Type::Geography,
        Kind::Json => Type::Json,
        Kind::Interval => Type::Interval,
    }
}

/// Where to report a mismatch: the field's name for a missing column, its
/// type for mode and type mismatches, the attribute for a REQUIRED column
/// the struct does not write.
fn span_of(row: &Row<'_>, lit: &LitStr, mismatch: &Mismatch) -> Span {
    let field = row
        .fields
        .iter()
        .find(|field| field.column.eq_ignore_ascii_case(mismatch.path()));
    match (mismatch, field) {
        (Mismatch::MissingRequiredField { .. }, _) | (_, None) => lit.span(),
        (Mismatch::MissingColumn { .. }, Some(field)) => field.column_span,
        (_, Some(field)) => field.elem_span(),
    }
}

impl SchemaFile {
    /// The column of `field`, when its type is left to the compiler.
    pub(crate) fn unchecked_column(&self, field: &Field<'_>) -> Option<&Column> {
        if field.kind.is_some() {
            return None;
        }
        find(&self.columns, &field.column)
    }
}
