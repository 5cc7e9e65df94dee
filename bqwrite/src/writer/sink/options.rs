//! How a [`Sink`](super::Sink) batches rows and bounds its memory.

use std::time::Duration;

use crate::writer::WriterOptions;

/// The default [`linger`](SinkOptions::linger): how long a row may wait for
/// batch-mates while earlier requests are awaiting their answer.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(5);
/// The default most rows a sink holds (sent and not yet resolved).
pub const DEFAULT_MAX_BUFFERED_ROWS: usize = 50_000;
/// The default most encoded row bytes a sink holds.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 32 * 1024 * 1024;

/// How a [`Sink`](super::Sink) writes: to which stream, how it batches,
/// and how much it holds before [`send`](super::Sink::send) waits.
///
/// ```
/// use std::time::Duration;
/// use bqwrite::SinkOptions;
///
/// let options = SinkOptions::exactly_once()   // a COMMITTED stream
///     .linger(Duration::from_millis(10))
///     .max_buffered_rows(10_000);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct SinkOptions {
    pub(crate) exactly_once: bool,
    pub(crate) linger: Duration,
    pub(crate) max_buffered_rows: usize,
    pub(crate) max_buffered_bytes: usize,
    pub(crate) writer: WriterOptions,
}

impl Default for SinkOptions {
    /// At least once, through the table's `_default` stream.
    fn default() -> Self {
        Self {
            exactly_once: false,
            linger: DEFAULT_LINGER,
            max_buffered_rows: DEFAULT_MAX_BUFFERED_ROWS,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            writer: WriterOptions::default(),
        }
    }
}

impl SinkOptions {
    /// Writes through the table's `_default` stream (the default): rows
    /// are visible when acknowledged; a request resent after a lost answer
    /// may be written twice (at least once).
    pub fn at_least_once() -> Self {
        Self::default()
    }

    /// Writes through a COMMITTED stream the sink creates: rows are visible
    /// when acknowledged and written exactly once, offsets guarding every
    /// resend. Not for a [`ChangeSink`](super::ChangeSink): the service
    /// takes changes on `_default` only, and `change_sink_with` refuses it.
    pub fn exactly_once() -> Self {
        Self {
            exactly_once: true,
            ..Self::default()
        }
    }

    /// Whether the sink writes exactly once (a COMMITTED stream).
    pub fn is_exactly_once(&self) -> bool {
        self.exactly_once
    }

    /// The longest a row waits for batch-mates while the sink's earlier
    /// requests are awaiting their answer (default [`DEFAULT_LINGER`]).
    /// While fewer than four are, a batch goes as soon as the sends ready
    /// to run have added their rows: the sink yields to them until a few
    /// scheduler turns in a row bring no new row, the batch is full, or
    /// this time has passed (waiting longer would only add latency).
    /// A batch also goes as soon as it is full (the writer options'
    /// `max_request_bytes` and `max_rows_per_request`).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// The most rows the sink holds, from [`send`](super::Sink::send) to
    /// their answer; `send` waits for room beyond it (default
    /// [`DEFAULT_MAX_BUFFERED_ROWS`]).
    pub fn max_buffered_rows(mut self, rows: usize) -> Self {
        self.max_buffered_rows = rows.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        self
    }

    /// The most encoded row bytes the sink holds; `send` waits for room
    /// beyond it, and one row is always allowed, however large (default
    /// [`DEFAULT_MAX_BUFFERED_BYTES`]).
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.max_buffered_bytes = bytes.clamp(1, u32::MAX as usize);
        self
    }

    /// The options of the writer under the sink: request size and row
    /// limits (which also bound a batch), in-flight window, timeouts and
    /// retries.
    pub fn writer_options(mut self, options: WriterOptions) -> Self {
        self.writer = options;
        self
    }
}
