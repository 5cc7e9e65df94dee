//! Typed writers for every stream type, with offsets, request splitting and
//! pipelining done for the caller.
//!
//! # Choose a stream type
//!
//! | constructor | rows visible | exactly once | ends with |
//! | --- | --- | --- | --- |
//! | [`Writer::pending`] | all at once, at commit (atomic across streams) | yes | [`finalize`](Writer::finalize) + [`commit`](crate::Finalized::commit) |
//! | [`Writer::committed`] | as each append is acknowledged | yes | nothing (or `finalize`) |
//! | [`Writer::buffered`] | up to the offset flushed | yes | `flush`, `finalize` |
//! | [`Writer::default_stream`] | as each append is acknowledged | no: at least once | nothing |
//!
//! Each constructor has a `*_with` twin taking [`WriterOptions`]. An
//! explicit stream (the first three) can be continued by another writer,
//! in another process, with [`Writer::resume`].
//!
//! # Stream types are types
//! [`Writer<T, S>`] is one type with a marker `S` for the stream type
//! ([`Pending`] by default, [`Committed`], [`Buffered`], [`DefaultStream`]):
//! every writer appends the same way, and each has only the methods of its
//! stream type, so finalizing `_default` or committing a COMMITTED stream
//! does not compile.
//!
//! # `append` or `send`
//! [`append`](Writer::append) sends rows and waits for their
//! acknowledgement: simple, and right when each batch depends on the last.
//! Over a real network every call then costs a round trip (20 to 100 ms to
//! BigQuery from most places). [`send`](Writer::send) returns as soon as
//! the rows are queued in the in-flight window and hands back an
//! [`AppendTicket`] to await later, so that calls pipeline:
//!
//! ```no_run
//! # use bqwrite::{BqRow, Table, Writer};
//! # #[derive(BqRow)] struct Event { id: i64 }
//! # async fn run(table: Table, batches: Vec<Vec<Event>>) -> bqwrite::Result<()> {
//! let mut writer = Writer::<Event>::committed(&table).await?;
//! let mut tickets = Vec::new();
//! for batch in batches {
//!     tickets.push(writer.send(batch).await?); // waits only for room in the window
//! }
//! for ticket in tickets {
//!     let offsets = ticket.await?; // this batch's rows, or its row errors
//!     println!("rows {offsets:?} are visible");
//! }
//! # Ok(()) }
//! ```
//!
//! Acknowledgements are read as they arrive whether or not a ticket is
//! awaited, so the window keeps moving; a dropped ticket's rows are still
//! tracked, and its failure is returned by the next `flush`.
//!
//! # When rows are rejected
//! A request with a bad row writes none of its rows: its ticket fails with
//! [`ErrorKind::RowErrors`](crate::ErrorKind::RowErrors), each
//! [`RowError::index`](crate::RowError::index) the index of the row in what
//! that `send` was given. On an explicit stream, requests already on their
//! way behind it were sent for offsets past the stream's end: their tickets
//! fail with [`ErrorKind::Unwritten`](crate::ErrorKind::Unwritten) and
//! nothing of them is written. Requests sent after the writer read the
//! rejection go at the right offset: the writer stays usable, and rows
//! sent again land right after the last written row. On `_default`, the
//! writer sends the good rows of a rejected request again by itself.
//!
//! # Faults
//! After a broken connection, a server restart, a lost answer or a
//! transient error, the writer reconnects and resends every unacknowledged
//! request, at the same offsets on explicit streams: an `ALREADY_EXISTS`
//! answer to a resent request means it landed before, and it counts as
//! written. `_default` has no offsets: a request whose answer was lost may be
//! written twice ([`WriterStats::resent_rows`] bounds how many rows that
//! can be). [`retry`](crate::retry) says what is retried.
//!
//! # Many tables: connection pooling
//! BigQuery counts concurrent AppendRows connections against a quota, and
//! each costs memory on both ends. So the `_default` writers made from one
//! [`Client`](crate::Client) (and the [`Sink`]s built on them) share a pool
//! of at most [`ClientBuilder::max_connections`](crate::ClientBuilder::max_connections)
//! connections per project and location (default 4), however many tables
//! they write: the connections of the Go and Java clients' "multiplexing".
//!
//! - A writer takes a lease on the least-loaded connection; another is
//!   opened only while every open one is in use and the limit allows. A
//!   connection closes when no writer uses it any more.
//! - Requests of different tables share a connection: each names its
//!   table's stream, and carries its writer schema when the destination or
//!   the schema changes, as the service requires. The service answers a
//!   connection's requests in order; each answer goes back to the writer
//!   that sent the request, so tickets, row errors and statistics stay per
//!   writer.
//! - One table's errors stay its own: a table dropped mid-run fails its
//!   writer with NOT_FOUND (after [`WriterOptions::schema_wait`], since a
//!   table recreated under the same name answers NOT_FOUND for a while)
//!   while the others go on. When a shared connection
//!   breaks, every writer with requests on it reconnects and resends its own
//!   unacknowledged requests (at least once, as `_default` always is).
//! - Explicit streams (PENDING, COMMITTED, BUFFERED) keep a connection each,
//!   as the service requires; so does every `_default` writer of a client
//!   built with [`ClientBuilder::multiplexing(false)`](crate::ClientBuilder::multiplexing).
//! - The location comes from the table's `_default` stream, which the writer
//!   reads anyway (GetWriteStream); a multiplexed connection is routed by it,
//!   `x-goog-request-params: write_location=projects/P/locations/L`. If the
//!   service gives none, connections are pooled per project and routed to
//!   the stream of the writer that opened them.
//!
//! ```no_run
//! # use bqwrite::{BqRow, Client, Writer};
//! # #[derive(BqRow)] struct Event { id: i64 }
//! # async fn run() -> bqwrite::Result<()> {
//! let client = Client::builder().max_connections(4).build().await?;
//! let mut writers = Vec::new();
//! for name in ["clicks", "views", "orders"] {  // or hundreds of tables
//!     let table = client.table("my-project", "events", name)?;
//!     writers.push(Writer::<Event>::default_stream(&table).await?);
//! }
//! // every writer's requests travel over at most 4 connections
//! # Ok(()) }
//! ```
//!
//! # When the table changes
//! A row type fixes the writer's schema when it compiles; the table may
//! move under it. The writer checks the row type against the table when it
//! is made, and again each time an answer carries the table's new schema
//! (`AppendRowsResponse.updated_schema`; [`Writer::table_schema`] is the
//! latest one the service described):
//!
//! | the table ... | the writer |
//! | --- | --- |
//! | gains a NULLABLE column the row type does not have | goes on, on the same connection |
//! | has a column in its metadata that its write path refuses as unknown (a row type with the new field deployed right after `ALTER TABLE ADD COLUMN`: the column takes seconds to a minute to become writable) | reconnects with backoff and resends, until the column is taken or [`WriterOptions::schema_wait`] (default 2 minutes) is spent; then [`ErrorKind::SchemaMismatch`](crate::ErrorKind::SchemaMismatch) naming the columns |
//! | lacks a column the row type writes (dropped: the service would accept the values for a while and discard them) | closes with [`ErrorKind::SchemaMismatch`](crate::ErrorKind::SchemaMismatch) naming the column; requests in flight fail as maybe written (their rows may have landed without the column) |
//! | relaxes a REQUIRED column to NULLABLE (the service applies it to new connections) | lets the requests in flight be answered, then sends the next ones on a new connection |
//! | answers NOT_FOUND (deleted and recreated under the same name, which answers NOT_FOUND for a while) | reconnects with backoff within `schema_wait`, then fails with the NOT_FOUND error ([`Error::code`](crate::Error::code)) |
//!
//! A field the table's metadata does not have at all fails at once, when
//! the writer is made or when the service refuses it. An explicit stream
//! whose table was deleted is gone with it (STREAM_NOT_FOUND fails at
//! once); a `_default` writer follows the table by name. On `_default`, the
//! requests in flight when the table answered NOT_FOUND are resent on the
//! new connection: as after any reconnect there, delivery is at least once.
//! Each such reconnect counts with the cause `schema` in
//! [`WriterStats::reconnects_by_cause`].
//!
//! # Warnings
//! Warnings (a PENDING writer dropped without finalize, a retry) go to
//! [`tracing`]; install a subscriber to see them, for example with
//! `tracing-subscriber`: `tracing_subscriber::fmt().init();`. When no
//! subscriber is installed, a writer dropped with rows it cannot make
//! visible also says so on standard error.
//!
//! # Metrics
//! [`Writer::stats`] and [`Sink::stats`] return a writer's counters as a
//! [`WriterStats`]. With the `opentelemetry` feature the same events are
//! recorded as OpenTelemetry instruments, through the `opentelemetry`
//! crate's metrics API: install a meter provider and an exporter, and either
//! pass a meter to `ClientBuilder::meter` (with the feature) or
//! set the global provider before building the client (which then takes
//! `opentelemetry::global::meter("bqwrite")`). Instruments are made once
//! per writer (a sink's too), their attributes once; without the feature
//! nothing is recorded beyond the counters.
//!
//! Every writer instrument carries `table` (the table's path) and
//! `stream_type` (`PENDING`, `COMMITTED`, `BUFFERED` or `_default`), never
//! a stream id or a row value:
//!
//! | instrument | kind | unit | more attributes |
//! | --- | --- | --- | --- |
//! | `bqwrite.writer.sent.rows` | counter | `{row}` | |
//! | `bqwrite.writer.sent.bytes` | counter | `By` | |
//! | `bqwrite.writer.acknowledged.rows` | counter | `{row}` | |
//! | `bqwrite.writer.acknowledged.bytes` | counter | `By` | |
//! | `bqwrite.writer.requests.in_flight` | up-down counter | `{request}` | |
//! | `bqwrite.writer.append.duration` | histogram: a request's first send to its acknowledgement | `s` | |
//! | `bqwrite.writer.reconnects` | counter | `{reconnect}` | `cause` |
//! | `bqwrite.writer.resent.requests` | counter | `{request}` | `cause` |
//! | `bqwrite.writer.resent.rows` | counter | `{row}` | `cause` |
//! | `bqwrite.writer.rejected.rows` | counter (row errors) | `{row}` | |
//! | `bqwrite.writer.connections.open` | up-down counter | `{connection}` | |
//! | `bqwrite.client.retries` | counter: unary calls retried (create, get, finalize, flush, commit) | `{retry}` | `code` only (`UNAVAILABLE`, ...) |
//!
//! `cause` is one of `transport` (the connection broke), `timeout` (no
//! answer within the response timeout), `in_band` (a transient error
//! answering a request), `row_errors` (`_default`: good rows resent
//! without the rejected ones) and `schema` (the table changed under the
//! writer; see [when the table changes](#when-the-table-changes)); [`WriterStats::reconnects_by_cause`] and
//! [`WriterStats::resent_requests_by_cause`] split the counters the same way.
//!
//! # Changes by primary key
//! A `_default` writer also writes upserts and deletes by primary key
//! (BigQuery change data capture): see
//! [`append_changes`](Writer::append_changes) and [`crate::change`].
//!
//! # Many tasks, many connections
//! A [`Sink`] takes one row per `send` from any number of tasks and
//! batches them into requests; a [`PendingGroup`] spreads calls over
//! several PENDING streams, each on its own connection, and commits them
//! together.

