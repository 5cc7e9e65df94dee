//! A faithful local BigQuery Storage Write API server, for tests and
//! development.
//!
//! It speaks the `google.cloud.bigquery.storage.v1.BigQueryWrite` gRPC service
//! the way BigQuery does (PENDING, COMMITTED, BUFFERED and `_default` streams,
//! offsets with in-band `ALREADY_EXISTS`/`OUT_OF_RANGE`, `StorageError`
//! details, row errors, atomic batch commits) and decodes every row itself from
//! the request's `writer_schema`, checking each value against the table's
//! column types, so a client's encoding mistakes fail loudly. A small subset of
//! the BigQuery REST API (datasets, tables, tabledata.list; see [the REST
//! API](#the-rest-api)) runs on a second port.
//!
//! # Quick start
//! ```no_run
//! use bqwrite::proto::storage::{TableFieldSchema, TableSchema, table_field_schema::{Mode, Type}};
//!
//! # async fn run() -> Result<(), bqwrite_emulator::Error> {
//! let emu = bqwrite_emulator::Emulator::builder().project("test-project").start().await?;
//! emu.create_table(
//!     "projects/test-project/datasets/d/tables/t",
//!     TableSchema {
//!         fields: vec![TableFieldSchema {
//!             name: "id".into(),
//!             r#type: Type::Int64 as i32,
//!             mode: Mode::Required as i32,
//!             ..Default::default()
//!         }],
//!     },
//! )?;
//! // point a client at emu.grpc_endpoint(), write, then:
//! let rows = emu.rows("projects/test-project/datasets/d/tables/t")?;
//! println!("{} rows committed", rows.len());
//! emu.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Errors the API returns
//! Most AppendRows failures are answered in-band (the response's `error`)
//! and the connection stays open; a writer schema with fields the table
//! lacks ends the call, as in BigQuery. Unary calls fail with a gRPC status.
//! A `StorageError`, where one applies, is packed in the status details and,
//! for a status that ends a call, also sent in the
//! `google.cloud.bigquery.storage.v1.storageerror-bin` trailer. Every error,
//! its code and its message: [`docs::errors`].
//!
//! An application-created (COMMITTED, PENDING, BUFFERED) stream allows one
//! active AppendRows connection, as in BigQuery; `_default` takes any number.
//! A connection holds the stream from its first request naming it until the
//! server notices the connection is gone: its request stream ends or fails
//! (a half-close, a cancel, a broken transport), its responses are dropped, a
//! fault closes it, or the emulator shuts down or restarts. While another
//! connection holds the stream, the first request of a new one waits up to two
//! seconds for it to go (a client that reconnects at once may be faster than
//! the server noticing the old connection's end), then is refused in-band with
//! FAILED_PRECONDITION naming the stream; nothing is applied and the
//! connection stays open, so it may try again once the stream is free. (The
//! public documentation states the rule but not its error code;
//! FAILED_PRECONDITION says that the stream's state, not the request, is at
//! fault, and unlike ALREADY_EXISTS a client cannot take it for an offset
//! that was already written.)
//!
//! # Multiplexing
//! The `_default` streams of any number of tables may share one AppendRows
//! connection, as in BigQuery: each request names its stream in
//! `write_stream` (a request without one goes to the connection's last
//! destination) and a `writer_schema` it carries applies from that request
//! on (a destination switch without one reuses the last schema, checked
//! against the new table). An application-created stream never shares a
//! connection: a request naming another destination on a connection bound to
//! one, or naming one on a connection carrying `_default` streams, is refused
//! in-band with INVALID_ARGUMENT ("only `_default` streams may share an
//! AppendRows connection") and the connection goes on with its destination.
//! (BigQuery documents the rule, not its error; in-band keeps the other
//! tables' rows on the connection flowing.) A multiplexed connection may be
//! routed by location, `x-goog-request-params: write_location=projects/P/locations/L`
//! as Google's clients send it: its requests must then name streams of
//! project `P`. Every dataset's location is `US`.
//! [`Emulator::append_rows_connections`] counts connections (open now, peak,
//! total), to check how many a client holds.
//!
//! BatchCommitWriteStreams reports per-stream problems in `stream_errors`
//! (STREAM_NOT_FOUND, INVALID_STREAM_TYPE for a non-PENDING stream,
//! INVALID_STREAM_STATE for one not finalized, STREAM_ALREADY_COMMITTED) and
//! then commits nothing.
//!
//! # The REST API
//! The second port ([`Emulator::http_endpoint`], `--http-port`) serves this
//! subset of BigQuery API v2, under `/bigquery/v2` and, for clients whose
//! base URL already ends there, at the root as well. Shapes are BigQuery's
//! (`kind`, `id`, `datasetReference`/`tableReference`, schemas in BigQuery's
//! JSON format, legacy type names such as `INTEGER` and `RECORD`); page
//! tokens are opaque strings; parameters not listed are ignored.
//!
//! | method and path (under `/bigquery/v2`) | BigQuery method | parameters |
//! |---|---|---|
//! | `GET /projects/{project}/datasets` | datasets.list | `maxResults`, `pageToken` |
//! | `POST /projects/{project}/datasets` | datasets.insert | body: a Dataset with `datasetReference.datasetId` |
//! | `GET /projects/{project}/datasets/{dataset}` | datasets.get | |
//! | `DELETE /projects/{project}/datasets/{dataset}` | datasets.delete | `deleteContents=true` also deletes its tables (otherwise a dataset with tables is refused) |
//! | `GET /projects/{project}/datasets/{dataset}/tables` | tables.list | `maxResults`, `pageToken` |
//! | `POST /projects/{project}/datasets/{dataset}/tables` | tables.insert | body: a Table with `tableReference.tableId` and `schema.fields`, optionally `tableConstraints.primaryKey.columns`; the dataset must exist |
//! | `GET /projects/{project}/datasets/{dataset}/tables/{table}` | tables.get | (`tableConstraints` when the table has a primary key) |
//! | `DELETE /projects/{project}/datasets/{dataset}/tables/{table}` | tables.delete | |
//! | `PATCH /projects/{project}/datasets/{dataset}/tables/{table}` | tables.patch | body: a Table; its `schema`, if given, replaces the table's: columns added as NULLABLE or REPEATED, REQUIRED relaxed to NULLABLE (see [when a table changes](#when-a-table-changes)) |
//! | `PUT /projects/{project}/datasets/{dataset}/tables/{table}` | tables.update | as tables.patch, and columns the new schema lacks are dropped |
//! | `GET /projects/{project}/datasets/{dataset}/tables/{table}/data` | tabledata.list | `maxResults` (default 100000), `pageToken` or `startIndex`; a table with a primary key lists its changes merged |
//!
//! Lists leave out their item array when empty and give `nextPageToken`
//! (`pageToken` for tabledata.list) while more items follow. Errors carry
//! BigQuery's JSON body, `{"error": {"code": 404, "message": "...",
//! "errors": [{"message": "...", "domain": "global", "reason": "notFound"}],
//! "status": "NOT_FOUND"}}`:
//!
//! | situation | HTTP status | `reason` | `status` |
//! |---|---|---|---|
//! | malformed body or parameter, invalid schema, a schema change BigQuery refuses | 400 | `invalid` | `INVALID_ARGUMENT` |
//! | deleting a dataset that has tables | 400 | `resourceInUse` | `INVALID_ARGUMENT` |
//! | unknown dataset, table or path | 404 | `notFound` | `NOT_FOUND` |
//! | dataset or table exists already | 409 | `duplicate` | `ALREADY_EXISTS` |
//! | a method the path does not take (an `Allow` header lists those it does) | 405 | `methodNotAllowed` | `UNIMPLEMENTED` |
//!
//! # When a table changes
//! A table's schema changes through tables.patch and tables.update (above)
//! or [`Emulator::alter_table`] (as `ALTER TABLE` would). BigQuery allows, and
//! so does the emulator: adding NULLABLE or REPEATED columns (top level or
//! inside a RECORD), relaxing REQUIRED to NULLABLE, and (tables.update,
//! `alter_table`) dropping top-level columns. Any other change is refused with
//! BigQuery's wording ("Provided Schema does not match Table p:d.t. Field x
//! has changed type from INT64 to STRING", "... Field x is missing in new
//! schema" for a drop through tables.patch, "... Cannot add required field
//! x ...").
//!
//! The table's metadata (tables.get, GetWriteStream) shows a change at once.
//! The write path follows after [`EmulatorBuilder::schema_propagation`]
//! (`--schema-propagation-ms`, default 0), as BigQuery's does after seconds
//! to a minute. Until then:
//! - a writer schema naming an added column ends the call like any field
//!   the table lacks (INVALID_ARGUMENT, SCHEMA_MISMATCH_EXTRA_FIELDS, "Input
//!   schema has more fields than BigQuery schema, extra fields: 'x'");
//! - a dropped column is still accepted by new connections.
//!
//! A connection checks its writer schema against the write path when it
//! receives it and keeps that check: a REQUIRED column relaxed to NULLABLE
//! is still required on a connection opened before the change, and a
//! dropped column is accepted there for as long as the connection lives. A
//! dropped column's values are discarded: rows are read back in the table's
//! current columns, so they are gone from rows written before the drop too,
//! and a column added later reads as NULL in older rows.
//!
//! Once a change reaches the write path, the next answer on every open
//! AppendRows connection to the table carries the new schema in
//! `updated_schema` (once per change per connection).
//!
//! The emulator keeps a table's primary key and its column default value
//! expressions by column position, as the table was made: it refuses
//! (saying so) to drop a column of a table with either, and to add a column
//! with a default value expression through a change, which BigQuery allows.
//!
//! A table deleted and created again under the same name answers AppendRows
//! with NOT_FOUND (TABLE_NOT_FOUND, in-band) for
//! [`EmulatorBuilder::recreate_window`] (`--recreate-window-ms`, default 0).
//! A connection to `_default` follows the table by name: once the window is
//! over it writes to the new table. The old table's application streams are
//! gone with it.
//!
//! # A simulated wide-area link
//! On loopback a round trip takes microseconds and bandwidth is nearly
//! unlimited, which hides what a client does badly on a real network (one
//! request at a time, waiting for each answer). With
//! [`EmulatorBuilder::latency`] and [`EmulatorBuilder::connection_mbps`]
//! (`--latency-ms` and `--connection-mbps` on the program), every gRPC
//! connection goes through a simulated link:
//!
//! - every byte, in each direction, is delivered `latency` after it was sent:
//!   a request and its answer cost at least twice the latency;
//! - each direction of each connection carries at most the bandwidth (200
//!   Mbit/s = 25 MB/s), independently of the other direction and of other
//!   connections: eight connections carry eight times as much;
//! - the link is a delay line, not stop-and-wait: requests sent one after
//!   the other travel together, so a client that pipelines reaches the full
//!   bandwidth whatever the latency. The bytes in flight per direction are
//!   bounded by twice the bandwidth-delay product (at least 256 KiB; 16 MiB
//!   with no bandwidth limit), which slows a faster sender down as a TCP
//!   window would.
//!
//! The REST API is not shaped. Delays come from Tokio timers (millisecond
//! resolution); nothing spins. The links carry bytes on a thread of
//! their own (`emulator-link`, started with the first shaped connection and
//! shared by every emulator of the process), not on the server's runtime, so
//! a server busy checking a large request does not leave its links idle
//! meanwhile (what it has not read yet waits in the connection's buffer, as
//! it would in a socket's).
//!
//! ```no_run
//! # async fn run() -> Result<(), bqwrite_emulator::Error> {
//! use std::time::Duration;
//! // a client 10 ms away, 200 Mbit/s per connection
//! let emu = bqwrite_emulator::Emulator::builder()
//!     .latency(Duration::from_millis(10))
//!     .connection_mbps(200.0)
//!     .start()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Not emulated
//! Arrow rows and `STRING` max lengths. Column default values are emulated
//! for the expressions listed under [Column defaults](#column-defaults); other
//! expressions BigQuery allows (`RAND()`, `SESSION_USER()`, `ST_GEOGPOINT()`,
//! STRUCT and ARRAY defaults) are refused at table creation. (The `column_name` field
//! option is emulated: a writer_schema field that carries it writes the
//! column it names, whatever the field's own name. So is the limit of one
//! active connection per application stream, described above. writer_schema
//! fields whose names derive the same JSON name, such as `order_id` and
//! `orderId`, are accepted, as protobuf accepts them in proto2.)

