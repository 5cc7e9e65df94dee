//! `#[bq(...)]` attribute parsing. Each key may appear once; an unknown key is
//! an error spanned on it, never silently ignored.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr};

use crate::ctxt::Ctxt;

/// Attributes on the struct itself.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) rename_all: Option<RenameRule>,
    /// `schema = "path.json"`: the table schema file to check against.
    pub(crate) schema: Option<LitStr>,
    /// `missing = "default"` (true) or `missing = "null"` (false): how the
    /// service reads a column a row leaves out.
    pub(crate) missing: Option<(bool, Span)>,
}

/// Attributes on one field.
#[derive(Default)]
pub(crate) struct Field {
    /// `rename = "column"`: the literal, kept for its span.
    pub(crate) rename: Option<LitStr>,
    /// `skip`: the field is not a column.
    pub(crate) skip: Option<Span>,
    /// `type = "..."` or `bytes`: the BigQuery type to write the field as.
    pub(crate) kind: Option<(Kind, Span)>,
    /// `description = "..."`: the column description in the table schema.
    pub(crate) description: Option<String>,
    /// `truncate`: truncate precision toward zero instead of rejecting.
    pub(crate) truncate: Option<Span>,
    /// `with = "module"`: functions converting the field's type.
    pub(crate) with: Option<syn::Path>,
    /// `default`: `None` asks for the column's default value.
    pub(crate) default: Option<Span>,
}

/// Case conventions of `rename_all`, applied to the Rust field name.
#[derive(Clone, Copy)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
}

const RENAME_RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("PascalCase", RenameRule::Pascal),
    ("camelCase", RenameRule::Camel),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
];

impl RenameRule {
    /// Applies the rule to a Rust field name (snake_case by convention).
    pub(crate) fn apply(self, field: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => field.to_ascii_lowercase(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Pascal => pascal(field),
            RenameRule::Camel => {
                let pascal = pascal(field);
                let mut chars = pascal.chars();
                match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => pascal,
                }
            }
        }
    }
}

impl RenameRule {
    /// Applies the rule to a Rust variant name (PascalCase by convention),
    /// as serde does for unit variants.
    pub(crate) fn apply_to_variant(self, variant: &str) -> String {
        match self {
            RenameRule::Pascal => variant.to_owned(),
            RenameRule::Lower => variant.to_ascii_lowercase(),
            RenameRule::Upper => variant.to_ascii_uppercase(),
            RenameRule::Camel => {
                let mut chars = variant.chars();
                match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
            RenameRule::Snake | RenameRule::ScreamingSnake => {
                let mut snake = String::with_capacity(variant.len() + 4);
                for (i, c) in variant.char_indices() {
                    if c.is_uppercase() && i > 0 {
                        snake.push('_');
                    }
                    snake.extend(c.to_lowercase());
                }
                match self {
                    RenameRule::ScreamingSnake => snake.to_ascii_uppercase(),
                    _ => snake,
                }
            }
        }
    }
}

/// Attributes on an enum variant (`#[derive(BqField)]`).
#[derive(Default)]
pub(crate) struct Variant {
    /// `rename = "TEXT"`: the text written for the variant.
    pub(crate) rename: Option<LitStr>,
}

impl Variant {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Variant {
        let mut out = Variant::default();
        for attr in attrs.iter().filter(|attr| is_bq(attr)) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if out.rename.is_some() {
                        cx.error_spanned_by(&meta.path, "duplicate `bq` attribute `rename`");
                    }
                    out.rename = Some(lit);
                    Ok(())
                } else {
                    Err(meta.error(format!(
                        "unknown `bq` attribute `{}` on a variant; expected `rename`",
                        path_text(&meta.path)
                    )))
                }
            });
            if let Err(error) = result {
                cx.syn_error(error);
            }
        }
        out
    }
}

