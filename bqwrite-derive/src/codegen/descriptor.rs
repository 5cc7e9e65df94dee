//! `BqRow::descriptor`: the proto2 message of the row, built once.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::encoder;
use crate::ast::{Mode, Row};

pub(super) fn expand(row: &Row<'_>) -> TokenStream {
    let name = &row.message_name;
    let proto_names = row.fields.iter().map(|field| &field.proto_name);
    let fields = row.fields.iter().map(|field| {
        let elem = field.elem;
        let encoder = encoder(row, field);
        let proto_name = &field.proto_name;
        let column = if field.proto_name == field.column {
            quote!(::core::option::Option::None)
        } else {
            let column = &field.column;
            quote!(::core::option::Option::Some(#column))
        };
        let tag = field.tag;
        let label = match field.mode {
            Mode::Required => quote!(Required),
            Mode::Nullable => quote!(Optional),
            Mode::Repeated => quote!(Repeated),
        };
        quote_spanned! {field.elem_site()=>
            ::bqwrite::__private::field::<#encoder, #elem>(
                cx,
                #proto_name,
                #column,
                #tag,
                ::bqwrite::__private::Label::#label,
            )
        }
    });
    quote! {
        fn descriptor() -> &'static ::bqwrite::__private::DescriptorProto {
            static DESCRIPTOR: ::std::sync::OnceLock<::bqwrite::__private::DescriptorProto> =
                ::std::sync::OnceLock::new();
            DESCRIPTOR.get_or_init(::bqwrite::__private::plain_descriptor::<Self>)
        }

        fn wire_descriptor() -> &'static ::bqwrite::__private::WireDescriptorProto {
            static DESCRIPTOR: ::std::sync::OnceLock<::bqwrite::__private::WireDescriptorProto> =
                ::std::sync::OnceLock::new();
            DESCRIPTOR.get_or_init(::bqwrite::__private::root_descriptor::<Self>)
        }

        #[doc(hidden)]
        const __BQ_NAME: &'static str = #name;

        #[doc(hidden)]
        const __BQ_FIELD_NAMES: &'static [&'static str] = &[#(#proto_names),*];

        #[doc(hidden)]
        fn __bq_fields(
            cx: &mut ::bqwrite::__private::DescriptorCx,
        ) -> ::std::vec::Vec<::bqwrite::__private::FieldDescriptorProto> {
            ::std::vec![#(#fields),*]
        }
    }
}
