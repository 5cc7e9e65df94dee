//! `#[bq(schema = "...")]`: the struct checked against a table schema file.

use proc_macro2::TokenStream;

use crate::ast::Row;

pub(super) fn expand(row: &Row<'_>) -> TokenStream {
    let _ = row;
    TokenStream::new()
}
