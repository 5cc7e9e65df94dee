//! Typed, exactly-once writes to BigQuery through the Storage Write API.
//!
//! (Crate documentation with a runnable quick start is written with the writer.)

#![warn(missing_docs)]

pub mod proto;
pub mod row;
pub mod schema;
pub mod types;

pub use schema::{FieldSchema, FieldType, Mode, SchemaError, TableSchema};
pub use row::{BqField, BqRow};
/// Derives [`BqRow`] for a struct: see [`row`] for columns and attributes.
pub use bqwrite_derive::BqRow;

#[doc(hidden)]
pub mod __private;
