//! `#[bq(with = "module")]`: per such field, a hidden encoder type whose
//! methods call `module::to_bq` and write what it returns with that type's
//! own encoder. The return type is never named: it is inferred from the
//! function by the helpers in `bqwrite::__private::with`.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;

use crate::ast::{Field, Row};

/// The name of the encoder type generated for `field`.
pub(super) fn marker(row: &Row<'_>, field: &Field<'_>) -> Ident {
    format_ident!(
        "__BqWith_{}_{}",
        row.ident.unraw(),
        field.ident.unraw(),
        span = field.elem_site()
    )
}

pub(super) fn expand(row: &Row<'_>) -> TokenStream {
    let lifetimes: Vec<_> = row.generics.lifetimes().collect();
    let impls = row.fields.iter().filter_map(|field| {
        let module = field.with.as_ref()?;
        let marker = marker(row, field);
        let elem = field.elem;
        let with = quote!(::bqwrite::__private::with);
        Some(quote_spanned! {field.elem_site()=>
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            enum #marker {}

            #[automatically_derived]
            impl<#(#lifetimes),*> ::bqwrite::__private::Encoder<#elem> for #marker {
                const PROTO: ::bqwrite::__private::ProtoType = #with::proto::<#elem, _>(#module::to_bq);
                const WIRE: ::bqwrite::__private::WireType = #with::wire::<#elem, _>(#module::to_bq);
                const PACKED: bool = #with::packed::<#elem, _>(#module::to_bq);
                const FALLIBLE: bool = #with::fallible::<#elem, _>(#module::to_bq);
                #[inline]
                fn len(value: &#elem) -> usize {
                    #with::len(&#module::to_bq(value))
                }
                #[inline]
                fn put(value: &#elem, buf: &mut impl ::bqwrite::__private::BufMut) {
                    #with::put(&#module::to_bq(value), buf)
                }
                fn type_name(
                    cx: &mut ::bqwrite::__private::DescriptorCx,
                ) -> ::core::option::Option<::std::string::String> {
                    #with::type_name::<#elem, _>(#module::to_bq, cx)
                }
                fn check(value: &#elem) -> ::core::result::Result<(), ::bqwrite::ColumnValueError> {
                    #with::check(&#module::to_bq(value))
                }
            }
        })
    });
    quote!(#(#impls)*)
}
