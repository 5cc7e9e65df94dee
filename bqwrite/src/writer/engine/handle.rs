//! The writer's side of the engine: queueing requests within the in-flight
//! window, and what both sides share.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Command, Request};
use crate::client::SharedRows;
use crate::error::{Error, ErrorKind, Result};
use crate::writer::stats::Counters;
use crate::writer::ticket::TicketCell;

/// What the engine and the writer side both read.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Explicit streams: the offset after the last acknowledged row;
    /// `_default`: the rows acknowledged.
    acknowledged: AtomicI64,
    closed: Mutex<Option<String>>,
    /// The table's schema as the service last described it.
    table_schema: Mutex<Option<crate::schema::TableSchema>>,
    pub(crate) counters: Counters,
}

impl Shared {
    pub(super) fn new(start: i64, counters: Counters) -> Self {
        Self {
            acknowledged: AtomicI64::new(start),
            closed: Mutex::new(None),
            table_schema: Mutex::new(None),
            counters,
        }
    }

    pub(crate) fn acknowledged(&self) -> i64 {
        self.acknowledged.load(Ordering::Acquire)
    }

    pub(super) fn set_acknowledged(&self, end: i64) {
        self.acknowledged.store(end, Ordering::Release);
    }

    pub(super) fn add_acknowledged(&self, rows: usize) {
        self.acknowledged.fetch_add(rows as i64, Ordering::AcqRel);
    }

    pub(super) fn set_table_schema(&self, schema: crate::schema::TableSchema) {
        *self.table_schema.lock().unwrap_or_else(|e| e.into_inner()) = Some(schema);
    }

    pub(crate) fn table_schema(&self) -> Option<crate::schema::TableSchema> {
        self.table_schema
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn close(&self, why: String) {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }

    fn closed(&self) -> Option<String> {
        self.closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The writer's handle on its engine. Not generic over the row type, so
/// that its `Drop` puts no lifetime requirement on the rows.
#[derive(Debug)]
pub(crate) struct Handle {
    tx: mpsc::UnboundedSender<Command>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) stream: Arc<str>,
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    max_bytes: usize,
    drop_warning: Option<&'static str>,
    ended: bool,
}

impl Handle {
    pub(super) fn new(
        tx: mpsc::UnboundedSender<Command>,
        shared: Arc<Shared>,
        stream: Arc<str>,
        max_requests: usize,
        max_bytes: usize,
        drop_warning: Option<&'static str>,
    ) -> Self {
        Self {
            tx,
            shared,
            stream,
            requests: Arc::new(Semaphore::new(max_requests)),
            bytes: Arc::new(Semaphore::new(max_bytes)),
            max_bytes,
            drop_warning,
            ended: false,
        }
    }

    /// Queues one request of `ticket`, waiting for room in the window
    /// (back-pressure): one request is always allowed, however large.
    pub(crate) async fn submit(
        &self,
        rows: SharedRows,
        first_index: usize,
        bytes: usize,
        ticket: &Arc<TicketCell>,
    ) -> Result<()> {
        let room = bytes.clamp(1, self.max_bytes) as u32;
        // The semaphores are never closed: acquiring only waits.
        let request_permit = self.requests.clone().acquire_owned().await.ok();
        let byte_permits = self.bytes.clone().acquire_many_owned(room).await.ok();
        ticket.add_request();
        let request = Request {
            rows,
            first_index,
            bytes,
            ticket: ticket.clone(),
            permits: (request_permit, byte_permits),
        };
        self.tx
            .send(Command::Append(request))
            .map_err(|_| self.gone())
    }

    /// Waits until every request queued so far is settled.
    ///
    /// # Errors
    /// Why the writer closed, or the error of a ticket that was dropped
    /// unawaited since the last flush.
    pub(crate) async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Flush(tx)).map_err(|_| self.gone())?;
        rx.await.map_err(|_| self.gone())?
    }

    /// Hands the engine the error of a ticket nobody holds, for the next
    /// flush (the engine is gone only when its runtime is: then nobody
    /// flushes either).
    pub(crate) fn report_unobserved(&self, error: Error) {
        let _ = self.tx.send(Command::Unobserved(error));
    }

    /// Fails when the writer is closed.
    pub(crate) fn check_open(&self) -> Result<()> {
        match self.shared.closed() {
            None => Ok(()),
            Some(why) => Err(Error::new(
                ErrorKind::WriterClosed,
                format!(
                    "the writer of `{}` is closed after an earlier error: {why}",
                    self.stream
                ),
            )
            .with_acknowledged_rows(self.shared.acknowledged())
            .with_stream(self.stream.to_string())),
        }
    }

    /// The stream was ended as its type requires (finalized; flushed, for
    /// BUFFERED): dropping warns no more, unless rows are sent after.
    pub(crate) fn end(&mut self) {
        self.ended = true;
    }

    /// Rows are being sent: dropping the writer warns again until the
    /// stream is ended.
    pub(crate) fn touch(&mut self) {
        self.ended = false;
    }

    fn gone(&self) -> Error {
        Error::new(
            ErrorKind::WriterClosed,
            format!(
                "the writer of `{}` stopped: its Tokio runtime is shutting down",
                self.stream
            ),
        )
        .with_acknowledged_rows(self.shared.acknowledged())
        .with_stream(self.stream.to_string())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.ended || std::thread::panicking() {
            return;
        }
        let Some(warning) = self.drop_warning else {
            return;
        };
        tracing::warn!(
            stream = %self.stream,
            acknowledged_rows = self.shared.acknowledged(),
            "writer dropped: {warning}"
        );
        if !tracing::dispatcher::has_been_set() {
            // Nobody listens to tracing: say it where a person will see it.
            eprintln!(
                "bqwrite: warning: writer of `{}` dropped: {warning} \
                 (install a tracing subscriber to route bqwrite's warnings)",
                self.stream
            );
        }
    }
}
