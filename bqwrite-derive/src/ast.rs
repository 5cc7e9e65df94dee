//! The model of a `#[derive(BqRow)]` struct: every column with its name, its
//! proto field number, its mode and its element type, decided once here and
//! read by every code generator.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type};

use crate::attr::{self, Kind};
use crate::ctxt::Ctxt;

/// A struct that derives `BqRow`.
pub(crate) struct Row<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) generics: &'a syn::Generics,
    /// The proto message name (the struct name, or `Row` when that is not a
    /// proto identifier).
    pub(crate) message_name: String,
    /// The columns, in declaration order (skipped fields are left out).
    pub(crate) fields: Vec<Field<'a>>,
    /// Whether any field is meant as a column, including fields whose type
    /// was rejected (so their error is not followed by a "no columns" one).
    pub(crate) declares_columns: bool,
    /// `#[bq(schema = "...")]`: the table schema file to check against.
    pub(crate) schema: Option<syn::LitStr>,
    /// `#[bq(missing = "default")]`: a column a row leaves out takes its
    /// default value.
    pub(crate) missing_default: bool,
}

/// BigQuery column mode, decided from the field's type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `T`: REQUIRED, proto2 `required`.
    Required,
    /// `Option<T>`: NULLABLE, proto2 `optional` (absent = NULL).
    Nullable,
    /// `Vec<T>`: REPEATED.
    Repeated,
}

/// One column.
pub(crate) struct Field<'a> {
    /// The Rust field.
    pub(crate) ident: &'a Ident,
    /// The column name: in the table schema, and in the descriptor as the
    /// proto field name or, when it is not a proto identifier, the
    /// `column_name` option.
    pub(crate) column: String,
    /// The proto field name: the column name when that is a proto identifier,
    /// or a generated one (see [`assign_proto_names`]).
    pub(crate) proto_name: String,
    /// Where to report problems with the column name.
    pub(crate) column_span: Span,
    /// Whether the name comes from `#[bq(rename = "...")]`.
    pub(crate) renamed: bool,
    /// The proto field number.
    pub(crate) tag: u32,
    pub(crate) mode: Mode,
    /// The type of one value: the field type without `Option`/`Vec`.
    pub(crate) elem: &'a Type,
    /// `type = "..."` / `bytes`, when given.
    pub(crate) kind: Option<Kind>,
    /// `truncate`: precision is truncated toward zero.
    pub(crate) truncate: bool,
    /// `with = "module"`: the module whose `to_bq` converts each value.
    pub(crate) with: Option<syn::Path>,
    pub(crate) description: Option<String>,
    /// `#[bq(default)]`: `None` asks for the column's default value.
    pub(crate) default: bool,
}