fn pascal(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper_next = true;
    for c in field.chars() {
        if c == '_' {
            upper_next = true;
        } else if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The BigQuery types a field can be forced to with `type = "..."`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Int64,
    Float64,
    Bool,
    Bytes,
    Numeric,
    BigNumeric,
    Date,
    DateTime,
    Time,
    Timestamp,
    Geography,
    Json,
    Interval,
}

/// Accepted spellings (compared case-insensitively), legacy names included.
const KINDS: &[(&str, Kind)] = &[
    ("STRING", Kind::String),
    ("INT64", Kind::Int64),
    ("INTEGER", Kind::Int64),
    ("FLOAT64", Kind::Float64),
    ("FLOAT", Kind::Float64),
    ("BOOL", Kind::Bool),
    ("BOOLEAN", Kind::Bool),
    ("BYTES", Kind::Bytes),
    ("NUMERIC", Kind::Numeric),
    ("DECIMAL", Kind::Numeric),
    ("BIGNUMERIC", Kind::BigNumeric),
    ("BIGDECIMAL", Kind::BigNumeric),
    ("DATE", Kind::Date),
    ("DATETIME", Kind::DateTime),
    ("TIME", Kind::Time),
    ("TIMESTAMP", Kind::Timestamp),
    ("GEOGRAPHY", Kind::Geography),
    ("JSON", Kind::Json),
    ("INTERVAL", Kind::Interval),
];

impl Kind {
    /// The name of the marker type in `bqwrite::__private::kind`.
    pub(crate) fn marker(self) -> &'static str {
        match self {
            Kind::String => "STRING",
            Kind::Int64 => "INT64",
            Kind::Float64 => "FLOAT64",
            Kind::Bool => "BOOL",
            Kind::Bytes => "BYTES",
            Kind::Numeric => "NUMERIC",
            Kind::BigNumeric => "BIGNUMERIC",
            Kind::Date => "DATE",
            Kind::DateTime => "DATETIME",
            Kind::Time => "TIME",
            Kind::Timestamp => "TIMESTAMP",
            Kind::Geography => "GEOGRAPHY",
            Kind::Json => "JSON",
            Kind::Interval => "INTERVAL",
        }
    }

    fn parse(lit: &LitStr) -> syn::Result<Kind> {
        let value = lit.value();
        if let Some((_, kind)) = KINDS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&value))
        {
            return Ok(*kind);
        }
        let hint = match value.to_ascii_uppercase().as_str() {
            "STRUCT" | "RECORD" => {
                "; a STRUCT column is a field whose type derives `BqRow`".to_owned()
            }
            "RANGE" => "; a RANGE column is a field of type `bqwrite::types::Range<T>`".to_owned(),
            "ARRAY" => "; an ARRAY column is a `Vec<T>` field".to_owned(),
            _ => {
                let names: Vec<&str> = KINDS.iter().map(|(name, _)| *name).collect();
                format!("; expected one of {}", names.join(", "))
            }
        };
        Err(syn::Error::new(
            lit.span(),
            format!("unknown BigQuery type `{value}` in `type`{hint}"),
        ))
    }
}

fn is_bq(attr: &Attribute) -> bool {
    attr.path().is_ident("bq")
}

impl Container {
    /// The attributes of a struct (`what` names it in errors; `schema` is
    /// only accepted where `expected` lists it).
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Container {
        Self::parse(cx, attrs, "struct", "`rename_all`, `schema` or `missing`")
    }

    /// The attributes of an enum deriving `BqField`.
    pub(crate) fn from_enum_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Container {
        let out = Self::parse(cx, attrs, "enum", "`rename_all`");
        if let Some(schema) = &out.schema {
            cx.error_spanned_by(
                schema,
                "`schema` applies to a struct that derives `BqRow`, not to an enum",
            );
        }
        if let Some((_, span)) = out.missing {
            cx.syn_error(syn::Error::new(
                span,
                "`missing` applies to a struct that derives `BqRow`, not to an enum",
            ));
        }
        out
    }

    fn parse(cx: &Ctxt, attrs: &[Attribute], what: &str, expected: &str) -> Container {
        let mut out = Container::default();
        for attr in attrs.iter().filter(|attr| is_bq(attr)) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename_all") {
                    let lit: LitStr = meta.value()?.parse()?;
                    let value = lit.value();
                    let Some((_, rule)) = RENAME_RULES.iter().find(|(name, _)| *name == value)
                    else {
                        let names: Vec<String> = RENAME_RULES
                            .iter()
                            .map(|(name, _)| format!("\"{name}\""))
                            .collect();
                        cx.error_spanned_by(
                            &lit,
                            format!(
                                "unknown `rename_all` rule `{value}`; expected one of {}",
                                names.join(", ")
                            ),
                        );
                        return Ok(());
                    };
                    if out.rename_all.is_some() {
                        cx.error_spanned_by(&meta.path, "duplicate `bq` attribute `rename_all`");
                    }
                    out.rename_all = Some(*rule);
                    Ok(())
                } else if meta.path.is_ident("schema") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if out.schema.is_some() {
                        cx.error_spanned_by(&meta.path, "duplicate `bq` attribute `schema`");
                    }
                    out.schema = Some(lit);
                    Ok(())
                } else if meta.path.is_ident("missing") {
                    let lit: LitStr = meta.value()?.parse()?;
                    let default = match lit.value().as_str() {
                        "default" => true,
                        "null" => false,
                        other => {
                            cx.error_spanned_by(
                                &lit,
                                format!("unknown `missing` value `{other}`; expected \"default\" or \"null\""),
                            );
                            return Ok(());
                        }
                    };
                    if out.missing.is_some() {
                        cx.error_spanned_by(&meta.path, "duplicate `bq` attribute `missing`");
                    }
                    out.missing = Some((default, lit.span()));
                    Ok(())
                } else {
                    Err(meta.error(format!(
                        "unknown `bq` attribute `{}` on a {what}; expected {expected}",
                        path_text(&meta.path)
                    )))
                }
            });
            if let Err(error) = result {
                cx.syn_error(error);
            }
        }
        out
    }
}

