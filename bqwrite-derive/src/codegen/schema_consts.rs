//! `#[bq(schema = "...")]`: `include_bytes!` of the file, so editing it
//! rebuilds the crate, and one `const` per field whose type only the
//! compiler knows, failing to compile when that type cannot write the
//! column's, or when the columns of a nested struct do not match the
//! sub-columns of its STRUCT column.

use bqwrite_schema::{Column, Mode, Type};
use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};

use crate::ast::Row;
use crate::schema_file::SchemaFile;

pub(super) fn expand(row: &Row<'_>, file: Option<&SchemaFile>) -> TokenStream {
    let Some(file) = file else {
        return TokenStream::new();
    };
    let path = &file.path;
    let lifetimes: Vec<String> = row
        .generics
        .lifetimes()
        .map(|param| param.lifetime.ident.to_string())
        .collect();
    let private = quote!(::bqwrite::__private::schema_file);
    let checks = row.fields.iter().filter_map(|field| {
        let column = file.unchecked_column(field)?;
        let column_type = column.ty?;
        // A `'static` for each of the struct's lifetimes: a free `const`
        // cannot name them.
        let elem = static_lifetimes(field.elem.to_token_stream(), &lifetimes);
        let (field_type, fields) = match &field.with {
            Some(module) => (
                quote_spanned! {field.elem_span()=>
                    ::bqwrite::__private::with::field_type::<#elem, _>(#module::to_bq)
                },
                quote_spanned! {field.elem_span()=>
                    ::bqwrite::__private::with::columns::<#elem, _>(#module::to_bq)
                },
            ),
            None => (
                quote_spanned! {field.elem_span()=> <#elem as ::bqwrite::BqField>::__BQ_TYPE },
                quote_spanned! {field.elem_span()=> <#elem as ::bqwrite::BqField>::__BQ_COLUMNS },
            ),
        };
        let variant = format_ident!("{}", format!("{column_type:?}"));
        let message = format!(
            "column `{}` is {column_type} in `{}`, and the field's type `{}` does not write {column_type}",
            column.name,
            file.shown,
            quote!(#elem).to_string().replace(' ', ""),
        );
        let nested = (column_type == Type::Struct).then(|| {
            let table = static_columns(&column.fields);
            let name = &field.column;
            let shown = &file.shown;
            quote_spanned! {field.elem_span()=>
                else if let ::core::option::Option::Some(message) = #private::first_mismatch_in(
                    #name,
                    #shown,
                    #fields,
                    #table,
                ) {
                    ::core::panic!("{}", message.as_str());
                }
            }
        });
        Some(quote_spanned! {field.elem_span()=>
            const _: () = if !#private::writes(#field_type, #private::Type::#variant) {
                ::core::panic!(#message);
            } #nested;
        })
    });
    quote! {
        const _: &[u8] = ::core::include_bytes!(#path);
        #(#checks)*
    }
}

/// The sub-columns of a schema file's STRUCT column, as static data.
fn static_columns(columns: &[Column]) -> TokenStream {
    let private = quote!(::bqwrite::__private::schema_file);
    let columns = columns.iter().filter_map(|column| {
        let ty = format_ident!("{}", format!("{:?}", column.ty?));
        let mode = format_ident!(
            "{}",
            match column.mode {
                Mode::Nullable => "Nullable",
                Mode::Required => "Required",
                Mode::Repeated => "Repeated",
            }
        );
        let name = &column.name;
        let fields = static_columns(&column.fields);
        Some(quote! {
            #private::StaticColumn {
                name: #name,
                ty: #private::Type::#ty,
                mode: #private::Mode::#mode,
                fields: #fields,
            }
        })
    });
    quote!(&[#(#columns),*])
}

/// `tokens` with each of the struct's `lifetimes` replaced by `'static`.
fn static_lifetimes(tokens: TokenStream, lifetimes: &[String]) -> TokenStream {
    let mut out = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    while let Some(token) = iter.next() {
        match token {
            TokenTree::Group(group) => {
                let mut new = proc_macro2::Group::new(
                    group.delimiter(),
                    static_lifetimes(group.stream(), lifetimes),
                );
                new.set_span(group.span());
                out.push(TokenTree::Group(new));
            }
            TokenTree::Punct(punct) if punct.as_char() == '\'' => {
                let name = match iter.peek() {
                    Some(TokenTree::Ident(name)) if lifetimes.contains(&name.to_string()) => {
                        Some(name.span())
                    }
                    _ => None,
                };
                out.push(TokenTree::Punct(punct));
                if let Some(span) = name {
                    iter.next();
                    out.push(TokenTree::Ident(Ident::new("static", span)));
                }
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_become_static() {
        let ty: syn::Type = syn::parse_str("Cow<'a, [&'b str]>").expect("a type");
        let out = static_lifetimes(ty.to_token_stream(), &["a".to_owned()]);
        assert_eq!(out.to_string().replace(' ', ""), "Cow<'static,[&'bstr]>");
    }
}
