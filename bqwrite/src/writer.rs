//! Typed writers: the PENDING lifecycle, with offsets, request splitting and
//! pipelining done for the caller.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, Stream, StreamExt};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{Error, ErrorKind, Result, RowError};
use crate::proto::storage::append_rows_request::{ProtoData, Rows};
use crate::proto::storage::append_rows_response::Response;
use crate::proto::storage::storage_error::StorageErrorCode;
use crate::proto::storage::write_stream::Type as StreamType;
use crate::proto::storage::{
    AppendRowsRequest, AppendRowsResponse, CreateWriteStreamRequest, GetWriteStreamRequest,
    ProtoRows, ProtoSchema, WriteStream, WriteStreamView,
};
use crate::retry::{self, Budget, Retry, RetryPolicy};
use crate::row::BqRow;
use crate::schema::TableSchema;
use crate::status;
use crate::table::{Finalized, Table};

/// The default request size limit: under the service's 10 MB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 9 * 1024 * 1024;
/// The default row count limit of one request.
pub const DEFAULT_MAX_ROWS_PER_REQUEST: usize = 100_000;
/// The default number of requests awaiting their response at once.
pub const DEFAULT_MAX_INFLIGHT_REQUESTS: usize = 8;
/// The default number of request bytes awaiting their response at once.
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 40 * 1024 * 1024;
/// The default wait for the answer to one AppendRows request.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

/// How a [`Writer`] splits and pipelines requests.
///
/// Memory is bounded by `max_inflight_bytes` plus one request being filled,
/// whatever the size of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct WriterOptions {
    max_request_bytes: usize,
    max_rows_per_request: usize,
    max_inflight_requests: usize,
    max_inflight_bytes: usize,
    response_timeout: Duration,
    retry: RetryPolicy,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_rows_per_request: DEFAULT_MAX_ROWS_PER_REQUEST,
            max_inflight_requests: DEFAULT_MAX_INFLIGHT_REQUESTS,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

impl WriterOptions {
    /// The largest AppendRows request, in encoded bytes (default
    /// [`DEFAULT_MAX_REQUEST_BYTES`]). A row that cannot fit alone is an
    /// [`ErrorKind::RowTooLarge`] error.
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// The most rows in one request (default [`DEFAULT_MAX_ROWS_PER_REQUEST`]).
    pub fn max_rows_per_request(mut self, rows: usize) -> Self {
        self.max_rows_per_request = rows.max(1);
        self
    }

    /// The most requests sent and not yet answered (default
    /// [`DEFAULT_MAX_INFLIGHT_REQUESTS`]); 1 turns pipelining off.
    pub fn max_inflight_requests(mut self, requests: usize) -> Self {
        self.max_inflight_requests = requests.max(1);
        self
    }

    /// The most request bytes sent and not yet answered (default
    /// [`DEFAULT_MAX_INFLIGHT_BYTES`]); one request is always allowed.
    pub fn max_inflight_bytes(mut self, bytes: usize) -> Self {
        self.max_inflight_bytes = bytes;
        self
    }

    /// How long to wait for the answer to a request before the connection is
    /// taken as broken and the request resent (default
    /// [`DEFAULT_RESPONSE_TIMEOUT`]).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// When a broken connection or a transient error is retried: see
    /// [`retry`] for what is retried (default
    /// [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
}

/// Writes rows of type `T` to one write stream of a table.
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
/// Offsets are tracked for you: every request carries the offset of its first
/// row, so the service never writes a row twice. Dropping a writer that was
/// not finalized commits nothing.
pub struct Writer<T: BqRow> {
    table: Table,
    stream: String,
    options: WriterOptions,
    /// Row bytes one request may carry (the limit less the request's own fields).
    row_budget: usize,
    conn: Option<Connection>,
    /// Requests sent and not yet answered, oldest first. Kept across calls:
    /// a cancelled call leaves its answers here for the next one to read.
    inflight: VecDeque<InFlight>,
    /// Rows the service acknowledged: the offset of the next request.
    acked: i64,
    state: State,
    columns: Vec<String>,
    retry: Budget,
    reconnects: u64,
    _row: PhantomData<fn(&T)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Open,
    Broken(String),
    Finalized,
}