impl Field {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Field {
        let mut out = Field::default();
        for attr in attrs.iter().filter(|attr| is_bq(attr)) {
            let result = attr.parse_nested_meta(|meta| {
                let path = &meta.path;
                let duplicate = |name: &str| {
                    cx.error_spanned_by(path, format!("duplicate `bq` attribute `{name}`"));
                };
                if path.is_ident("rename") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if out.rename.is_some() {
                        duplicate("rename");
                    }
                    out.rename = Some(lit);
                } else if path.is_ident("skip") {
                    if out.skip.is_some() {
                        duplicate("skip");
                    }
                    out.skip = Some(path.span());
                } else if path.is_ident("bytes") {
                    if out.kind.is_some() {
                        cx.error_spanned_by(
                            path,
                            "`bytes` conflicts with another `bytes` or `type` attribute on this field",
                        );
                    }
                    out.kind = Some((Kind::Bytes, path.span()));
                } else if path.is_ident("type") {
                    let lit: LitStr = meta.value()?.parse()?;
                    let kind = Kind::parse(&lit)?;
                    if out.kind.is_some() {
                        cx.error_spanned_by(
                            path,
                            "`type` conflicts with another `type` or `bytes` attribute on this field",
                        );
                    }
                    out.kind = Some((kind, lit.span()));
                } else if path.is_ident("description") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if out.description.is_some() {
                        duplicate("description");
                    }
                    out.description = Some(lit.value());
                } else if path.is_ident("truncate") {
                    if out.truncate.is_some() {
                        duplicate("truncate");
                    }
                    out.truncate = Some(path.span());
                } else if path.is_ident("with") {
                    let lit: LitStr = meta.value()?.parse()?;
                    let module: syn::Path = lit.parse().map_err(|_| {
                        syn::Error::new(lit.span(), "`with` takes the path of a module, such as `\"my_types::as_string\"`")
                    })?;
                    if out.with.is_some() {
                        duplicate("with");
                    }
                    out.with = Some(module);
                } else if path.is_ident("default") {
                    if out.default.is_some() {
                        duplicate("default");
                    }
                    out.default = Some(path.span());
                } else {
                    return Err(meta.error(format!(
                        "unknown `bq` attribute `{}` on a field; expected one of `rename`, `skip`, `bytes`, `type`, `truncate`, `with`, `description`, `default`",
                        path_text(path)
                    )));
                }
                Ok(())
            });
            if let Err(error) = result {
                cx.syn_error(error);
            }
        }
        out
    }
}

fn path_text(path: &syn::Path) -> String {
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    segments.join("::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_rules_follow_serde_names() {
        let cases = [
            (RenameRule::Lower, "user_id", "user_id"),
            (RenameRule::Upper, "user_id", "USER_ID"),
            (RenameRule::Pascal, "user_id", "UserId"),
            (RenameRule::Camel, "user_id", "userId"),
            (RenameRule::Camel, "id", "id"),
            (RenameRule::Snake, "user_id", "user_id"),
            (RenameRule::ScreamingSnake, "user_id", "USER_ID"),
            (RenameRule::Pascal, "_private", "Private"),
            (RenameRule::Camel, "a_b_c", "aBC"),
        ];
        for (rule, field, column) in cases {
            assert_eq!(rule.apply(field), column, "{field}");
        }
    }

    #[test]
    fn variant_rename_rules_follow_serde() {
        let cases = [
            (RenameRule::Snake, "InProgress", "in_progress"),
            (RenameRule::ScreamingSnake, "InProgress", "IN_PROGRESS"),
            (RenameRule::Camel, "InProgress", "inProgress"),
            (RenameRule::Pascal, "InProgress", "InProgress"),
            (RenameRule::Lower, "InProgress", "inprogress"),
            (RenameRule::Upper, "InProgress", "INPROGRESS"),
        ];
        for (rule, variant, text) in cases {
            assert_eq!(rule.apply_to_variant(variant), text, "{variant}");
        }
    }

    #[test]
    fn type_names_are_case_insensitive_with_legacy_aliases() {
        let parse = |text: &str| Kind::parse(&LitStr::new(text, Span::call_site())).ok();
        assert!(parse("json") == Some(Kind::Json));
        assert!(parse("INTEGER") == Some(Kind::Int64));
        assert!(parse("Boolean") == Some(Kind::Bool));
        assert!(parse("BIGDECIMAL") == Some(Kind::BigNumeric));
        assert!(parse("RECORD").is_none());
        assert!(parse("VARCHAR").is_none());
    }
}
