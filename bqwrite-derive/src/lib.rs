//! `#[derive(BqRow)]` for [bqwrite](https://docs.rs/bqwrite): a proto2 descriptor,
//! a one-pass serializer and the BigQuery table schema of a plain Rust struct.
//!
//! Use it through `bqwrite::BqRow`, which re-exports this macro next to the trait
//! of the same name; the generated code refers to `::bqwrite::...` paths.
//! The attributes are documented on the `bqwrite::row` module.

mod ast;
mod attr;
mod codegen;
mod column;
mod ctxt;
mod schema_file;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `bqwrite::BqRow` (and `bqwrite::BqField`, so the struct can be a
/// STRUCT column of another row) for a struct with named fields.
#[proc_macro_derive(BqRow, attributes(bq))]
pub fn derive_bq_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    codegen::expand(&input).into()
}

/// Derives `bqwrite::BqField` for a newtype (`struct UserId(i64);`, the
/// column of the type it wraps) or a fieldless enum (a STRING column of its
/// variant names, renamed with `#[bq(rename_all = "...")]` on the enum or
/// `#[bq(rename = "...")]` on a variant).
#[proc_macro_derive(BqField, attributes(bq))]
pub fn derive_bq_field(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    codegen::expand_field(&input).into()
}