impl<'a> Row<'a> {
    /// Reads the input, recording every problem in `cx`. Returns `None` when
    /// the input is not a struct with named fields.
    pub(crate) fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Option<Row<'a>> {
        let container = attr::Container::from_attrs(cx, &input.attrs);
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(_) => {
                    cx.error_spanned_by(
                        &input.ident,
                        "`BqRow` cannot be derived for a tuple struct: columns need names, use a struct with named fields",
                    );
                    return None;
                }
                Fields::Unit => {
                    cx.error_spanned_by(
                        &input.ident,
                        "`BqRow` cannot be derived for a unit struct: a row needs at least one column",
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "`BqRow` cannot be derived for an enum: a row is a struct with named fields",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`BqRow` cannot be derived for a union: a row is a struct with named fields",
                );
                return None;
            }
        };
        check_generics(cx, &input.generics);

        let mut fields = Vec::new();
        let mut tag = 0u32;
        let mut declares_columns = false;
        for field in &named.named {
            let Some(ident) = field.ident.as_ref() else {
                continue;
            };
            let attrs = attr::Field::from_attrs(cx, &field.attrs);
            if let Some(skip) = attrs.skip {
                if attrs.rename.is_some()
                    || attrs.kind.is_some()
                    || attrs.description.is_some()
                    || attrs.truncate.is_some()
                    || attrs.with.is_some()
                    || attrs.default.is_some()
                {
                    cx.syn_error(syn::Error::new(
                        skip,
                        "`skip` cannot be combined with other `bq` attributes: a skipped field is not a column",
                    ));
                }
                continue;
            }
            declares_columns = true;
            check_not_recursive(cx, &input.ident, &field.ty);
            let (column, column_span) = match &attrs.rename {
                Some(lit) => (lit.value(), lit.span()),
                None => {
                    let name = ident.unraw().to_string();
                    let column = match container.rename_all {
                        Some(rule) => rule.apply(&name),
                        None => name,
                    };
                    (column, ident.span())
                }
            };
            let kind = attrs.kind.map(|(kind, _)| kind);
            check_conversions(cx, &attrs);
            let Some((mode, elem)) = mode_and_elem(cx, &field.ty, kind) else {
                continue;
            };
            check_default(cx, &attrs, mode);
            tag += 1;
            fields.push(Field {
                ident,
                column,
                proto_name: String::new(),
                column_span,
                renamed: attrs.rename.is_some(),
                tag,
                mode,
                elem,
                kind,
                truncate: attrs.truncate.is_some(),
                with: attrs.with,
                description: attrs.description,
                default: attrs.default.is_some(),
            });
        }

        assign_proto_names(&mut fields);

        let name = input.ident.unraw().to_string();
        let message_name = if is_proto_identifier(&name) {
            name
        } else {
            "Row".to_owned()
        };
        Some(Row {
            ident: &input.ident,
            generics: &input.generics,
            message_name,
            fields,
            declares_columns,
            schema: container.schema,
            missing_default: container.missing.is_some_and(|(default, _)| default),
        })
    }
}

/// `default` asks for the column's default when the value is absent: only an
/// `Option<T>` field can be absent.
fn check_default(cx: &Ctxt, attrs: &attr::Field, mode: Mode) {
    let Some(span) = attrs.default else {
        return;
    };
    let what = match mode {
        Mode::Nullable => return,
        Mode::Required => "a required field always has a value",
        Mode::Repeated => "an empty `Vec` is an empty array, not a missing value",
    };
    cx.syn_error(syn::Error::new(
        span,
        format!("`default` applies to an `Option<T>` field, whose `None` asks for the column's default value; {what}"),
    ));
}

/// `type`, `truncate` and `with` each say how values are written: at most
/// one of them applies.
fn check_conversions(cx: &Ctxt, attrs: &attr::Field) {
    if let (Some(truncate), Some(_)) = (attrs.truncate, &attrs.kind) {
        cx.syn_error(syn::Error::new(
            truncate,
            "`truncate` cannot be combined with `type` or `bytes`: it applies to the field's own column type",
        ));
    }
    if let Some(with) = &attrs.with
        && (attrs.kind.is_some() || attrs.truncate.is_some())
    {
        cx.error_spanned_by(
            with,
            "`with` cannot be combined with `type`, `bytes` or `truncate`: the column type is the one `to_bq` returns",
        );
    }
}

