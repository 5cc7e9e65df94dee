//! One row at a time, from many tasks: [`Sink`] batches rows sent one by
//! one into requests, and answers each `send` with that row's own outcome.
//! A [`ChangeSink`] does the same with changes by primary key (CDC).
//!
//! - `options.rs`: [`SinkOptions`], what a sink writes to and how it batches.
//! - `kind.rs`: what a sink sends, [`Rows`] or [`Changes`] (its `K`).
//! - `changes.rs`: the change sink: made on `_default` only, and its `send`
//!   encoding a change as its row followed by the pseudo-columns.
//! - `intake.rs`: the batches being filled, one per core (a thread sends
//!   into its own), which every `send` encodes its row into and registers
//!   its waker with under one short lock (no message or allocation per
//!   row).
//! - `receipt.rs`: a batch's outcome, shared by the sends of its rows, and
//!   the future each `send` awaits.
//! - `task.rs`: the task that owns the writer's engine handle: packs the
//!   batches into requests, resolves each batch's outcome, and resends the
//!   good rows of a rejected request on a COMMITTED stream.

mod changes;
mod intake;
mod kind;
mod options;
mod receipt;
mod task;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::BytesMut;
use tokio::sync::{Semaphore, mpsc, oneshot};

use self::changes::ChangeMode;
use self::intake::Intake;
use self::task::{Msg, Task};
use super::engine::{Handle, Shared};
use super::{StreamKind, Writer, WriterStats};
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result, RowError};
use crate::row::{BqRow, RowOf};
use crate::table::Table;
use crate::writer::batch::wire_len;
use crate::writer::changes::ChangeSchema;

pub use self::changes::ChangeSink;
pub use self::kind::{Changes, Rows, SinkKind};
pub use self::options::{
    DEFAULT_LINGER, DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_BUFFERED_ROWS, SinkOptions,
};

/// Writes rows of type `T` sent one at a time, from any number of tasks,
/// batched into requests for you; `K` is what is sent: [`Rows`] (the
/// default), or [`Changes`] by primary key for a [`ChangeSink`].
///
/// ```no_run
/// use bqwrite::{BqRow, Client};
///
/// #[derive(BqRow)]
/// struct Event {
///     id: i64,
///     kind: String,
/// }
///
/// # async fn run() -> bqwrite::Result<()> {
/// let client = Client::from_env().await?;
/// let table = client.table("my-project", "my_dataset", "events")?;
/// let sink = client.sink::<Event>(&table).await?; // cheap to clone; Send + Sync
///
/// let mut tasks = Vec::new();
/// for id in 0..1_000 {
///     let sink = sink.clone();
///     tasks.push(tokio::spawn(async move {
///         // Resolves when this row is acknowledged, or fails with its own error.
///         sink.send(Event { id, kind: "click".into() }).await
///     }));
/// }
/// for task in tasks {
///     task.await.expect("task")?;
/// }
/// sink.close().await?;
/// # Ok(()) }
/// ```
///
/// # Batching
/// Each [`send`](Sink::send) checks its row in the caller's task (so `T`
/// need not be `Send`) and encodes it straight into the batch being
/// filled on its thread (there is one per core, so that sends on different
/// cores do not contend); the sends of a batch share one outcome, resolved
/// at once. A task of the sink, which owns the writer, sends the batches as
/// requests (those of several cores together while they fit in one) when
/// one is full (the writer's request size and row limits), when fewer than
/// four of the sink's requests await their answer (once the sends that are
/// ready to run have added their rows: the tasks an answer woke go
/// together), or when its first row has waited the
/// [linger](SinkOptions::linger) time. Requests are pipelined as a
/// [`Writer`]'s are.
///
/// # Delivery
/// By default the sink writes through the table's `_default` stream: rows
/// are visible when acknowledged, and a request resent after a lost answer
/// may be written twice (at least once). [`SinkOptions::exactly_once`]
/// writes through a COMMITTED stream instead: every row exactly once.
///
/// A row the service rejects fails only its own `send`, with
/// [`ErrorKind::RowErrors`] and the service's reason; the other rows of its
/// request are sent again without it (by the `_default` writer itself, by
/// the sink on a COMMITTED stream, together with the rows that were on
/// their way behind it, in order).
///
/// # Back-pressure
/// The sink holds at most [`max_buffered_rows`](SinkOptions::max_buffered_rows)
/// rows and [`max_buffered_bytes`](SinkOptions::max_buffered_bytes) bytes,
/// from `send` to their answer; `send` waits for room before it encodes its
/// row, so memory stays bounded however many tasks send at once.
///
/// # Ending
/// [`flush`](Sink::flush) waits for every row sent so far;
/// [`close`](Sink::close) does too, then ends the sink for every clone.
/// Dropping the last clone without `close` lets the rows in flight finish
/// in the background while the runtime runs, and warns (through
/// [`tracing`], or on standard error when no subscriber is installed).
pub struct Sink<T, K: SinkKind = Rows> {
    inner: Arc<Inner>,
    _row: PhantomData<fn(&T)>,
    _kind: PhantomData<fn() -> K>,
}