mod batch;
mod buffered;
mod changes;
mod committed;
mod default;
mod engine;
mod group;
mod kind;
mod missing;
mod open;
mod options;
mod pending;
mod sink;
mod stats;
mod ticket;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::{FutureExt, Stream, StreamExt};

use self::batch::{Batch, Batcher};
use self::engine::Handle;
use self::ticket::{Filling, TicketCell};
use crate::error::{Error, Result};
use crate::row::{BqRow, RowOf};
use crate::table::Table;

pub use self::group::PendingGroup;
pub use self::kind::{Buffered, Committed, DefaultStream, ExplicitStream, Pending, StreamKind};
pub use self::options::{
    DEFAULT_MAX_INFLIGHT_BYTES, DEFAULT_MAX_INFLIGHT_REQUESTS, DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_ROWS_PER_REQUEST, DEFAULT_RESPONSE_TIMEOUT, DEFAULT_SCHEMA_WAIT, WriterOptions,
};
pub use self::sink::{
    ChangeSink, Changes, DEFAULT_LINGER, DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_BUFFERED_ROWS,
    Rows, Sink, SinkKind, SinkOptions,
};
pub(crate) use self::stats::Cause;
pub use self::stats::{ByCause, WriterStats};
pub use self::ticket::{AppendTicket, AppendTicketFuture};

