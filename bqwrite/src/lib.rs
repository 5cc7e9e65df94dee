//! Typed, exactly-once writes to BigQuery through the Storage Write API.
//!
//! (Crate documentation with a runnable quick start is written with the writer.)

#![warn(missing_docs)]

pub mod client;
mod compat;
pub mod error;
pub mod proto;
pub mod retry;
pub mod row;
pub mod schema;
mod status;
pub mod table;
pub mod types;
pub mod writer;

pub use client::{Client, ClientBuilder};
pub use error::{Error, ErrorKind, Result, RowError, SchemaMismatch};
pub use retry::RetryPolicy;
pub use table::{Commit, Table, TablePath};
pub use writer::{Finalized, Writer, WriterOptions};

/// Derives [`BqRow`] for a struct: see [`row`] for columns and attributes.
pub use bqwrite_derive::BqRow;
pub use row::{BqField, BqRow};
pub use schema::{FieldSchema, FieldType, Mode, SchemaError, TableSchema};

#[doc(hidden)]
pub mod __private;