//!
//! # Column defaults
//! A column's `defaultValueExpression` (REST JSON, or
//! `default_value_expression` of the Rust `TableSchema`) is checked when the
//! table is created: literals of the column's type (`'n/a'`, `42`, `1.5`,
//! `TRUE`, `b'..'`, `NULL` for NULLABLE columns, `DATE '2024-01-01'`,
//! `TIMESTAMP '...'`, `NUMERIC '1.5'`, `JSON '{}'`, and string literals that
//! coerce to the column's type), `CURRENT_TIMESTAMP()`, `CURRENT_DATE()`,
//! `CURRENT_DATETIME()`, `CURRENT_TIME()` (UTC, the time of the append) and
//! `GENERATE_UUID()` (a random version 4 UUID per row). Top-level, scalar,
//! non-REPEATED columns only, as BigQuery allows defaults on top-level
//! columns only. An append applies a column's default to rows that leave it
//! out (absent from the row or from the writer schema) when the request's
//! `missing_value_interpretations` says `DEFAULT_VALUE` for the column, or
//! else the connection's last `default_missing_value_interpretation` does;
//! otherwise the value is NULL (and a REQUIRED column left out is a row
//! error). Unknown column names, STRUCT field paths and UNSPECIFIED values in
//! the map are refused with INVALID_ARGUMENT.