/// Writes rows of type `T` to one write stream of a table; `S` is the
/// stream type (see the [module docs](self) to choose one).
///
/// ```no_run
/// use bqwrite::{BqRow, Client, Writer};
///
/// #[derive(BqRow)]
/// struct CustomerRecord {
///     row_num: i64,
///     customer_name: Option<String>,
/// }
///
/// # async fn run() -> bqwrite::Result<()> {
/// let client = Client::from_env().await?;
/// let table = client.table("my-project", "my_dataset", "customer_records")?;
/// let mut writer = Writer::<CustomerRecord>::pending(&table).await?;
/// writer
///     .append([
///         CustomerRecord { row_num: 1, customer_name: Some("Alice".into()) },
///         CustomerRecord { row_num: 2, customer_name: Some("Bob".into()) },
///     ])
///     .await?;
/// let finalized = writer.finalize().await?; // no more appends; row_count
/// let commit = finalized.commit().await?;   // the rows become visible
/// println!("committed {} rows at {}", commit.rows(), commit.commit_time());
/// # Ok(()) }
/// ```
///
/// Offsets are tracked for you on explicit streams: every request carries
/// the offset of its first row, so the service never writes a row twice.
pub struct Writer<T, S: StreamKind = Pending> {
    handle: Handle,
    table: Table,
    options: WriterOptions,
    /// Row bytes one request may carry (the limit less the request's own fields).
    row_budget: usize,
    /// The `_default` stream's location, for the client's connection pool.
    location: Option<String>,
    /// What the requests ask for the values rows leave out.
    missing: missing::MissingValues,
    /// Whether requests carry the change pseudo-columns in their schema
    /// (a `_default` writer, from its first `append_changes`).
    changes: bool,
    _row: PhantomData<fn(&T)>,
    _kind: PhantomData<fn() -> S>,
}

