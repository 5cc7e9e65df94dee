//! `#[derive(BqField)]`: a newtype written as what it wraps, a fieldless
//! enum as the text of its variant.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use crate::column::{Column, Variant};
use crate::ctxt::Ctxt;

/// Expands `#[derive(BqField)]`, or on error the errors next to a stub impl.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let column = Column::from_input(&cx, input);
    match (column, cx.check()) {
        (Some(column), Ok(())) => generate(input, &column),
        (_, Err(error)) => super::fallback::expand_field(input, &error),
        (None, Ok(())) => super::fallback::expand_field(
            input,
            &syn::Error::new_spanned(
                &input.ident,
                "`BqField` can be derived for a newtype or a fieldless enum",
            ),
        ),
    }
}

fn generate(input: &DeriveInput, column: &Column<'_>) -> TokenStream {
    match column {
        Column::Newtype { inner } => newtype(input, inner),
        Column::Enum { variants } => unit_enum(input, variants),
    }
}

fn newtype(input: &DeriveInput, inner: &syn::Type) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let params = &input.generics.params;
    let span = proc_macro2::Span::call_site().located_at(inner.span());
    let bound = quote_spanned!(span=> <#inner as ::bqwrite::BqField>);
    quote! {
        #[automatically_derived]
        impl #impl_generics ::bqwrite::__private::Newtype for #ident #ty_generics #where_clause {
            type Inner = #inner;
            #[inline]
            fn __bq_inner(&self) -> &Self::Inner {
                &self.0
            }
        }

        #[automatically_derived]
        impl #impl_generics ::bqwrite::BqField for #ident #ty_generics #where_clause {
            #[doc(hidden)]
            type __Encoder = ::bqwrite::__private::enc::Inner<#bound::__Encoder>;
            #[doc(hidden)]
            const __BQ_DEPTH: usize = #bound::__BQ_DEPTH;
            #[doc(hidden)]
            const __BQ_TYPE: ::bqwrite::__private::FieldType = #bound::__BQ_TYPE;
            #[doc(hidden)]
            const __BQ_COLUMNS: &'static [::bqwrite::__private::schema_file::StaticColumn] =
                #bound::__BQ_COLUMNS;
            #[doc(hidden)]
            fn __bq_schema(
                name: ::std::string::String,
                mode: ::bqwrite::__private::Mode,
            ) -> ::bqwrite::__private::FieldSchema {
                #bound::__bq_schema(name, mode)
            }
        }

        #[automatically_derived]
        impl<#params __K> ::bqwrite::__private::BqFieldAs<__K> for #ident #ty_generics
        where
            #inner: ::bqwrite::__private::BqFieldAs<__K>,
        {
            type Encoder = ::bqwrite::__private::enc::Inner<
                <#inner as ::bqwrite::__private::BqFieldAs<__K>>::Encoder,
            >;
        }
    }
}

fn unit_enum(input: &DeriveInput, variants: &[Variant<'_>]) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let arms = variants.iter().map(|variant| {
        let name = variant.ident;
        let text = &variant.text;
        quote_spanned!(variant.span=> Self::#name => #text)
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::bqwrite::__private::UnitEnum for #ident #ty_generics #where_clause {
            #[inline]
            fn __bq_name(&self) -> &'static str {
                match self {
                    #(#arms,)*
                }
            }
        }

        #[automatically_derived]
        impl #impl_generics ::bqwrite::BqField for #ident #ty_generics #where_clause {
            #[doc(hidden)]
            type __Encoder = ::bqwrite::__private::enc::EnumText;
            #[doc(hidden)]
            const __BQ_TYPE: ::bqwrite::__private::FieldType = ::bqwrite::__private::FieldType::String;
            #[doc(hidden)]
            fn __bq_schema(
                name: ::std::string::String,
                mode: ::bqwrite::__private::Mode,
            ) -> ::bqwrite::__private::FieldSchema {
                ::bqwrite::__private::FieldSchema::new(
                    name,
                    ::bqwrite::__private::FieldType::String,
                    mode,
                )
            }
        }

        #[automatically_derived]
        impl #impl_generics ::bqwrite::__private::BqFieldAs<::bqwrite::__private::kind::STRING>
            for #ident #ty_generics #where_clause
        {
            type Encoder = ::bqwrite::__private::enc::EnumText;
        }
    }
}