#![warn(missing_docs)]

mod auth;
mod builder;
mod cdc;
mod conns;
mod defaults;
pub mod docs;
mod error;
mod evolve;
mod faults;
mod link;
mod mux;
mod rest;
mod schema;
mod server;
mod status;
mod store;
mod values;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bqwrite::proto::storage::TableSchema;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use builder::EmulatorBuilder;
pub use conns::ConnectionStats;
pub use error::Error;
pub use faults::{Faults, UnaryMethod};
pub use values::{Row, Value};

use builder::serve;
use link::Link;
use server::Config;
use store::{Store, TableName};

/// The default limit on one AppendRowsRequest: 10 MiB, as BigQuery enforced it.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// How long [`Emulator::shutdown`] waits for connections to wind down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running emulator: a gRPC Storage Write API server and a REST server.
///
/// Dropping it signals both servers to stop; [`Emulator::shutdown`] also
/// waits for them.
#[derive(Debug)]
pub struct Emulator {
    store: Arc<Store>,
    faults: Faults,
    config: Arc<Config>,
    link: Link,
    bearer: Option<auth::BearerCheck>,
    project: String,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Emulator {
    /// Settings to start an emulator with; `127.0.0.1:0` for both servers.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The default project.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The bound REST address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The gRPC endpoint as a URL: `http://127.0.0.1:PORT`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// The REST endpoint as a URL: `http://127.0.0.1:PORT` (the API lives
    /// under `/bigquery/v2/`).
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The fault injection controls.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Resolves `projects/p/datasets/d/tables/t`, or `d.t` in the default project.
    fn table_path(&self, table: &str) -> Result<String, Error> {
        if let Some(name) = TableName::parse(table) {
            return Ok(name.path());
        }
        match table.split_once('.') {
            Some((dataset, t))
                if !dataset.is_empty() && !t.is_empty() && !t.contains(['.', '/']) =>
            {
                Ok(TableName {
                    project: self.project.clone(),
                    dataset: dataset.into(),
                    table: t.into(),
                }
                .path())
            }
            _ => Err(Error::InvalidTableName(table.into())),
        }
    }

    /// Creates a dataset.
    pub fn create_dataset(&self, project: &str, dataset: &str) -> Result<(), Error> {
        self.store.create_dataset(project, dataset)
    }

    /// Creates a table (`projects/p/datasets/d/tables/t` or `d.t`), and its
    /// dataset if that does not exist yet.
    pub fn create_table(&self, table: &str, schema: impl Into<TableSchema>) -> Result<(), Error> {
        let path = self.table_path(table)?;
        self.store
            .create_table(&path, schema.into(), true)
            .map(|_| ())
    }

    /// Creates a table with a primary key (`PRIMARY KEY (...) NOT ENFORCED`,
    /// 1 to 16 top-level columns), and its dataset if that does not exist
    /// yet. Its `_default` stream takes changes (rows with `_CHANGE_TYPE`
    /// and `_CHANGE_SEQUENCE_NUMBER`), and reading it shows them merged by
    /// key: see [CDC](crate#change-data-capture).
    ///
    /// # Errors
    /// [`Error::InvalidSchema`] for a key column that is missing, listed
    /// twice, REPEATED, STRUCT or JSON, or more than 16 columns.
    pub fn create_table_with_primary_key<K>(
        &self,
        table: &str,
        schema: impl Into<TableSchema>,
        primary_key: K,
    ) -> Result<(), Error>
    where
        K: IntoIterator,
        K::Item: Into<String>,
    {
        let path = self.table_path(table)?;
        let key = primary_key.into_iter().map(Into::into).collect();
        self.store
            .create_table_keyed(&path, schema.into(), Some(key), true)
            .map(|_| ())
    }

    /// A table's primary key columns (empty without one).
    pub fn primary_key(&self, table: &str) -> Result<Vec<String>, Error> {
        let path = self.table_path(table)?;
        let table = self.store.table(&path).ok_or(Error::TableNotFound(path))?;
        Ok(table
            .primary_key
            .as_ref()
            .map(|k| k.names.clone())
            .unwrap_or_default())
    }

    /// Creates a table from BigQuery's JSON schema (an array of fields, or
    /// `{"fields": [...]}`, legacy type names accepted), and its dataset if
    /// that does not exist yet.
    pub fn create_table_from_json(&self, table: &str, schema_json: &str) -> Result<(), Error> {
        let schema = schema::from_json_text(schema_json).map_err(Error::InvalidSchema)?;
        self.create_table(table, schema)
    }

    /// Deletes a table; its streams go with it.
    pub fn delete_table(&self, table: &str) -> Result<(), Error> {
        self.store.delete_table(&self.table_path(table)?)
    }

    /// Changes a table's schema as `ALTER TABLE` does: columns added as
    /// NULLABLE or REPEATED, REQUIRED columns relaxed to NULLABLE, columns
    /// dropped (every column of the table that `schema` lacks). The table's
    /// metadata shows the change at once; the write path after the
    /// [propagation delay](EmulatorBuilder::schema_propagation).
    ///
    /// # Errors
    /// [`Error::InvalidSchemaChange`] for any other change (a type changed,
    /// a REQUIRED column added, a mode tightened), naming the field;
    /// [`Error::TableNotFound`].
    pub fn alter_table(&self, table: &str, schema: impl Into<TableSchema>) -> Result<(), Error> {
        let path = self.table_path(table)?;
        let found = self.store.table(&path).ok_or(Error::TableNotFound(path))?;
        let settings = self.store.settings;
        evolve::alter(&found, schema.into(), evolve::Drops::Allowed, &settings).map(|_| ())
    }

    /// A table's schema.
    pub fn table_schema(&self, table: &str) -> Result<TableSchema, Error> {
        let path = self.table_path(table)?;
        self.store
            .table(&path)
            .map(|t| t.schema())
            .ok_or(Error::TableNotFound(path))
    }

    /// The number of visible (committed or flushed) rows of a table.
    pub fn row_count(&self, table: &str) -> Result<usize, Error> {
        let path = self.table_path(table)?;
        self.store
            .table(&path)
            .map(|t| t.row_count())
            .ok_or(Error::TableNotFound(path))
    }

    /// The visible rows of a table, in the order they became visible. On a
    /// table with a primary key, the changes merged by key (each key's
    /// winning change, in the order those arrived).
    pub fn rows(&self, table: &str) -> Result<Vec<Row>, Error> {
        let path = self.table_path(table)?;
        let table = self.store.table(&path).ok_or(Error::TableNotFound(path))?;
        table.read_rows(0, usize::MAX)
    }

    /// How many rows were appended to a write stream so far, visible or not
    /// (`projects/p/datasets/d/tables/t/streams/s`).
    pub fn stream_rows(&self, stream: &str) -> Result<i64, Error> {
        self.store
            .stream(stream)
            .map(|s| s.appended())
            .map_err(|_| Error::StreamNotFound(stream.to_owned()))
    }

    /// Stops both servers: open AppendRows connections end with UNAVAILABLE;
    /// waits a few seconds at most for connections to close.
    pub async fn shutdown(mut self) {
        self.stop_servers().await;
        info!("bqwrite emulator stopped");
    }

    /// How many AppendRows connections are open now, were open at most at
    /// once, and were opened in all, since the emulator started (restarts
    /// included). A client that multiplexes `_default` streams keeps `peak`
    /// at its pool's size however many tables it writes.
    pub fn append_rows_connections(&self) -> ConnectionStats {
        self.config.connections.stats()
    }

    /// Restarts both servers on the same addresses, as a server that goes
    /// away and comes back: every open connection breaks, while tables,
    /// streams, their rows and offsets are kept.
    pub async fn restart(&mut self) -> Result<(), Error> {
        self.stop_servers().await;
        let bind = |service: &'static str, addr: SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|source| Error::Bind {
                service,
                addr,
                source,
            })
        };
        let grpc_listener = bind("gRPC", self.grpc_addr).await?;
        let http_listener = bind("HTTP", self.http_addr).await?;
        let (shutdown, tasks) = serve(
            grpc_listener,
            http_listener,
            self.store.clone(),
            self.faults.clone(),
            self.config.clone(),
            self.link,
            self.bearer.clone(),
        );
        self.shutdown = shutdown;
        self.tasks = tasks;
        info!(grpc_addr = %self.grpc_addr, "bqwrite emulator restarted");
        Ok(())
    }

    async fn stop_servers(&mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                warn!("a server did not stop in time; aborting it");
                abort.abort();
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