impl<T, S: StreamKind> fmt::Debug for Writer<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("row", &std::any::type_name::<T>())
            .field("stream_type", &S::NAME)
            .field("table", &self.table.path().to_string())
            .field("stream", &self.handle.stream)
            .field("acknowledged_rows", &self.handle.shared.acknowledged())
            .field("options", &self.options)
            .finish()
    }
}

impl<T: BqRow, S: StreamKind> Writer<T, S> {
    /// The write stream's name (`projects/.../streams/{id}`, or
    /// `.../streams/_default`).
    pub fn stream_name(&self) -> &str {
        &self.handle.stream
    }

    /// The table written to.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// On an explicit stream, the offset after the last acknowledged row:
    /// how many rows the stream holds for sure, and where a
    /// [resumed](Writer::resume) writer continues. On `_default`, how many
    /// rows this writer had acknowledged.
    pub fn acknowledged_rows(&self) -> i64 {
        self.handle.shared.acknowledged()
    }

    /// How many times the writer reconnected after a broken connection or
    /// a transient error.
    pub fn reconnects(&self) -> u64 {
        self.stats().reconnects
    }

    /// The table's schema as the service last described it: when the
    /// writer was made, then from each `updated_schema` the service sent
    /// (see [when the table changes](self#when-the-table-changes)).
    pub fn table_schema(&self) -> Option<crate::TableSchema> {
        self.handle.shared.table_schema()
    }

