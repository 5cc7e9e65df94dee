//! `BqRow::table_schema`: the BigQuery columns of the row, and the STRUCT
//! nesting depth that the generated code checks at compile time.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::ast::{Mode, Row};

pub(super) fn expand(row: &Row<'_>) -> TokenStream {
    let columns = row.fields.iter().map(|field| {
        let elem = field.elem;
        let column = &field.column;
        let mode = match field.mode {
            Mode::Required => quote!(Required),
            Mode::Nullable => quote!(Nullable),
            Mode::Repeated => quote!(Repeated),
        };
        let mode = quote!(::bqwrite::__private::Mode::#mode);
        let schema = match (&field.with, field.kind) {
            (Some(module), _) => quote_spanned! {field.elem_site()=>
                ::bqwrite::__private::with::schema::<#elem, _>(
                    #module::to_bq,
                    ::std::string::String::from(#column),
                    #mode,
                )
            },
            // The same projection as the encoder's, so an unsupported type is
            // reported once.
            (None, None) => quote_spanned! {field.elem_site()=>
                <#elem as ::bqwrite::BqField>::__bq_schema(
                    ::std::string::String::from(#column),
                    #mode,
                )
            },
            // The override is checked by the encoder's `BqFieldAs` projection.
            (None, Some(kind)) => {
                let marker = format_ident!("{}", kind.marker());
                quote! {
                    ::bqwrite::__private::FieldSchema::new(
                        #column,
                        <::bqwrite::__private::kind::#marker as ::bqwrite::__private::Kind>::FIELD_TYPE,
                        #mode,
                    )
                }
            }
        };
        match &field.description {
            Some(description) => quote!(#schema.with_description(#description)),
            None => schema,
        }
    });
    quote! {
        #[doc(hidden)]
        fn __bq_schema_fields() -> ::std::vec::Vec<::bqwrite::__private::FieldSchema> {
            ::std::vec![#(#columns),*]
        }
    }
}

/// `1 +` the deepest STRUCT nesting among the columns.
pub(super) fn depth(row: &Row<'_>) -> TokenStream {
    let depths = row
        .fields
        .iter()
        .filter(|field| field.kind.is_none())
        .map(|field| {
            let elem = field.elem;
            if let Some(module) = &field.with {
                return quote_spanned! {field.elem_span()=>
                    ::bqwrite::__private::with::depth::<#elem, _>(#module::to_bq)
                };
            }
            // Types and paths only, no local names: the type's own span, so a
            // const-evaluation cycle (mutual recursion) is reported at the
            // field without a derive backtrace.
            quote_spanned!(field.elem_span()=> <#elem as ::bqwrite::BqField>::__BQ_DEPTH)
        });
    quote!(1 + ::bqwrite::__private::max_depth(&[#(#depths),*]))
}

/// `BqField::__BQ_COLUMNS`: the columns as static data, for the
/// compile-time check of a STRUCT column against a schema file.
pub(super) fn static_columns(row: &Row<'_>) -> TokenStream {
    let private = quote!(::bqwrite::__private::schema_file);
    let columns = row.fields.iter().map(|field| {
        let elem = field.elem;
        let column = &field.column;
        let mode = match field.mode {
            Mode::Required => quote!(Required),
            Mode::Nullable => quote!(Nullable),
            Mode::Repeated => quote!(Repeated),
        };
        let (ty, fields) = match (&field.with, field.kind) {
            (Some(module), _) => (
                quote_spanned!(field.elem_site()=> ::bqwrite::__private::with::field_type::<#elem, _>(#module::to_bq)),
                quote_spanned!(field.elem_site()=> ::bqwrite::__private::with::columns::<#elem, _>(#module::to_bq)),
            ),
            (None, Some(kind)) => {
                let marker = format_ident!("{}", kind.marker());
                (
                    quote!(<::bqwrite::__private::kind::#marker as ::bqwrite::__private::Kind>::FIELD_TYPE),
                    quote!(&[]),
                )
            }
            (None, None) => (
                quote_spanned!(field.elem_site()=> <#elem as ::bqwrite::BqField>::__BQ_TYPE),
                quote_spanned!(field.elem_site()=> <#elem as ::bqwrite::BqField>::__BQ_COLUMNS),
            ),
        };
        quote! {
            #private::StaticColumn {
                name: #column,
                ty: #private::rule(#ty),
                mode: #private::Mode::#mode,
                fields: #fields,
            }
        }
    });
    quote!(&[#(#columns),*])
}