impl<T: BqRow> fmt::Debug for Writer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("row", &std::any::type_name::<T>())
            .field("table", &self.table.path().to_string())
            .field("stream", &self.stream)
            .field("acknowledged_rows", &self.acked)
            .field("state", &self.state)
            .field("options", &self.options)
            .finish()
    }
}

/// One AppendRows connection: requests go in through `tx`, responses come
/// back in order on `responses`.
struct Connection {
    tx: mpsc::Sender<AppendRowsRequest>,
    responses: tonic::Streaming<AppendRowsResponse>,
}

/// A request sent and not yet answered.
struct InFlight {
    offset: i64,
    rows: usize,
    /// The index of its first row among the rows of the current call.
    first_index: usize,
    bytes: usize,
    /// The rows, kept to be sent again on a new connection.
    payload: ProtoRows,
    /// The request's span, from its send to its answer (resends included).
    span: tracing::Span,
}

/// Why reading or sending failed, and whether reconnecting may help.
enum Failure {
    Retryable(Error, Retry),
    Fatal(Error),
}

impl Failure {
    fn from_error(error: Error) -> Self {
        match (error.kind(), error.code()) {
            (_, Some(code)) if retry::classify(code) != Retry::Permanent => {
                Self::Retryable(error, retry::classify(code))
            }
            (ErrorKind::Transport, _) => Self::Retryable(error, Retry::Transient),
            _ => Self::Fatal(error),
        }
    }
}

/// Rows encoded into one buffer, to become one request.
struct Batch {
    buf: BytesMut,
    ends: Vec<usize>,
    first_index: usize,
    /// The encoded length of the rows as `ProtoRows.serialized_rows`.
    wire_len: usize,
}

