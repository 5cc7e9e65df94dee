//! The code behind the `bqwrite` command: a `#[derive(BqRow)]` struct (and
//! one struct per STRUCT column) from a BigQuery JSON schema, carrying
//! `#[bq(schema = "...")]` so the compiler checks it against the same file.
//!
//! ```
//! let code = bqwrite_cli::generate(
//!     r#"[{"name": "row_num", "type": "INTEGER", "mode": "REQUIRED"},
//!         {"name": "Customer Name", "type": "STRING"}]"#,
//!     "CustomerRecord",
//!     "schemas/customer_records.json",
//! )?;
//! assert!(code.contains("pub row_num: i64,"));
//! assert!(code.contains("#[bq(rename = \"Customer Name\")]\n    pub customer_name: Option<String>,"));
//! # Ok::<(), bqwrite_schema::JsonError>(())
//! ```
//!
//! A top-level column with a default value expression becomes an
//! `Option<T>` field with `#[bq(default)]`, REQUIRED or not: `None` asks
//! BigQuery for the column's default.

use std::fmt::Write as _;

use bqwrite_schema::{Column, JsonError, Mode, Type, parse_json};

/// The Rust source of the structs for the schema `json`: the row struct
/// `name` first, with `#[bq(schema = "schema_attr")]`, then one struct per
/// STRUCT column, named after the path to it.
///
/// # Errors
/// `json` is not a BigQuery JSON schema.
pub fn generate(json: &str, name: &str, schema_attr: &str) -> Result<String, JsonError> {
    let columns = parse_json(json)?;
    let mut out = String::new();
    let mut names = vec![name.to_owned()];
    write_struct(&mut out, name, &columns, Some(schema_attr), &mut names);
    Ok(out)
}

fn write_struct(
    out: &mut String,
    name: &str,
    columns: &[Column],
    schema_attr: Option<&str>,
    names: &mut Vec<String>,
) {
    let mut nested = Vec::new();
    let mut idents: Vec<String> = Vec::new();
    let _ = writeln!(out, "#[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]");
    if let Some(path) = schema_attr {
        let _ = writeln!(out, "#[bq(schema = {path:?})]");
    }
    let _ = writeln!(out, "pub struct {name} {{");
    let top_level = schema_attr.is_some();
    for column in columns {
        let ident = unique(field_ident(&column.name), &mut idents);
        let defaulted = top_level && column.has_default && column.mode != Mode::Repeated;
        let bare = ident.trim_start_matches("r#");
        if bare != column.name {
            let _ = writeln!(out, "    #[bq(rename = {:?})]", column.name);
        }
        let elem = match column.ty {
            Some(Type::Struct) => {
                let nested_name = unique_type(format!("{name}{}", pascal(bare)), names);
                nested.push((nested_name.clone(), &column.fields));
                nested_name
            }
            Some(Type::Range) => format!(
                "bqwrite::types::Range<{}>",
                scalar(column.range_element.unwrap_or(Type::Date))
            ),
            Some(ty) => scalar(ty).to_owned(),
            None => "String".to_owned(),
        };
        if column.ty == Some(Type::Bytes) {
            let _ = writeln!(out, "    #[bq(bytes)]");
        }
        if defaulted {
            let _ = writeln!(out, "    #[bq(default)]");
        }
        let ty = match column.mode {
            Mode::Required if !defaulted => elem,
            Mode::Required => format!("Option<{elem}>"),
            Mode::Nullable => format!("Option<{elem}>"),
            Mode::Repeated => format!("Vec<{elem}>"),
        };
        let _ = writeln!(out, "    pub {ident}: {ty},");
    }
    let _ = writeln!(out, "}}");
    for (nested_name, fields) in nested {
        out.push('\n');
        write_struct(out, &nested_name, fields, None, names);
    }
}

/// The Rust type of one value of a non-STRUCT column.
fn scalar(ty: Type) -> &'static str {
    match ty {
        Type::String => "String",
        Type::Int64 => "i64",
        Type::Float64 => "f64",
        Type::Bool => "bool",
        Type::Bytes => "Vec<u8>",
        Type::Numeric => "bqwrite::types::Numeric",
        Type::BigNumeric => "bqwrite::types::BigNumeric",
        Type::Date => "bqwrite::types::Date",
        Type::DateTime => "bqwrite::types::DateTime",
        Type::Time => "bqwrite::types::Time",
        Type::Timestamp => "bqwrite::types::Timestamp",
        Type::Geography => "bqwrite::types::Geography",
        Type::Json => "bqwrite::types::Json",
        Type::Interval => "bqwrite::types::Interval",
        Type::Range | Type::Struct => "String",
    }
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// A snake_case Rust field name for a column name.
fn field_ident(column: &str) -> String {
    let mut ident = String::with_capacity(column.len());
    let mut previous_lower = false;
    for c in column.chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                ident.push('_');
            }
            ident.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else if c.is_ascii_alphanumeric() {
            ident.push(c);
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !ident.ends_with('_') {
                ident.push('_');
            }
            previous_lower = false;
        }
    }
    let ident = ident.trim_matches('_');
    let mut ident = if ident.is_empty() {
        "column".to_owned()
    } else {
        ident.to_owned()
    };
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, '_');
    }
    if matches!(ident.as_str(), "self" | "super" | "crate" | "_") {
        ident.push('_');
    } else if KEYWORDS.contains(&ident.as_str()) {
        ident.insert_str(0, "r#");
    }
    ident
}

/// `ident`, or `ident_2`, `ident_3`, ... when already taken.
fn unique(ident: String, taken: &mut Vec<String>) -> String {
    let mut candidate = ident.clone();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{}_{n}", ident.trim_start_matches("r#"));
    }
    taken.push(candidate.clone());
    candidate
}

fn unique_type(name: String, taken: &mut Vec<String>) -> String {
    unique(name, taken)
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_with_defaults_become_default_options() {
        let code = generate(
            r#"[{"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
                {"name": "at", "type": "TIMESTAMP", "mode": "REQUIRED",
                 "defaultValueExpression": "CURRENT_TIMESTAMP()"},
                {"name": "note", "type": "STRING", "defaultValueExpression": "'n/a'"},
                {"name": "tags", "type": "STRING", "mode": "REPEATED",
                 "defaultValueExpression": "['a']"}]"#,
            "Row",
            "row.json",
        )
        .unwrap();
        assert!(code.contains("    pub id: i64,\n"), "{code}");
        assert!(
            code.contains("#[bq(default)]\n    pub at: Option<bqwrite::types::Timestamp>,"),
            "{code}"
        );
        assert!(
            code.contains("#[bq(default)]\n    pub note: Option<String>,"),
            "{code}"
        );
        assert!(code.contains("    pub tags: Vec<String>,"), "{code}");
        assert_eq!(code.matches("#[bq(default)]").count(), 2, "{code}");
    }

    #[test]
    fn field_names() {
        assert_eq!(field_ident("row_num"), "row_num");
        assert_eq!(field_ident("customerName"), "customer_name");
        assert_eq!(field_ident("Customer Name"), "customer_name");
        assert_eq!(field_ident("type"), "r#type");
        assert_eq!(field_ident("self"), "self_");
        assert_eq!(field_ident("2fa"), "_2fa");
        assert_eq!(field_ident("名前"), "column");
    }
}
