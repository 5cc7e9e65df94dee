//! Code generation. Every generator reads the same [`Row`] model; the wire
//! logic itself lives in `bqwrite::__private`, which the generated code calls.

mod defaults;
mod descriptor;
mod encode;
mod fallback;
mod field;
mod row_of;
mod schema;
mod schema_consts;
mod with;

pub(crate) use field::expand as expand_field;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::DeriveInput;

use crate::ast::{Field, Mode, Row};
use crate::ctxt::Ctxt;
use crate::{schema_file, valid};

/// Expands `#[derive(BqRow)]`: the impls, or on error the errors next to stub
/// impls so the rest of the crate still type-checks.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let row = Row::from_input(&cx, input);
    let mut schema = None;
    if let Some(row) = &row {
        valid::check(&cx, row);
        schema = schema_file::check(&cx, row);
    }
    match (row, cx.check()) {
        (Some(row), Ok(())) => generate(&row, schema.as_ref()),
        (_, Err(error)) => fallback::expand(input, &error),
        (None, Ok(())) => fallback::expand(
            input,
            &syn::Error::new_spanned(
                &input.ident,
                "`BqRow` can only be derived for a struct with named fields",
            ),
        ),
    }
}

fn generate(row: &Row<'_>, schema_file: Option<&schema_file::SchemaFile>) -> TokenStream {
    let ident = row.ident;
    let (impl_generics, ty_generics, where_clause) = row.generics.split_for_impl();
    let descriptor = descriptor::expand(row);
    let defaults = defaults::expand(row);
    let encode = encode::expand(row);
    let schema = schema::expand(row);
    let depth = schema::depth(row);
    let columns = schema::static_columns(row);
    let with = with::expand(row);
    let schema_check = schema_consts::expand(row, schema_file);
    let row_of = row_of::expand(ident, row.generics);
    let static_lifetimes = row.generics.lifetimes().map(|_| quote!('static));
    let static_ty = if row.generics.lifetimes().next().is_some() {
        quote!(#ident<#(#static_lifetimes),*>)
    } else {
        quote!(#ident)
    };
    let too_deep = format!(
        "`{ident}` nests STRUCT columns more than 15 levels deep, the most BigQuery allows"
    );
    quote! {
        #[automatically_derived]
        impl #impl_generics ::bqwrite::BqRow for #ident #ty_generics #where_clause {
            #descriptor
            #schema
            #encode
            #defaults
        }

        #[automatically_derived]
        impl #impl_generics ::bqwrite::BqField for #ident #ty_generics #where_clause {
            #[doc(hidden)]
            type __Encoder = ::bqwrite::__private::enc::Message<Self>;
            #[doc(hidden)]
            const __BQ_DEPTH: usize = #depth;
            #[doc(hidden)]
            const __BQ_TYPE: ::bqwrite::__private::FieldType = ::bqwrite::__private::FieldType::Struct;
            #[doc(hidden)]
            const __BQ_COLUMNS: &'static [::bqwrite::__private::schema_file::StaticColumn] = #columns;
            #[doc(hidden)]
            fn __bq_schema(
                name: ::std::string::String,
                mode: ::bqwrite::__private::Mode,
            ) -> ::bqwrite::__private::FieldSchema {
                ::bqwrite::__private::struct_column::<Self>(name, mode)
            }
        }

        #[doc(hidden)]
        const _: () = ::core::assert!(
            <#static_ty as ::bqwrite::BqField>::__BQ_DEPTH <= 16,
            #too_deep
        );

        #row_of
        #with
        #schema_check
    }
}

/// The encoder type of a field's values: its `BqField` encoder, the one of
/// the `type = "..."` override or of `truncate`, or the type `with` generates.
fn encoder(row: &Row<'_>, field: &Field<'_>) -> TokenStream {
    let elem = field.elem;
    let span = field.elem_site();
    if field.with.is_some() {
        let marker = with::marker(row, field);
        return quote!(#marker);
    }
    if field.truncate {
        return quote_spanned! {span=>
            <#elem as ::bqwrite::__private::BqFieldTruncate>::Encoder
        };
    }
    match field.kind {
        None => quote_spanned!(span=> <#elem as ::bqwrite::BqField>::__Encoder),
        Some(kind) => {
            let marker = format_ident!("{}", kind.marker());
            quote_spanned! {span=>
                <#elem as ::bqwrite::__private::BqFieldAs<::bqwrite::__private::kind::#marker>>::Encoder
            }
        }
    }
}

/// The `bqwrite::__private` module with the wire functions of a mode.
fn mode_module(mode: Mode) -> TokenStream {
    match mode {
        Mode::Required => quote!(required),
        Mode::Nullable => quote!(optional),
        Mode::Repeated => quote!(repeated),
    }
}
