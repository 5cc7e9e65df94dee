//! `BqRow::encoded_len` and `BqRow::encode`: one call per column into the
//! wire functions of `bqwrite::__private`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{encoder, mode_module};
use crate::ast::Row;

pub(super) fn expand(row: &Row<'_>) -> TokenStream {
    let lens = row.fields.iter().map(|field| {
        let ident = field.ident;
        let elem = field.elem;
        let encoder = encoder(row, field);
        let module = mode_module(field.mode);
        let tag = field.tag;
        quote_spanned! {field.elem_site()=>
            ::bqwrite::__private::#module::encoded_len::<#encoder, #elem>(#tag, &self.#ident)
        }
    });
    let writes = row.fields.iter().map(|field| {
        let ident = field.ident;
        let elem = field.elem;
        let encoder = encoder(row, field);
        let module = mode_module(field.mode);
        let tag = field.tag;
        quote_spanned! {field.elem_site()=>
            ::bqwrite::__private::#module::encode::<#encoder, #elem>(#tag, &self.#ident, buf);
        }
    });
    let fallible = row.fields.iter().map(|field| {
        let elem = field.elem;
        let encoder = encoder(row, field);
        quote_spanned! {field.elem_site()=>
            <#encoder as ::bqwrite::__private::Encoder<#elem>>::FALLIBLE
        }
    });
    let checks = row.fields.iter().map(|field| {
        let ident = field.ident;
        let elem = field.elem;
        let encoder = encoder(row, field);
        let module = mode_module(field.mode);
        let column = &field.column;
        quote_spanned! {field.elem_site()=>
            ::bqwrite::__private::#module::validate::<#encoder, #elem>(#column, &self.#ident)?;
        }
    });
    quote! {
        #[doc(hidden)]
        const __BQ_FALLIBLE: bool = false #(|| #fallible)*;

        fn validate(&self) -> ::core::result::Result<(), ::bqwrite::ColumnValueError> {
            if !<Self as ::bqwrite::BqRow>::__BQ_FALLIBLE {
                return ::core::result::Result::Ok(());
            }
            #(#checks)*
            ::core::result::Result::Ok(())
        }

        #[inline]
        fn encoded_len(&self) -> usize {
            0 #(+ #lens)*
        }

        #[inline]
        fn encode(&self, buf: &mut impl ::bqwrite::__private::BufMut) {
            #(#writes)*
        }
    }
}