/// What every clone of a sink shares.
struct Inner {
    tx: mpsc::UnboundedSender<Msg>,
    intake: Arc<Intake>,
    budget: Arc<Budget>,
    /// Row bytes one request may carry.
    row_budget: usize,
    max_request_bytes: usize,
    stream: Arc<str>,
    shared: Arc<Shared>,
    exactly_once: bool,
    closed: AtomicBool,
    /// A change sink's writer schema: the row's plus the pseudo-columns.
    change_schema: Option<&'static ChangeSchema>,
}

/// The rows and bytes a sink may hold: taken by `send`, given back by the
/// sink's task when a batch is resolved.
#[derive(Debug)]
pub(crate) struct Budget {
    rows: Semaphore,
    bytes: Semaphore,
    max_bytes: usize,
}

impl Budget {
    /// What a row of `wire` request bytes costs in the byte budget.
    fn cost(&self, wire: usize) -> u32 {
        // max_bytes fits in u32 (SinkOptions clamps it).
        wire.clamp(1, self.max_bytes) as u32
    }

    async fn take(&self, wire: usize) {
        let cost = self.cost(wire);
        // Room now (the common case): no future, no waiter node. Permits
        // given back go to waiting sends first, so this does not jump the
        // queue. The semaphores are never closed: acquiring only waits.
        // The row is held, not forgotten, while the bytes are awaited: a
        // send dropped there gives it back.
        let row = match self.rows.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_) => self.rows.acquire().await.ok(),
        };
        match self.bytes.try_acquire_many(cost) {
            Ok(permits) => permits.forget(),
            Err(_) => {
                if let Ok(permits) = self.bytes.acquire_many(cost).await {
                    permits.forget();
                }
            }
        }
        if let Some(row) = row {
            row.forget();
        }
    }

    pub(crate) fn give_back(&self, rows: usize, bytes: usize) {
        self.rows.add_permits(rows);
        self.bytes.add_permits(bytes);
    }
}

impl<T, K: SinkKind> Clone for Sink<T, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _row: PhantomData,
            _kind: PhantomData,
        }
    }
}

impl<T, K: SinkKind> fmt::Debug for Sink<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sink")
            .field("row", &std::any::type_name::<T>())
            .field("sends", &K::NAME)
            .field("stream", &self.inner.stream)
            .field("exactly_once", &self.inner.exactly_once)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A [`Sink`] writing rows of `T` to `table`'s `_default` stream (at
    /// least once), with the default [`SinkOptions`]. `T` is checked
    /// against the table before it returns.
    ///
    /// # Errors
    /// As [`Writer::default_stream`].
    pub async fn sink<T: BqRow>(&self, table: &Table) -> Result<Sink<T>> {
        self.sink_with(table, SinkOptions::default()).await
    }

    /// A [`Sink`] with the given options:
    /// `client.sink_with::<T>(&table, SinkOptions::exactly_once())` writes
    /// every row exactly once through a COMMITTED stream.
    ///
    /// # Errors
    /// As [`Writer::default_stream`] or [`Writer::committed`].
    pub async fn sink_with<T: BqRow>(
        &self,
        table: &Table,
        options: SinkOptions,
    ) -> Result<Sink<T>> {
        let table = Table::new(self.clone(), table.path().clone());
        let writer = options.writer.clone();
        let (handle, row_budget) = if options.exactly_once {
            into_parts(Writer::<T>::committed_with(&table, writer).await?)
        } else {
            into_parts(Writer::<T>::default_stream_with(&table, writer).await?)
        };
        Ok(Sink::start(handle, row_budget, &options, None))
    }
}

