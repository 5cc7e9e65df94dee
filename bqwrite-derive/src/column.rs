//! The model of a `#[derive(BqField)]` type: a newtype, the column of the
//! type it wraps, or a fieldless enum, a STRING column of variant names.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr;
use crate::ctxt::Ctxt;

/// A type that derives `BqField`.
pub(crate) enum Column<'a> {
    /// `struct UserId(i64)`.
    Newtype { inner: &'a Type },
    /// `enum Status { Active, Closed }`.
    Enum { variants: Vec<Variant<'a>> },
}

/// One variant of a fieldless enum.
pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    /// The text written for it.
    pub(crate) text: String,
    /// Where to report a problem with the text.
    pub(crate) span: Span,
}

impl<'a> Column<'a> {
    /// Reads the input, recording every problem in `cx`.
    pub(crate) fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Option<Column<'a>> {
        for param in input.generics.type_params() {
            cx.error_spanned_by(
                param,
                "`BqField` cannot be derived for a generic type: a column has one fixed type (lifetime parameters are fine)",
            );
        }
        for param in input.generics.const_params() {
            cx.error_spanned_by(
                param,
                "`BqField` cannot be derived for a type with const generics: a column has one fixed type",
            );
        }
        match &input.data {
            Data::Struct(data) => newtype(cx, input, &data.fields),
            Data::Enum(data) => {
                let container = attr::Container::from_enum_attrs(cx, &input.attrs);
                let mut variants = Vec::new();
                for variant in &data.variants {
                    let attrs = attr::Variant::from_attrs(cx, &variant.attrs);
                    if !matches!(variant.fields, Fields::Unit) {
                        cx.error_spanned_by(
                            &variant.fields,
                            format!(
                                "`BqField` on an enum makes a STRING column of variant names, so every variant must be a unit variant; `{}` has fields",
                                variant.ident
                            ),
                        );
                        continue;
                    }
                    let (text, span) = match attrs.rename {
                        Some(lit) => (lit.value(), lit.span()),
                        None => {
                            let name = variant.ident.unraw().to_string();
                            let text = match container.rename_all {
                                Some(rule) => rule.apply_to_variant(&name),
                                None => name,
                            };
                            (text, variant.ident.span())
                        }
                    };
                    if let Some(first) = variants.iter().find(|v: &&Variant<'_>| v.text == text) {
                        cx.syn_error(syn::Error::new(
                            span,
                            format!(
                                "duplicate text `{text}`: variant `{}` is already written as `{text}`",
                                first.ident
                            ),
                        ));
                    }
                    variants.push(Variant {
                        ident: &variant.ident,
                        text,
                        span,
                    });
                }
                if data.variants.is_empty() {
                    cx.error_spanned_by(
                        &input.ident,
                        "`BqField` cannot be derived for an enum without variants: it would have no value to write",
                    );
                    return None;
                }
                Some(Column::Enum { variants })
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`BqField` cannot be derived for a union: derive it for a newtype (`struct UserId(i64);`) or a fieldless enum",
                );
                None
            }
        }
    }
}

fn newtype<'a>(cx: &Ctxt, input: &'a DeriveInput, fields: &'a Fields) -> Option<Column<'a>> {
    let attrs_error = |attrs: &[syn::Attribute]| {
        if let Some(attr) = attrs.iter().find(|attr| attr.path().is_ident("bq")) {
            cx.error_spanned_by(
                attr,
                "a newtype that derives `BqField` takes no `bq` attributes: it is the column of the type it wraps",
            );
        }
    };
    attrs_error(&input.attrs);
    match fields {
        Fields::Unnamed(unnamed) if unnamed.unnamed.len() == 1 => {
            let field = &unnamed.unnamed[0];
            attrs_error(&field.attrs);
            Some(Column::Newtype { inner: &field.ty })
        }
        Fields::Named(_) => {
            cx.error_spanned_by(
                &input.ident,
                "`BqField` cannot be derived for a struct with named fields: derive `BqRow` to make it a STRUCT column",
            );
            None
        }
        _ => {
            cx.error_spanned_by(
                &input.ident,
                "`BqField` can be derived for a newtype with exactly one field, such as `struct UserId(i64);`",
            );
            None
        }
    }
}
