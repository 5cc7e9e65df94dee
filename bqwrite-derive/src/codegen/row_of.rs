//! `bqwrite::RowOf`: the struct with any lifetimes is a row of the struct
//! with any other, so a writer of `Order<'a>` takes batches of `Order<'b>`
//! that do not outlive it. Lifetimes are erased before code generation, so
//! both have the same descriptor and encoder.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{GenericParam, Generics, Ident, Lifetime};

pub(super) fn expand(ident: &Ident, generics: &Generics) -> TokenStream {
    let only_lifetimes = generics
        .params
        .iter()
        .all(|param| matches!(param, GenericParam::Lifetime(_)))
        && generics.where_clause.is_none();
    if !only_lifetimes {
        // Only reached next to a compile error (see `fallback`): relate the
        // struct to itself, so its uses add no follow-on errors.
        let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
        return row_of_impl(
            quote!(#impl_generics),
            quote!(#ident #ty_generics),
            quote!(#ident #ty_generics),
            quote!(#where_clause),
        );
    }
    let count = generics.lifetimes().count();
    let fresh = |prefix: &str| -> Vec<Lifetime> {
        (0..count)
            .map(|i| Lifetime::new(&format!("'__bq_{prefix}{i}"), Span::call_site()))
            .collect()
    };
    let (of, row) = (fresh("of"), fresh("row"));
    let (of_ty, row_ty) = if count == 0 {
        (quote!(#ident), quote!(#ident))
    } else {
        (quote!(#ident<#(#of),*>), quote!(#ident<#(#row),*>))
    };
    // Bounds between the struct's lifetimes hold on both sides as implied
    // bounds of the impl header, so they are not repeated.
    row_of_impl(quote!(<#(#of,)* #(#row),*>), of_ty, row_ty, quote!())
}

fn row_of_impl(
    impl_generics: TokenStream,
    of_ty: TokenStream,
    row_ty: TokenStream,
    where_clause: TokenStream,
) -> TokenStream {
    quote! {
        #[automatically_derived]
        impl #impl_generics ::bqwrite::RowOf<#of_ty> for #row_ty #where_clause {
            #[doc(hidden)]
            type __Row = Self;
            #[doc(hidden)]
            #[inline]
            fn __row(&self) -> &Self {
                self
            }
        }
    }
}