/// The engine handle and row budget of a fresh writer, for the sink's task.
fn into_parts<T, S: StreamKind>(writer: Writer<T, S>) -> (Handle, usize) {
    let Writer {
        handle, row_budget, ..
    } = writer;
    (handle, row_budget)
}

impl<T, K: SinkKind> Sink<T, K> {
    /// Starts the sink's task on the writer's engine `handle`; `changes`
    /// for a change sink.
    fn start(
        handle: Handle,
        row_budget: usize,
        options: &SinkOptions,
        changes: Option<ChangeMode>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let budget = Arc::new(Budget {
            rows: Semaphore::new(options.max_buffered_rows),
            bytes: Semaphore::new(options.max_buffered_bytes),
            max_bytes: options.max_buffered_bytes,
        });
        let intake = Arc::new(Intake::new(
            options.writer.max_rows_per_request,
            row_budget,
            options.max_buffered_bytes,
        ));
        let inner = Inner {
            tx,
            intake: intake.clone(),
            budget: budget.clone(),
            row_budget,
            max_request_bytes: options.writer.max_request_bytes,
            stream: handle.stream.clone(),
            shared: handle.shared.clone(),
            exactly_once: options.exactly_once,
            closed: AtomicBool::new(false),
            change_schema: changes.as_ref().map(|c| c.schema),
        };
        let refused_by = changes.map(|c| c.table);
        let task = Task::new(handle, intake.clone(), budget.clone(), options, refused_by);
        tokio::spawn(task.run(rx));
        Self {
            inner: Arc::new(inner),
            _row: PhantomData,
            _kind: PhantomData,
        }
    }

    /// The write stream rows go to (`.../streams/_default`, or the
    /// COMMITTED stream the sink created).
    pub fn stream_name(&self) -> &str {
        &self.inner.stream
    }

    /// Whether the sink writes exactly once (a COMMITTED stream).
    pub fn is_exactly_once(&self) -> bool {
        self.inner.exactly_once
    }

    /// The counters of the writer under the sink: requests and rows sent,
    /// acknowledged, rejected, resent, ...
    pub fn stats(&self) -> WriterStats {
        self.inner.shared.counters.snapshot()
    }

    /// Waits until every row sent (by any clone) before this call is
    /// resolved: acknowledged, or failed and its `send` told. Rows waiting
    /// for their batch go at once.
    ///
    /// # Errors
    /// [`ErrorKind::WriterClosed`] when the writer under the sink closed
    /// after an error (every row since failed with it); the error of rows
    /// whose `send` was dropped before they were resolved, when they failed.
    pub async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Msg::Flush(tx)).is_err() {
            return self.after_end();
        }
        match rx.await {
            Ok(outcome) => outcome,
            Err(_) => self.after_end(),
        }
    }

    /// Waits for every row sent so far, as [`flush`](Sink::flush) does, and
    /// ends the sink: later `send`s on any clone fail with
    /// [`ErrorKind::WriterClosed`], and dropping it no longer warns.
    /// Closing again does nothing more.
    ///
    /// # Errors
    /// As [`flush`](Sink::flush).
    pub async fn close(&self) -> Result<()> {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.intake.close();
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Msg::Close(tx)).is_err() {
            return Ok(());
        }
        rx.await.unwrap_or(Ok(()))
    }

    /// The batching task is gone: after `close`, nothing is left to wait
    /// for; otherwise its runtime is shutting down.
    fn after_end(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(self.gone())
        }
    }

    fn gone(&self) -> Error {
        Error::new(
            ErrorKind::WriterClosed,
            format!(
                "the sink of `{}` stopped before this row was resolved \
                 (its Tokio runtime is shutting down)",
                self.inner.stream
            ),
        )
        .with_stream(self.inner.stream.to_string())
    }

    fn closed_error(&self) -> Error {
        Error::new(
            ErrorKind::WriterClosed,
            format!("the sink of `{}` is closed", self.inner.stream),
        )
        .with_stream(self.inner.stream.to_string())
    }
}

