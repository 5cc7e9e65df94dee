//! `BqRow::DEFAULT_COLUMNS` and `BqRow::MISSING_AS_DEFAULT`: which absent
//! values ask the service for the column's default value.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Row;

pub(super) fn expand(row: &Row<'_>) -> TokenStream {
    let columns = row
        .fields
        .iter()
        .filter(|field| field.default)
        .map(|field| &field.column);
    let missing_default = row.missing_default;
    quote! {
        const DEFAULT_COLUMNS: &'static [&'static str] = &[#(#columns),*];
        const MISSING_AS_DEFAULT: bool = #missing_default;
    }
}
