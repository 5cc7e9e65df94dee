//! `BqRow::descriptor`: the proto2 message of the row, built once.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::encoder;
use crate::ast::{Mode, Row};

pub(super) fn expand(row: &Row<'_>) -> TokenStream {
    let name = &row.message_name;
    let columns = row.fields.iter().map(|field| &field.column);
    let fields = row.fields.iter().map(|field| {
        let elem = field.elem;
        let encoder = encoder(field);
        let column = &field.column;
        let tag = field.tag;
        let label = match field.mode {
            Mode::Required => quote!(Required),
            Mode::Nullable => quote!(Optional),
            Mode::Repeated => quote!(Repeated),
        };
        quote_spanned! {field.elem_span()=>
            ::bqwrite::__private::field::<#encoder, #elem>(
                cx,
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
            DESCRIPTOR.get_or_init(::bqwrite::__private::root_descriptor::<Self>)
        }

        #[doc(hidden)]
        const __BQ_NAME: &'static str = #name;

        #[doc(hidden)]
        const __BQ_COLUMNS: &'static [&'static str] = &[#(#columns),*];

        #[doc(hidden)]
        fn __bq_fields(
            cx: &mut ::bqwrite::__private::DescriptorCx,
        ) -> ::std::vec::Vec<::bqwrite::__private::FieldDescriptorProto> {
            ::std::vec![#(#fields),*]
        }
    }
}