impl<T: BqRow> Sink<T> {
    /// Sends one row and waits until it is acknowledged (visible) or
    /// rejected. Call it from as many tasks as you like: rows are batched
    /// into requests across all of them.
    ///
    /// The row is checked and encoded here, once the sink has room for it
    /// (back-pressure). If this future is dropped after the row was handed
    /// on, the row is still written; a failure is then reported by the next
    /// [`flush`](Sink::flush).
    ///
    /// # Errors
    /// - [`ErrorKind::RowErrors`]: the service rejected this row; the one
    ///   [`RowError`] (index 0) has its reason and column. The other rows of
    ///   its request are written.
    /// - [`ErrorKind::InvalidValue`], [`ErrorKind::RowTooLarge`]: the row
    ///   cannot be sent; nothing was.
    /// - [`ErrorKind::WriterClosed`]: the sink is closed, or the writer
    ///   under it closed after an error (which the rows in flight then
    ///   failed with). A row in flight then may or may not have been
    ///   written, on an exactly-once sink too, and its error says so: only a
    ///   row whose `send` returned `Ok` is known to be written (once).
    /// - On `_default`, when the good rows of a request resent after a
    ///   rejection fail again, the error says this row may or may not have
    ///   been written.
    pub async fn send(&self, row: impl RowOf<T>) -> Result<()> {
        let row = row.__row();
        self.check_open()?;
        check_row(row)?;
        self.deliver(row.encoded_len(), |buf| row.encode(buf)).await
    }
}

impl<T, K: SinkKind> Sink<T, K> {
    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(self.closed_error());
        }
        Ok(())
    }

    /// Hands on one row (or change) of `len` bytes, which `encode` writes,
    /// once the sink has room for it, and waits for its outcome.
    async fn deliver(&self, len: usize, encode: impl Fn(&mut BytesMut)) -> Result<()> {
        let wire = wire_len(len);
        if wire > self.inner.row_budget {
            return Err(Error::new(
                ErrorKind::RowTooLarge,
                format!(
                    "the {} is {len} bytes encoded, more than a request of at most {} bytes \
                     can carry; it was not sent",
                    K::ITEM,
                    self.inner.max_request_bytes
                ),
            ));
        }
        let budget = &self.inner.budget;
        budget.take(wire).await;
        let cost = budget.cost(wire) as usize;
        match self.inner.intake.admit(encode, len, wire, cost).await {
            Some(outcome) => outcome,
            None => {
                budget.give_back(1, cost);
                if self.inner.closed.load(Ordering::Acquire) {
                    Err(self.closed_error())
                } else {
                    Err(self.gone())
                }
            }
        }
    }
}

/// Checks that `row` can be written exactly, for a type whose values may
/// not be (`BqRow::__BQ_FALLIBLE`).
fn check_row<R: BqRow + ?Sized>(row: &R) -> Result<()> {
    if !R::__BQ_FALLIBLE {
        return Ok(());
    }
    row.validate().map_err(|invalid| {
        Error::new(
            ErrorKind::InvalidValue,
            format!("the row cannot be written exactly ({invalid}); it was not sent"),
        )
        .with_row_errors(vec![RowError {
            index: 0,
            column: Some(invalid.column.clone()),
            message: invalid.error.to_string(),
        }])
        .with_source(invalid)
    })
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.closed.load(Ordering::Acquire) || std::thread::panicking() {
            return;
        }
        let warning = "rows in flight finish in the background while the runtime runs, \
                       and their failures go unreported: call `close` first";
        tracing::warn!(stream = %self.stream, "sink dropped without close: {warning}");
        if !tracing::dispatcher::has_been_set() {
            // Nobody listens to tracing: say it where a person will see it.
            eprintln!(
                "bqwrite: warning: sink of `{}` dropped without close: {warning} \
                 (install a tracing subscriber to route bqwrite's warnings)",
                self.stream
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use tokio::sync::Semaphore;

    use super::Budget;

    #[test]
    fn a_send_dropped_while_it_waits_for_bytes_gives_its_row_back() {
        let budget = Budget {
            rows: Semaphore::new(10),
            bytes: Semaphore::new(100),
            max_bytes: 100,
        };
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pin!(budget.take(100)).poll(&mut cx).is_ready());
        {
            // A send waiting for bytes (it holds a row), then dropped: a
            // `timeout` around it, a `select!` that took another branch.
            let waiting = pin!(budget.take(10));
            assert!(waiting.poll(&mut cx).is_pending());
        }
        assert_eq!(budget.rows.available_permits(), 9, "one row is in use");
        budget.give_back(1, 100);
        assert_eq!(budget.rows.available_permits(), 10);
        assert_eq!(budget.bytes.available_permits(), 100);
    }
}
