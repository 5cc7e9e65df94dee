//! Typed, exactly-once writes to BigQuery through the Storage Write API.
//!
//! (Crate documentation with a runnable quick start is written with the writer.)

#![warn(missing_docs)]

pub mod proto;
pub mod schema;
pub mod types;

pub use schema::{FieldSchema, FieldType, Mode, SchemaError, TableSchema};