    /// The writer's counters: rows sent, acknowledged, rejected, resent, ...
    pub fn stats(&self) -> WriterStats {
        self.handle.shared.counters.snapshot()
    }

    /// Queues rows for writing and returns once they are in the in-flight
    /// window, waiting only for room in it; the returned ticket resolves
    /// when they are acknowledged.
    ///
    /// `rows` is any collection or iterator of rows of `T` ([`RowOf`]):
    /// `&batch`, `batch`, `batch.iter()`, `[row]`, `Vec<&T>`, ... A row may
    /// borrow data that does not outlive the writer: a writer of
    /// `Order<'a>` takes `Order<'b>` for any `'b` (see [borrowed
    /// rows](crate::row#borrowed-rows)).
    ///
    /// The rows are encoded here, split into requests of at most
    /// `max_request_bytes` and `max_rows_per_request`, and pipelined on one
    /// connection behind every request sent before, with at most
    /// `max_inflight_requests` and `max_inflight_bytes` unanswered: memory
    /// stays bounded however many tickets are outstanding.
    ///
    /// A row that cannot be sent (larger than a request, or holding a value
    /// its column cannot hold exactly) stops the call: the rows before it
    /// are sent, and the ticket fails with
    /// [`RowTooLarge`](crate::ErrorKind::RowTooLarge) or
    /// [`InvalidValue`](crate::ErrorKind::InvalidValue) naming its index.
    ///
    /// If this future is dropped before it returns (a timeout, a
    /// `select!`), the requests it had queued are still written, and
    /// [`acknowledged_rows`](Writer::acknowledged_rows) says where the
    /// stream is after the next [`flush`](Writer::flush).
    ///
    /// # Errors
    /// [`ErrorKind::WriterClosed`](crate::ErrorKind::WriterClosed) if an
    /// earlier error closed the writer. Everything else arrives through the
    /// ticket.
    pub async fn send<I>(&mut self, rows: I) -> Result<AppendTicket<S>>
    where
        I: IntoIterator,
        I::Item: RowOf<T>,
    {
        self.handle.check_open()?;
        self.handle.touch();
        self.send_each(rows.into_iter(), |batcher, row, index| {
            batcher.push(row.__row(), index)
        })
        .await
    }

    /// Puts each of `items` in requests with `push`, and queues the
    /// requests as they fill: the body of [`send`](Writer::send) and of
    /// `send_changes`.
    async fn send_each<I, F>(&mut self, items: I, mut push: F) -> Result<AppendTicket<S>>
    where
        I: Iterator,
        F: FnMut(&mut Batcher, I::Item, usize) -> Result<Option<Batch>>,
    {
        let ticket = Filling::new(&self.handle);
        let mut batcher = self.batcher(items.size_hint().0);
        let mut stopped = None;
        let mut queued = false;
        for (index, item) in items.enumerate() {
            match push(&mut batcher, item, index) {
                Ok(None) => {}
                Ok(Some(full)) => {
                    self.submit(full, ticket.cell()).await?;
                    queued = true;
                }
                Err(error) => {
                    stopped = Some(error);
                    break;
                }
            }
        }
        let last = batcher.take(0);
        if !last.is_empty() || !queued {
            // An empty call still goes through the engine, which gives it
            // its place (its empty range of offsets) in the stream.
            self.submit(last, ticket.cell()).await?;
        }
        Ok(ticket.finish(stopped))
    }