/// Gives each field its proto name: the column name when that is a proto
/// identifier, else `_col` and the field number, with `_` appended until it
/// differs from every column name (ignoring case) and every other field name.
fn assign_proto_names(fields: &mut [Field<'_>]) {
    for i in 0..fields.len() {
        let name = if is_proto_identifier(&fields[i].column) {
            fields[i].column.clone()
        } else {
            let mut name = format!("_col{}", fields[i].tag);
            while fields.iter().any(|other| {
                other.column.eq_ignore_ascii_case(&name)
                    || other.proto_name.eq_ignore_ascii_case(&name)
            }) {
                name.push('_');
            }
            name
        };
        fields[i].proto_name = name;
    }
}

/// Whether `name` is a valid proto field or message name.
pub(crate) fn is_proto_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_generics(cx: &Ctxt, generics: &syn::Generics) {
    for param in &generics.params {
        match param {
            syn::GenericParam::Lifetime(_) => {}
            syn::GenericParam::Type(param) => cx.error_spanned_by(
                param,
                "`BqRow` cannot be derived for a generic struct: a row has one fixed schema; use concrete field types (lifetime parameters are fine)",
            ),
            syn::GenericParam::Const(param) => cx.error_spanned_by(
                param,
                "`BqRow` cannot be derived for a struct with const generics: a row has one fixed schema",
            ),
        }
    }
}

/// A field that names its own struct would need an infinitely deep schema.
/// Only the certain cases are reported here: `Self`, or the bare struct name
/// (one path segment, no leading `::`), anywhere in the type including inside
/// generic arguments (`Option<Box<Self>>`, `Vec<Node>`). A longer path ending
/// in the same name (`v2::Event` inside `Event`) names another struct.
/// (Recursion through another struct, or through a path back to this one, is
/// caught by the nesting-depth check the generated code carries.)
fn check_not_recursive(cx: &Ctxt, ident: &Ident, ty: &Type) {
    if names_itself(ty, ident) {
        cx.error_spanned_by(
            // A `$ty` of a `macro_rules!` macro: point at the type it was given.
            ungroup(ty),
            format!(
                "recursive type: a field of `{ident}` contains `{ident}` itself; BigQuery STRUCT columns cannot be recursive"
            ),
        );
    }
}

/// Whether `ty` is or contains `Self` or the bare name `ident`.
fn names_itself(ty: &Type, ident: &Ident) -> bool {
    match ty {
        Type::Path(path) => {
            // `<Self as Trait>::Assoc` is another type: not looked into.
            let segments = &path.path.segments;
            if path.qself.is_none()
                && path.path.leading_colon.is_none()
                && segments.len() == 1
                && (segments[0].ident == "Self" || segments[0].ident.unraw() == ident.unraw())
            {
                return true;
            }
            segments.iter().any(|segment| match &segment.arguments {
                PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                    GenericArgument::Type(ty) => names_itself(ty, ident),
                    GenericArgument::AssocType(assoc) => names_itself(&assoc.ty, ident),
                    _ => false,
                }),
                PathArguments::Parenthesized(_) | PathArguments::None => false,
            })
        }
        Type::Group(group) => names_itself(&group.elem, ident),
        Type::Paren(paren) => names_itself(&paren.elem, ident),
        Type::Reference(reference) => names_itself(&reference.elem, ident),
        Type::Ptr(ptr) => names_itself(&ptr.elem, ident),
        Type::Slice(slice) => names_itself(&slice.elem, ident),
        Type::Array(array) => names_itself(&array.elem, ident),
        Type::Tuple(tuple) => tuple.elems.iter().any(|elem| names_itself(elem, ident)),
        _ => false,
    }
}

/// Strips `Option`/`Vec` from the field type and decides the mode.
fn mode_and_elem<'a>(cx: &Ctxt, ty: &'a Type, kind: Option<Kind>) -> Option<(Mode, &'a Type)> {
    let bytes = kind == Some(Kind::Bytes);
    if let Some(inner) = generic_arg(ty, "Option") {
        if generic_arg(inner, "Option").is_some() {
            cx.error_spanned_by(
                ty,
                "`Option<Option<T>>` has no BigQuery meaning: a NULLABLE column is `Option<T>`",
            );
            return None;
        }
        if let Some(elem) = generic_arg(inner, "Vec") {
            if is_u8(elem) && bytes {
                return Some((Mode::Nullable, inner));
            }
            if is_u8(elem) && kind.is_none() {
                ambiguous_bytes(cx, ty);
                return None;
            }
            cx.error_spanned_by(
                ty,
                "`Option<Vec<T>>` is not a BigQuery column: a REPEATED column cannot be NULL; use `Vec<T>` (an empty Vec writes an empty array)",
            );
            return None;
        }
        return Some((Mode::Nullable, inner));
    }
    if let Some(elem) = slice_elem(ty)
        && !is_u8(elem)
    {
        if generic_arg(elem, "Option").is_some() || slice_elem(elem).is_some() {
            cx.error_spanned_by(
                ty,
                "a slice of `Option`s or of slices is not a BigQuery column: array elements cannot be NULL nor arrays",
            );
            return None;
        }
        return Some((Mode::Repeated, elem));
    }
    if let Some(elem) = generic_arg(ty, "Vec") {
        if is_u8(elem) {
            return match kind {
                Some(Kind::Bytes) => Some((Mode::Required, ty)),
                Some(_) => Some((Mode::Repeated, elem)),
                None => {
                    ambiguous_bytes(cx, ty);
                    None
                }
            };
        }
        if generic_arg(elem, "Option").is_some() {
            cx.error_spanned_by(
                ty,
                "`Vec<Option<T>>` is not a BigQuery column: array elements cannot be NULL; use `Vec<T>`",
            );
            return None;
        }
        if let Some(inner) = generic_arg(elem, "Vec")
            && !is_u8(inner)
        {
            cx.error_spanned_by(
                ty,
                "`Vec<Vec<T>>` is not a BigQuery column: BigQuery has no arrays of arrays; wrap the inner `Vec` in a struct that derives `BqRow`",
            );
            return None;
        }
        return Some((Mode::Repeated, elem));
    }
    Some((Mode::Required, ty))
}

