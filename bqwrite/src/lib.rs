//! Typed, exactly-once writes to BigQuery through the Storage Write API.
//!
//! A plain struct derives [`BqRow`]; a [`Writer`] writes it to a table:
//!
//! ```
//! use bqwrite::{BqRow, Client, Writer};
//!
//! #[derive(BqRow)]
//! struct CustomerRecord {
//!     row_num: i64,                  // INT64 REQUIRED
//!     customer_name: Option<String>, // STRING NULLABLE
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::time::timeout(std::time::Duration::from_secs(60), async {
//! # let emulator = bqwrite_emulator::Emulator::builder().project("my-project").start().await?;
//! # emulator.create_table("my_dataset.customer_records", CustomerRecord::table_schema())?;
//! # // SAFETY: this example runs in a process of its own, and the runtime has one thread.
//! # unsafe { std::env::set_var("BIGQUERY_STORAGE_EMULATOR_HOST", emulator.grpc_addr().to_string()) };
//! // BIGQUERY_STORAGE_EMULATOR_HOST when set, else Application Default Credentials.
//! let client = Client::from_env().await?;
//! let table = client.table("my-project", "my_dataset", "customer_records")?;
//!
//! let mut writer = Writer::<CustomerRecord>::pending(&table).await?;
//! writer
//!     .append([
//!         CustomerRecord { row_num: 1, customer_name: Some("Alice".into()) },
//!         CustomerRecord { row_num: 2, customer_name: Some("Bob".into()) },
//!     ])
//!     .await?;
//! writer.append([CustomerRecord { row_num: 3, customer_name: Some("Charles".into()) }]).await?;
//! let finalized = writer.finalize().await?;
//! let commit = finalized.commit().await?;
//! println!("{} rows visible since {}", commit.rows(), commit.commit_time());
//! # assert_eq!(emulator.row_count("my_dataset.customer_records")?, 3);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).await?
//! # }
//! ```
//!
//! `cargo run --example customer_records` runs this on an embedded emulator
//! (the `bqwrite-emulator` crate), with no cloud account, and so does this
//! example as a doctest. The [`guide`] has a page per topic, from choosing
//! a stream type to testing with fault injection and migrating from other
//! clients.
//!
//! # Choose a stream type
//!
//! | writer | rows visible | exactly once | costs beyond the bytes | for |
//! | --- | --- | --- | --- | --- |
//! | [`Writer::pending`] | at commit, atomically (across streams too) | yes | a stream to create, finalize and commit | batch loads, all or nothing |
//! | [`Writer::committed`] | when each append is acknowledged | yes | a stream to create, a connection of its own | continuous writing that must not duplicate |
//! | [`Writer::buffered`] | up to the offset flushed | yes | a stream to create, a call per flush | visibility on your schedule |
//! | [`Writer::default_stream`] | when each append is acknowledged | at least once | none: always there, connections shared | many writers, no stream to manage |
//!
//! Ingestion is billed per byte for every stream type. The guide's
//! [stream types](guide::stream_types) page says more about each, and the
//! [`writer`] module how to pick between `append` and the pipelined `send`.
//!
//! # What the writer does for you
//! - Checks, before the first row is sent, that the struct can write to the
//!   table, and lists every mismatch ([`ErrorKind::SchemaMismatch`]).
//! - Tracks offsets: every request carries the offset of its first row, so the
//!   service never writes a row twice.
//! - Splits rows into requests under the size limit, pipelines them on one
//!   connection with a bounded window ([`WriterOptions`]), across calls too
//!   ([`Writer::send`] returns a ticket to await later), and applies
//!   back-pressure: memory stays bounded whatever the input.
//! - Reconnects after a broken connection and resends what was not
//!   acknowledged, at the same offsets ([`retry`] says what is retried); a
//!   stream can be continued by another process ([`Writer::resume`]).
//! - Maps rows the service rejects back to your indices ([`RowError`]).
//!
//! # Modules
//! - [`guide`]: the guide, a page per topic: stream types, rows, writers,
//!   the sink, recovery and exactly-once, testing with the emulator,
//!   running against BigQuery, migrating from other clients.
//! - [`row`]: the [`BqRow`] derive, its attributes and the type mapping.
//! - [`types`]: BigQuery values (DATE, TIMESTAMP, NUMERIC, JSON, RANGE, ...)
//!   with checked constructors.
//! - [`schema`]: table schemas, in BigQuery's JSON format too.
//! - [`client`], [`table`], [`writer`]: the connection and the lifecycle.
//! - [`change`]: upserts and deletes by primary key (change data capture),
//!   written with [`Writer::append_changes`] on `_default`, or one at a
//!   time from many tasks through a [`ChangeSink`].
//! - [`proto`]: the raw generated API, for what the typed API does not cover.
//!
//! # One row at a time, or many connections
//! - [`Sink`] (`client.sink::<T>(&table)`): any number of tasks each send
//!   one row at a time; rows are batched into requests for them, and each
//!   `send` resolves with its own row's outcome.
//! - [`ChangeSink`] (`client.change_sink::<T>(&table)`): the same for
//!   upserts and deletes by primary key, on the table's `_default` stream.
//! - [`PendingGroup`] (`table.pending_group::<T>(n)`): rows spread over `n`
//!   PENDING streams on `n` connections, made visible by one atomic commit.
//!
//! # Features
//! - `chrono`: conversions between [`types`] and chrono's date and time types.
//! - `time`: conversions between [`types`] and the time crate's types.
//! - `rust_decimal`: [`types::Numeric`] to and from `rust_decimal::Decimal`.
//! - `uuid`: `uuid::Uuid` fields as STRING columns.
//! - `server`: the gRPC server half of [`proto`] (for emulators).
//! - `opentelemetry`: OpenTelemetry instruments for writers, sinks and unary
//!   retries (see [Metrics](writer#metrics)).

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
pub mod change;
pub mod client;
mod compat;
pub mod error;
pub mod guide;
#[cfg(feature = "opentelemetry")]
mod metrics;
pub mod proto;
pub mod retry;
pub mod row;
pub mod schema;
mod status;
pub mod table;
pub mod types;
pub mod writer;

pub use change::{Change, ChangeOf, ChangeSequence, ChangeType};
pub use client::{Client, ClientBuilder};
pub use error::{CommitOutcome, Error, ErrorKind, Result, RowError, SchemaMismatch};
pub use retry::RetryPolicy;
pub use table::{Commit, Finalized, Table, TablePath};
pub use writer::{
    AppendTicket, Buffered, Committed, DefaultStream, Pending, Writer, WriterOptions, WriterStats,
};

/// Derives [`BqField`] for a newtype or a fieldless enum: see
/// [Your own types](row#your-own-types).
pub use bqwrite_derive::BqField;
/// Derives [`BqRow`] for a struct: see [`row`] for columns and attributes.
pub use bqwrite_derive::BqRow;
pub use row::{BqField, BqRow, ColumnValueError, RowOf};
pub use schema::{FieldSchema, FieldType, Mode, SchemaError, TableSchema};
pub use writer::{ChangeSink, PendingGroup, Sink, SinkOptions};

#[doc(hidden)]
pub mod __private;