    /// Appends rows and waits until the service acknowledged every one of
    /// them: [`send`](Writer::send), then its ticket. Returns their offsets
    /// in the stream (explicit streams) or how many rows were written
    /// (`_default`).
    ///
    /// # Errors
    /// - [`ErrorKind::RowErrors`](crate::ErrorKind::RowErrors): the service
    ///   rejected rows; each [`RowError::index`](crate::RowError::index) is
    ///   the index of the row in `rows`. Rows of the requests before the
    ///   rejected one are written ([`Error::acknowledged_rows`] says how many
    ///   rows the stream holds); on explicit streams nothing after it is, and
    ///   the writer stays usable.
    /// - [`ErrorKind::RowTooLarge`](crate::ErrorKind::RowTooLarge),
    ///   [`ErrorKind::InvalidValue`](crate::ErrorKind::InvalidValue): a row
    ///   cannot be sent; its index is in the error, the rows before it are
    ///   written, nothing from it on was sent.
    /// - connection and service errors, after which the writer is closed
    ///   ([`ErrorKind::WriterClosed`](crate::ErrorKind::WriterClosed) on
    ///   later calls); the error names the stream and its acknowledged rows.
    pub async fn append<I>(&mut self, rows: I) -> Result<S::Ack>
    where
        I: IntoIterator,
        I::Item: RowOf<T>,
    {
        let ticket = self.send(rows).await?;
        self.outcome(ticket.await)
    }

    /// Appends every row of an async stream, of any length, and waits until
    /// all are acknowledged, as [`append`](Writer::append) does.
    ///
    /// Rows are sent as soon as a request is full or the stream has no row
    /// ready, so a slow source is not held back. The stream is not polled
    /// while the in-flight window is full (back-pressure). Row indices in
    /// errors count from the stream's first row.
    pub async fn append_stream<St>(&mut self, rows: St) -> Result<S::Ack>
    where
        St: Stream,
        St::Item: RowOf<T>,
    {
        self.handle.check_open()?;
        self.handle.touch();
        let ticket = Filling::new(&self.handle);
        let mut rows = std::pin::pin!(rows);
        let mut batcher = self.batcher(0);
        let mut index = 0;
        let mut stopped = None;
        let mut queued = false;
        loop {
            // Take what is ready without waiting; wait only on an empty batch.
            let next = match rows.next().now_or_never() {
                Some(next) => next,
                None if !batcher.has_rows() => rows.next().await,
                None => {
                    self.submit(batcher.take(index), ticket.cell()).await?;
                    queued = true;
                    rows.next().await
                }
            };
            let Some(row) = next else { break };
            match batcher.push(row.__row(), index) {
                Ok(None) => {}
                Ok(Some(full)) => {
                    self.submit(full, ticket.cell()).await?;
                    queued = true;
                }
                Err(error) => {
                    stopped = Some(error);
                    break;
                }
            }
            index += 1;
        }
        let last = batcher.take(index);
        if !last.is_empty() || !queued {
            self.submit(last, ticket.cell()).await?;
        }
        let ticket = ticket.finish::<S>(stopped);
        self.outcome(ticket.await)
    }

    fn batcher(&self, capacity_hint: usize) -> Batcher {
        Batcher::new(
            self.row_budget,
            self.options.max_rows_per_request,
            self.options.max_request_bytes,
            capacity_hint,
        )
    }

    async fn submit(&self, batch: Batch, ticket: &Arc<TicketCell>) -> Result<()> {
        let first_index = batch.first_index;
        let bytes = batch.wire_len();
        self.handle
            .submit(batch.into_rows(), first_index, bytes, ticket)
            .await
    }

    /// A ticket's outcome as a call's result: errors say how many rows the
    /// stream holds.
    fn outcome(&self, outcome: Result<S::Ack>) -> Result<S::Ack> {
        outcome.map_err(|e| self.with_stream_state(e))
    }

    /// `error`, saying how many rows the stream holds if it does not yet.
    fn with_stream_state(&self, error: Error) -> Error {
        match error.acknowledged_rows() {
            Some(_) => error,
            None => error.with_acknowledged_rows(self.acknowledged_rows()),
        }
    }

    /// Waits until every row sent so far is settled (acknowledged or
    /// failed).
    ///
    /// # Errors
    /// Why the writer closed, or the error of a ticket that was dropped
    /// unawaited and failed since the last flush.
    async fn settle(&self) -> Result<()> {
        self.handle
            .flush()
            .await
            .map_err(|e| self.with_stream_state(e))
    }
}
