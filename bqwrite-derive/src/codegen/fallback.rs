//! On error: the compile errors, plus impls whose bodies never run, so that
//! uses of the struct elsewhere do not add follow-on errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(super) fn expand(input: &DeriveInput, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let row_of = super::row_of::expand(ident, &input.generics);
    quote! {
        #errors

        #row_of

        #[automatically_derived]
        impl #impl_generics ::bqwrite::BqRow for #ident #ty_generics #where_clause {
            fn descriptor() -> &'static ::bqwrite::__private::DescriptorProto {
                ::core::unreachable!()
            }
            fn wire_descriptor() -> &'static ::bqwrite::__private::WireDescriptorProto {
                ::core::unreachable!()
            }
            #[doc(hidden)]
            const __BQ_NAME: &'static str = "";
            #[doc(hidden)]
            const __BQ_FIELD_NAMES: &'static [&'static str] = &[];
            #[doc(hidden)]
            fn __bq_fields(
                _: &mut ::bqwrite::__private::DescriptorCx,
            ) -> ::std::vec::Vec<::bqwrite::__private::FieldDescriptorProto> {
                ::core::unreachable!()
            }
            #[doc(hidden)]
            fn __bq_schema_fields() -> ::std::vec::Vec<::bqwrite::__private::FieldSchema> {
                ::core::unreachable!()
            }
            fn encoded_len(&self) -> usize {
                ::core::unreachable!()
            }
            fn encode(&self, _: &mut impl ::bqwrite::__private::BufMut) {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl #impl_generics ::bqwrite::BqField for #ident #ty_generics #where_clause {
            #[doc(hidden)]
            type __Encoder = ::bqwrite::__private::enc::Message<Self>;
            #[doc(hidden)]
            const __BQ_TYPE: ::bqwrite::__private::FieldType = ::bqwrite::__private::FieldType::Struct;
            #[doc(hidden)]
            fn __bq_schema(
                _: ::std::string::String,
                _: ::bqwrite::__private::Mode,
            ) -> ::bqwrite::__private::FieldSchema {
                ::core::unreachable!()
            }
        }
    }
}

/// On error in `#[derive(BqField)]`: the errors, and an impl whose bodies
/// never run.
pub(super) fn expand_field(input: &DeriveInput, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors

        #[automatically_derived]
        impl #impl_generics ::bqwrite::__private::UnitEnum for #ident #ty_generics #where_clause {
            fn __bq_name(&self) -> &'static str {
                ::core::unreachable!()
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
                _: ::std::string::String,
                _: ::bqwrite::__private::Mode,
            ) -> ::bqwrite::__private::FieldSchema {
                ::core::unreachable!()
            }
        }
    }
}