fn ambiguous_bytes(cx: &Ctxt, ty: &Type) {
    cx.error_spanned_by(
        ty,
        "`Vec<u8>` is ambiguous: add `#[bq(bytes)]` for a BYTES column, or `#[bq(type = \"INT64\")]` for an ARRAY<INT64> column",
    );
}

/// `Some(T)` when `ty` is `name<T>` (by the last path segment, as written).
fn generic_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let ty = ungroup(ty);
    let Type::Path(path) = ty else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let first = types.next()?;
    if types.next().is_some() {
        return None;
    }
    Some(first)
}

/// `Some(T)` when `ty` is `&[T]` (any lifetime): a REPEATED column, like `Vec<T>`.
fn slice_elem(ty: &Type) -> Option<&Type> {
    let Type::Reference(reference) = ungroup(ty) else {
        return None;
    };
    if reference.mutability.is_some() {
        return None;
    }
    match ungroup(&reference.elem) {
        Type::Slice(slice) => Some(&slice.elem),
        _ => None,
    }
}

fn is_u8(ty: &Type) -> bool {
    matches!(ungroup(ty), Type::Path(path) if path.qself.is_none() && path.path.is_ident("u8"))
}

fn ungroup(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(group) => ty = &group.elem,
            Type::Paren(paren) => ty = &paren.elem,
            _ => return ty,
        }
    }
}