impl Batch {
    fn new(first_index: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            ends: Vec::new(),
            first_index,
            wire_len: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl<T: BqRow> Writer<T> {
    /// Creates a PENDING stream on `table` with the default [`WriterOptions`]
    /// and checks that `T` can write to the table.
    ///
    /// Rows appended to a pending stream stay invisible until the stream is
    /// [finalized](Writer::finalize) and [committed](Finalized::commit).
    ///
    /// # Errors
    /// [`ErrorKind::SchemaMismatch`] listing every difference between `T`'s
    /// schema and the table's, before any row is sent; the service's errors
    /// (a missing table is [`StorageErrorCode::TableNotFound`] or `NOT_FOUND`).
    pub async fn pending(table: &Table) -> Result<Self> {
        Self::pending_with(table, WriterOptions::default()).await
    }

    /// [`Writer::pending`] with the given options.
    pub async fn pending_with(table: &Table, options: WriterOptions) -> Result<Self> {
        let parent = table.path().to_string();
        let span = tracing::info_span!("create_stream", table = %parent, kind = "PENDING");
        let stream = async {
            let created = table
                .client()
                .create_write_stream(CreateWriteStreamRequest {
                    parent: parent.clone(),
                    write_stream: Some(WriteStream {
                        r#type: StreamType::Pending as i32,
                        ..WriteStream::default()
                    }),
                })
                .await?;
            let full = table
                .client()
                .get_write_stream(GetWriteStreamRequest {
                    name: created.name.clone(),
                    view: WriteStreamView::Full as i32,
                })
                .await?;
            tracing::info!(stream = %created.name, "created");
            Ok::<_, Error>(full)
        };
        let stream = tracing::Instrument::instrument(stream, span).await?;
        let table_schema = stream.table_schema.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::Server,
                format!("the service returned no table schema for `{}`", stream.name),
            )
        })?;
        let table_schema = TableSchema::try_from(table_schema).map_err(|e| {
            Error::new(
                ErrorKind::Server,
                format!("the table schema of `{parent}` is unreadable"),
            )
            .with_source(e)
        })?;
        let row_schema = T::table_schema();
        let mismatches = crate::compat::check(&row_schema, &table_schema);
        if !mismatches.is_empty() {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!(
                    "`{}` cannot write to `{parent}` ({} problem{}):",
                    std::any::type_name::<T>(),
                    mismatches.len(),
                    if mismatches.len() == 1 { "" } else { "s" }
                ),
            )
            .with_mismatches(mismatches));
        }
        Self::open(table, stream.name, options)
    }

    fn open(table: &Table, stream: String, options: WriterOptions) -> Result<Self> {
        let overhead = request_overhead::<T>(&stream, table.client().trace_id());
        if overhead >= options.max_request_bytes {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "max_request_bytes {} is smaller than a request's own fields ({overhead} bytes)",
                    options.max_request_bytes
                ),
            ));
        }
        let columns = T::table_schema()
            .fields
            .into_iter()
            .map(|f| f.name)
            .collect();
        Ok(Self {
            table: table.clone(),
            stream,
            row_budget: options.max_request_bytes - overhead,
            conn: None,
            inflight: VecDeque::new(),
            acked: 0,
            state: State::Open,
            columns,
            retry: options.retry.budget(),
            reconnects: 0,
            options,
            _row: PhantomData,
        })
    }

    /// The write stream's name (`projects/.../streams/{id}`).
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// The table written to.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// How many rows the service has acknowledged on this stream.
    pub fn acknowledged_rows(&self) -> i64 {
        self.acked
    }

    /// How many times the writer reconnected after a broken connection or a
    /// transient error.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Appends rows and waits until the service acknowledged every one of
    /// them; returns their offsets in the stream.
    ///
    /// The rows are split into requests of at most `max_request_bytes` and
    /// `max_rows_per_request`, pipelined on one connection with at most
    /// `max_inflight_requests` and `max_inflight_bytes` unanswered, so a call
    /// with millions of rows runs at full speed in bounded memory.
    ///
    /// # Errors
    /// - [`ErrorKind::RowErrors`]: the service rejected rows; each
    ///   [`RowError::index`] is the index of the row in `rows`. Rows of the
    ///   requests before the rejected one are written
    ///   ([`Error::acknowledged_rows`] says how many rows the stream holds);
    ///   nothing after it is, and the writer stays usable.
    /// - [`ErrorKind::RowTooLarge`]: a row cannot fit in a request; its index
    ///   is in the message, and nothing from it on was sent.
    /// - connection and service errors, after which the writer is closed
    ///   ([`ErrorKind::WriterClosed`] on later calls).
    pub async fn append<I>(&mut self, rows: I) -> Result<Range<i64>>
    where
        I: IntoIterator,
        I::Item: Borrow<T>,
    {
        self.check_open()?;
        self.settle().await?;
        let start = self.acked;
        match self.write_rows(rows).await {
            Ok(()) => Ok(start..self.acked),
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// Appends every row of an async stream, of any length, and waits until
    /// all are acknowledged; returns their offsets in the stream.
    ///
    /// Rows are sent as soon as a request is full or the stream has no row
    /// ready, so a slow source is not held back. Memory stays bounded as in
    /// [`Writer::append`]: the stream is not polled while the in-flight window
    /// is full (back-pressure). Errors as [`Writer::append`], with row indices
    /// counted from the stream's first row.
    pub async fn append_stream<S>(&mut self, rows: S) -> Result<Range<i64>>
    where
        S: Stream<Item = T>,
    {
        self.check_open()?;
        self.settle().await?;
        let start = self.acked;
        match self.write_stream(rows).await {
            Ok(()) => Ok(start..self.acked),
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// The body of [`Writer::append`]; its caller settles any error.
    async fn write_rows<I>(&mut self, rows: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: Borrow<T>,
    {
        let rows = rows.into_iter();
        let mut batch = Batch::new(0);
        let mut capacity_hint = rows.size_hint().0;
        for (index, row) in rows.enumerate() {
            self.push(row.borrow(), index, &mut batch, &mut capacity_hint)
                .await?;
        }
        self.finish_call(batch).await
    }

    /// The body of [`Writer::append_stream`]; its caller settles any error.
    async fn write_stream<S>(&mut self, rows: S) -> Result<()>
    where
        S: Stream<Item = T>,
    {
        let mut rows = std::pin::pin!(rows);
        let mut batch = Batch::new(0);
        let mut index = 0;
        let mut capacity_hint = 0;
        loop {
            // Take what is ready without waiting; wait only on an empty batch.
            let next = match rows.next().now_or_never() {
                Some(next) => next,
                None if batch.is_empty() => rows.next().await,
                None => {
                    let full = std::mem::replace(&mut batch, Batch::new(index));
                    self.send(full).await?;
                    rows.next().await
                }
            };
            let Some(row) = next else { break };
            self.push(&row, index, &mut batch, &mut capacity_hint)
                .await?;
            index += 1;
        }
        self.finish_call(batch).await
    }

    /// Finalizes the stream: no more appends. The returned [`Finalized`]
    /// commits it, alone or with other streams of the table
    /// ([`Table::commit`]).
    ///
    /// # Errors
    /// [`ErrorKind::OffsetMismatch`] if the service counts a different number
    /// of rows than the writer had acknowledged; service errors.
    pub async fn finalize(mut self) -> Result<Finalized> {
        self.check_open()?;
        self.settle().await?;
        // Close the AppendRows connection: everything sent was answered.
        self.conn = None;
        let span = tracing::info_span!("finalize", stream = %self.stream);
        let response =
            tracing::Instrument::instrument(self.table.client().finalize(&self.stream), span).await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                self.state = State::Broken(e.to_string());
                return Err(e.with_acknowledged_rows(self.acked));
            }
        };
        self.state = State::Finalized;
        if response.row_count != self.acked {
            return Err(Error::new(
                ErrorKind::OffsetMismatch,
                format!(
                    "stream `{}` was finalized with {} rows but the writer had {} acknowledged",
                    self.stream, response.row_count, self.acked
                ),
            )
            .with_acknowledged_rows(self.acked));
        }
        tracing::info!(stream = %self.stream, rows = response.row_count, "finalized");
        Ok(Finalized::new(
            self.table.clone(),
            self.stream.clone(),
            response.row_count,
        ))
    }

    fn check_open(&self) -> Result<()> {
        match &self.state {
            State::Open => Ok(()),
            State::Broken(why) => Err(Error::new(
                ErrorKind::WriterClosed,
                format!(
                    "the writer of `{}` is closed after an earlier error: {why}",
                    self.stream
                ),
            )
            .with_acknowledged_rows(self.acked)),
            State::Finalized => Err(Error::new(
                ErrorKind::WriterClosed,
                format!("the writer of `{}` is finalized", self.stream),
            )),
        }
    }

    /// Reads the answers an earlier call left unread because it was cancelled
    /// (its future dropped), so that the acknowledged count, and with it the
    /// offset of the next request, is exact before anything new is sent.
    async fn settle(&mut self) -> Result<()> {
        if self.inflight.is_empty() {
            return Ok(());
        }
        tracing::debug!(
            stream = %self.stream,
            requests = self.inflight.len(),
            "reading the answers of a cancelled append"
        );
        let mut result = Ok(());
        while !self.inflight.is_empty() {
            if let Err(e) = self.receive().await {
                result = Err(e.context(
                    "in a request of an earlier append call that was cancelled \
                     (row indices are of that call)",
                ));
                break;
            }
        }
        match result {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// Adds one row to the batch, sending the batch first if the row does not fit.
    async fn push(
        &mut self,
        row: &T,
        index: usize,
        batch: &mut Batch,
        capacity_hint: &mut usize,
    ) -> Result<()> {
        if T::__BQ_FALLIBLE
            && let Err(invalid) = row.validate()
        {
            let before = std::mem::replace(batch, Batch::new(index));
            self.finish_call(before).await?;
            return Err(Error::new(
                ErrorKind::InvalidValue,
                format!(
                    "row {index} cannot be written exactly ({invalid}); \
                     the rows before it are written, nothing from it on was sent"
                ),
            )
            .with_row_errors(vec![RowError {
                index,
                column: Some(invalid.column.clone()),
                message: invalid.error.to_string(),
            }])
            .with_source(invalid));
        }
        let len = row.encoded_len();
        let wire = 1 + prost::encoding::encoded_len_varint(len as u64) + len;
        if wire > self.row_budget {
            // Write every row before it, so the caller knows exactly where
            // the call stopped: rows before `index` are in, nothing after.
            let before = std::mem::replace(batch, Batch::new(index));
            self.finish_call(before).await?;
            return Err(Error::new(
                ErrorKind::RowTooLarge,
                format!(
                    "row {index} is {len} bytes encoded, more than a request of at most {} bytes can carry; \
                     the rows before it are written, nothing from it on was sent",
                    self.options.max_request_bytes
                ),
            ));
        }
        if !batch.is_empty()
            && (batch.wire_len + wire > self.row_budget
                || batch.ends.len() >= self.options.max_rows_per_request)
        {
            let full = std::mem::replace(batch, Batch::new(index));
            self.send(full).await?;
        }
        if batch.is_empty() {
            batch.first_index = index;
            // Room for the rows the caller said are coming, up to one request.
            let expected = len
                .saturating_mul((*capacity_hint).max(1))
                .min(self.row_budget);
            batch.buf.reserve(expected.max(len));
        }
        *capacity_hint = capacity_hint.saturating_sub(1);
        row.encode(&mut batch.buf);
        debug_assert_eq!(
            batch.buf.len() - batch.ends.last().copied().unwrap_or(0),
            len,
            "encoded_len and encode disagree"
        );
        batch.ends.push(batch.buf.len());
        batch.wire_len += wire;
        Ok(())
    }

    /// Sends the last batch of a call and waits for every answer.
    async fn finish_call(&mut self, batch: Batch) -> Result<()> {
        if !batch.is_empty() {
            self.send(batch).await?;
        }
        while !self.inflight.is_empty() {
            self.receive().await?;
        }
        Ok(())
    }

    /// Sends one batch as a request, after waiting for room in the window.
    async fn send(&mut self, batch: Batch) -> Result<()> {
        let bytes = batch.wire_len;
        while !self.inflight.is_empty()
            && (self.inflight.len() >= self.options.max_inflight_requests
                || self.inflight.iter().map(|r| r.bytes).sum::<usize>() + bytes
                    > self.options.max_inflight_bytes)
        {
            self.receive().await?;
        }
        let offset = self.acked + self.inflight.iter().map(|r| r.rows as i64).sum::<i64>();
        let rows = batch.ends.len();
        let data: Bytes = batch.buf.freeze();
        let mut start = 0;
        let serialized_rows = batch
            .ends
            .iter()
            .map(|&end| {
                let row = data.slice(start..end);
                start = end;
                row
            })
            .collect();
        let payload = ProtoRows { serialized_rows };
        let span =
            tracing::debug_span!("append_request", stream = %self.stream, offset, rows, bytes);
        span.in_scope(|| tracing::debug!("sent"));
        self.inflight.push_back(InFlight {
            offset,
            rows,
            first_index: batch.first_index,
            bytes,
            payload: payload.clone(),
            span,
        });
        if let Err(failure) = self.transmit(offset, payload).await {
            // The connection is gone: reconnect and resend what is in flight,
            // or give up as the retry policy says.
            self.recover(failure).await?;
        }
        Ok(())
    }

    /// Puts one request on the connection, opening one if there is none.
    async fn transmit(&mut self, offset: i64, payload: ProtoRows) -> Result<(), Failure> {
        let first_on_connection = self.conn.is_none();
        let request = AppendRowsRequest {
            write_stream: if first_on_connection {
                self.stream.clone()
            } else {
                String::new()
            },
            offset: Some(offset),
            rows: Some(Rows::ProtoRows(ProtoData {
                writer_schema: first_on_connection.then(|| ProtoSchema {
                    proto_descriptor: Some(T::wire_descriptor().clone()),
                }),
                rows: Some(payload),
            })),
            trace_id: if first_on_connection {
                self.table.client().trace_id().to_owned()
            } else {
                String::new()
            },
            ..AppendRowsRequest::default()
        };
        match &self.conn {
            Some(conn) => conn.tx.send(request).await.map_err(|_| {
                // The call ended; the response stream holds the reason, but the
                // recovery is the same whatever it was.
                Failure::Retryable(
                    Error::new(
                        ErrorKind::Transport,
                        format!("the AppendRows connection of `{}` closed", self.stream),
                    ),
                    Retry::Transient,
                )
            }),
            None => {
                let (tx, rx) = mpsc::channel(self.options.max_inflight_requests + 1);
                // The first request is queued before the call starts, so a
                // server that waits for it before answering cannot deadlock us.
                tx.send(request).await.map_err(|_| {
                    Failure::Fatal(Error::new(ErrorKind::Transport, "request queue closed"))
                })?;
                // Opening waits for the response headers: bounded like an answer.
                let open = self
                    .table
                    .client()
                    .append_rows(&self.stream, ReceiverStream::new(rx));
                let responses =
                    match tokio::time::timeout(self.options.response_timeout, open).await {
                        Ok(opened) => opened.map_err(Failure::from_error)?,
                        Err(_elapsed) => {
                            return Err(Failure::Retryable(
                                Error::new(
                                    ErrorKind::Transport,
                                    format!(
                                        "opening AppendRows on `{}` took longer than {:?}",
                                        self.stream, self.options.response_timeout
                                    ),
                                ),
                                Retry::Transient,
                            ));
                        }
                    };
                self.conn = Some(Connection { tx, responses });
                Ok(())
            }
        }
    }

    /// Reconnects and resends every request in flight, at the same offsets,
    /// until that succeeds or the retry budget is spent.
    async fn recover(&mut self, failure: Failure) -> Result<()> {
        let mut failure = failure;
        loop {
            let (error, retry) = match failure {
                // An in-band error leaves the connection usable; a call that
                // ended already dropped it.
                Failure::Fatal(error) => return Err(error),
                Failure::Retryable(error, retry) => (error, retry),
            };
            // Whatever the old connection still holds is answered again on
            // the new one: its late answers must not be read.
            self.conn = None;
            if !self.retry.wait(retry).await {
                let attempts = self.retry.attempts();
                return Err(error.context(format!("gave up after {attempts} retries")));
            }
            self.reconnects += 1;
            tracing::info!(
                stream = %self.stream,
                attempt = self.retry.attempts(),
                resend = self.inflight.len(),
                reason = %error,
                "reconnecting AppendRows"
            );
            let resend: Vec<(i64, ProtoRows)> = self
                .inflight
                .iter()
                .map(|r| {
                    r.span.in_scope(|| tracing::debug!("resending"));
                    (r.offset, r.payload.clone())
                })
                .collect();
            failure = match self.resend(resend).await {
                Ok(()) => return Ok(()),
                Err(f) => f,
            };
        }
    }

    async fn resend(&mut self, requests: Vec<(i64, ProtoRows)>) -> Result<(), Failure> {
        for (offset, payload) in requests {
            self.transmit(offset, payload).await?;
        }
        Ok(())
    }

    /// Reads the answer to the oldest request in flight, reconnecting and
    /// resending as the retry policy allows.
    async fn receive(&mut self) -> Result<()> {
        loop {
            match self.receive_once().await {
                Ok(()) => return Ok(()),
                Err(failure) => self.recover(failure).await?,
            }
        }
    }

    /// Reads one answer.
    async fn receive_once(&mut self) -> Result<(), Failure> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::Retryable(
                Error::new(ErrorKind::Transport, "no AppendRows connection"),
                Retry::Transient,
            ));
        };
        let next = tokio::time::timeout(self.options.response_timeout, conn.responses.message());
        let next = next.await;
        if !matches!(next, Ok(Ok(Some(_)))) {
            // The call ended (or is taken as dead): never read it again.
            self.conn = None;
        }
        let response = match next {
            Ok(Ok(Some(response))) => response,
            Ok(Ok(None)) => {
                return Err(Failure::Retryable(
                    Error::new(
                        ErrorKind::Transport,
                        format!(
                            "the service closed the AppendRows connection of `{}` with {} request(s) unanswered",
                            self.stream,
                            self.inflight.len()
                        ),
                    ),
                    Retry::Transient,
                ));
            }
            Ok(Err(status)) => {
                return Err(Failure::from_error(Error::from_status(
                    &format!("AppendRows on `{}`", self.stream),
                    status,
                )));
            }
            Err(_elapsed) => {
                return Err(Failure::Retryable(
                    Error::new(
                        ErrorKind::Transport,
                        format!(
                            "no answer from AppendRows on `{}` within {:?}",
                            self.stream, self.options.response_timeout
                        ),
                    ),
                    Retry::Transient,
                ));
            }
        };
        let Some(request) = self.inflight.front() else {
            return Err(Failure::Fatal(Error::new(
                ErrorKind::Server,
                "the service answered a request that was never sent",
            )));
        };
        let (offset, rows, first_index) = (request.offset, request.rows, request.first_index);
        match response.response {
            Some(Response::AppendResult(result)) => {
                if let Some(written) = result.offset
                    && written != offset
                {
                    self.inflight.pop_front();
                    return Err(Failure::Fatal(Error::new(
                        ErrorKind::OffsetMismatch,
                        format!(
                            "the service wrote rows at offset {written}, the writer sent them for offset {offset}"
                        ),
                    )));
                }
                if let Some(done) = self.inflight.pop_front() {
                    done.span.in_scope(|| tracing::debug!("acknowledged"));
                }
                self.acknowledge(rows);
                Ok(())
            }
            Some(Response::Error(error)) => {
                let code = status::code_of(&error);
                let storage = status::storage_error_in(&error).map(|e| e.code());
                if code == tonic::Code::AlreadyExists
                    || storage == Some(StorageErrorCode::OffsetAlreadyExists)
                {
                    // The rows are already in the stream: an earlier send of
                    // this request landed before its connection broke.
                    if let Some(done) = self.inflight.pop_front() {
                        done.span
                            .in_scope(|| tracing::debug!("acknowledged as already written"));
                    }
                    self.acknowledge(rows);
                    return Ok(());
                }
                let retry = retry::classify(code);
                let mut err = if response.row_errors.is_empty() {
                    Error::new(
                        if code == tonic::Code::OutOfRange {
                            ErrorKind::OffsetMismatch
                        } else {
                            ErrorKind::Server
                        },
                        format!(
                            "append of {rows} rows at offset {offset} to `{}` failed: {code:?}: {}",
                            self.stream, error.message
                        ),
                    )
                } else {
                    let row_errors = response
                        .row_errors
                        .iter()
                        .map(|e| RowError {
                            index: first_index + usize::try_from(e.index).unwrap_or(0),
                            column: self.column_in(&e.message),
                            message: e.message.clone(),
                        })
                        .collect();
                    Error::new(
                        ErrorKind::RowErrors,
                        format!(
                            "the service rejected {} row(s) of a request of {rows} rows at offset {offset}; \
                             no row of that request or after it was written:",
                            response.row_errors.len(),
                        ),
                    )
                    .with_row_errors(row_errors)
                };
                if let Some(storage) = storage {
                    err = err.with_storage_error(storage);
                }
                if retry == Retry::Permanent || !response.row_errors.is_empty() {
                    self.inflight.pop_front();
                    Err(Failure::Fatal(err))
                } else {
                    // In-band and transient: this request and the ones after it
                    // (which will fail, their offsets being past the end) are
                    // sent again on a new connection.
                    Err(Failure::Retryable(err, retry))
                }
            }
            None => {
                self.inflight.pop_front();
                Err(Failure::Fatal(Error::new(
                    ErrorKind::Server,
                    "the service sent an empty AppendRows response",
                )))
            }
        }
    }

    fn acknowledge(&mut self, rows: usize) {
        self.acked += rows as i64;
        self.retry.progress();
    }

    /// The column of the table a server message names, if any.
    fn column_in(&self, message: &str) -> Option<String> {
        let lower = message.to_ascii_lowercase();
        self.columns
            .iter()
            .filter(|c| {
                let c = c.to_ascii_lowercase();
                lower.match_indices(&c).any(|(at, _)| {
                    let before = lower[..at].chars().next_back();
                    let after = lower[at + c.len()..].chars().next();
                    let boundary =
                        |ch: Option<char>| ch.is_none_or(|ch| !(ch.is_alphanumeric() || ch == '_'));
                    boundary(before) && boundary(after)
                })
            })
            .max_by_key(|c| c.len())
            .cloned()
    }

    /// Settles the writer after a failed call: answers still in flight are
    /// read (they fail, their offsets being past the rejected rows) so the
    /// connection and the acknowledged count stay exact, or the writer closes.
    async fn fail(&mut self, error: Error) -> Error {
        match error.kind() {
            ErrorKind::RowErrors => {
                // The requests after the rejected one cannot land: their
                // offsets are past the end. Read their OUT_OF_RANGE answers on
                // this connection, without reconnecting; anything else means
                // the writer's view of the stream is wrong.
                while !self.inflight.is_empty() {
                    match self.receive_once().await {
                        Err(Failure::Fatal(e)) if e.kind() == ErrorKind::OffsetMismatch => {}
                        Ok(()) | Err(_) => {
                            self.close(&error);
                            break;
                        }
                    }
                }
            }
            // Everything before the row was sent and answered before the error.
            ErrorKind::RowTooLarge | ErrorKind::InvalidValue => {}
            _ => self.close(&error),
        }
        error.with_acknowledged_rows(self.acked)
    }

    /// Closes the writer for good after `error`: nothing in flight is
    /// waited for, and later calls fail with [`ErrorKind::WriterClosed`].
    fn close(&mut self, error: &Error) {
        self.inflight.clear();
        self.conn = None;
        self.state = State::Broken(error.to_string());
    }
}

impl<T: BqRow> Drop for Writer<T> {
    fn drop(&mut self) {
        if self.state != State::Finalized {
            tracing::warn!(
                stream = %self.stream,
                acknowledged_rows = self.acked,
                "writer dropped without finalize: nothing of this pending stream is committed"
            );
        }
    }
}

/// The encoded size of a request's fields other than its rows, at most.
fn request_overhead<T: BqRow>(stream: &str, trace_id: &str) -> usize {
    let request = AppendRowsRequest {
        write_stream: stream.to_owned(),
        offset: Some(i64::MAX),
        rows: Some(Rows::ProtoRows(ProtoData {
            writer_schema: Some(ProtoSchema {
                proto_descriptor: Some(T::wire_descriptor().clone()),
            }),
            rows: Some(ProtoRows::default()),
        })),
        trace_id: trace_id.to_owned(),
        ..AppendRowsRequest::default()
    };
    // Two length prefixes grow with the rows: at most 5 bytes each for 4 GiB.
    request.encoded_len() + 10
}