impl Field<'_> {
    /// The span of the field's type, where type errors are reported.
    pub(crate) fn elem_span(&self) -> Span {
        self.elem.span()
    }

    /// The span for code generated per field: located at the field's type, so
    /// that type errors point there, but with the hygiene of the derive's
    /// call site. The type's own hygiene context may be another one (a type
    /// passed as `$t:ty` to a `macro_rules!` macro that declares the struct),
    /// in which the `self`, `buf` and `cx` of the generated methods are not
    /// visible.
    pub(crate) fn elem_site(&self) -> Span {
        Span::call_site().located_at(self.elem_span())
    }
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::*;

    fn recursive(ty: &str) -> bool {
        let ident = Ident::new("Event", Span::call_site());
        let ty: Type = syn::parse_str(ty).expect("a type");
        let cx = Ctxt::new();
        check_not_recursive(&cx, &ident, &ty);
        let found = names_itself(&ty, &ident);
        assert_eq!(cx.check().is_err(), found, "an error is recorded");
        found
    }

    #[test]
    fn recursion_is_self_or_the_bare_name() {
        for ty in [
            "Self",
            "Event",
            "r#Event",
            "Vec<Event>",
            "Option<Box<Self>>",
            "Option<std::boxed::Box<Event>>",
            "&'a Event",
            "Vec<&'a [Self]>",
            "std::sync::Arc<(i64, Event)>",
            "v2::Event<Event>",
            "Event<'a>",
        ] {
            assert!(recursive(ty), "{ty}");
        }
        for ty in [
            "v2::Event",
            "crate::Event",
            "self::v2::Event",
            "super::Event",
            "::event::Event",
            "Option<v2::Event>",
            "Vec<Box<crate::v2::Event>>",
            "&'a v2::Event",
            "Events",
            "EventRow",
            "<Self as Trait>::Assoc",
            "[i64; Event::N]",
        ] {
            assert!(!recursive(ty), "{ty}");
        }
    }

    #[test]
    fn flexible_names_get_unique_proto_names() {
        let ident = Ident::new("x", Span::call_site());
        let ty: Type = syn::parse_str("i64").expect("a type");
        let columns = ["first-name", "_col1", "_COL1_", "名前", "plain"];
        let mut fields: Vec<Field<'_>> = columns
            .iter()
            .zip(1..)
            .map(|(column, tag)| Field {
                ident: &ident,
                column: (*column).to_owned(),
                proto_name: String::new(),
                column_span: Span::call_site(),
                renamed: false,
                tag,
                mode: Mode::Required,
                elem: &ty,
                kind: None,
                truncate: false,
                with: None,
                description: None,
                default: false,
            })
            .collect();
        assign_proto_names(&mut fields);
        let names: Vec<&str> = fields.iter().map(|f| f.proto_name.as_str()).collect();
        assert_eq!(names, ["_col1__", "_col1", "_COL1_", "_col4", "plain"]);
    }

    #[test]
    fn proto_identifiers() {
        for ok in ["a", "_", "_a1", "Column_9", "x".repeat(300).as_str()] {
            assert!(is_proto_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a b", "größe", "a.b"] {
            assert!(!is_proto_identifier(bad), "{bad}");
        }
    }

    fn mode_of(ty: &str, kind: Option<Kind>) -> Option<(bool, bool, String)> {
        let ty: Type = syn::parse_str(ty).expect("a type");
        let cx = Ctxt::new();
        let result = mode_and_elem(&cx, &ty, kind).map(|(mode, elem)| {
            (
                mode == Mode::Nullable,
                mode == Mode::Repeated,
                elem.to_token_stream().to_string().replace(' ', ""),
            )
        });
        assert_eq!(
            result.is_none(),
            cx.check().is_err(),
            "an error is recorded"
        );
        result
    }

    #[test]
    fn modes_come_from_option_and_vec() {
        assert_eq!(mode_of("i64", None), Some((false, false, "i64".into())));
        assert_eq!(
            mode_of("Option<String>", None),
            Some((true, false, "String".into()))
        );
        assert_eq!(
            mode_of("std::option::Option<i64>", None),
            Some((true, false, "i64".into()))
        );
        assert_eq!(
            mode_of("Vec<Inner>", None),
            Some((false, true, "Inner".into()))
        );
        assert_eq!(
            mode_of("Vec<Vec<u8>>", None),
            Some((false, true, "Vec<u8>".into()))
        );
        assert_eq!(
            mode_of("Vec<u8>", Some(Kind::Bytes)),
            Some((false, false, "Vec<u8>".into()))
        );
        assert_eq!(
            mode_of("Option<Vec<u8>>", Some(Kind::Bytes)),
            Some((true, false, "Vec<u8>".into()))
        );
        assert_eq!(
            mode_of("&'a [String]", None),
            Some((false, true, "String".into()))
        );
        assert_eq!(mode_of("&[&str]", None), Some((false, true, "&str".into())));
        assert_eq!(mode_of("&[u8]", None), Some((false, false, "&[u8]".into())));
        assert_eq!(
            mode_of("Vec<u8>", Some(Kind::Int64)),
            Some((false, true, "u8".into()))
        );
        for rejected in [
            "Option<Vec<i64>>",
            "Vec<Option<i64>>",
            "Option<Option<i64>>",
            "Vec<Vec<i64>>",
            "Vec<u8>",
            "Option<Vec<u8>>",
        ] {
            assert_eq!(mode_of(rejected, None), None, "{rejected}");
        }
    }
}
