//! What a writer did, counted: [`WriterStats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A writer's counters since it was made, read with
/// [`Writer::stats`](super::Writer::stats): for tests, logs and dashboards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Rows handed to the engine in requests (each row once, however often it
    /// went on the wire).
    pub rows_sent: u64,
    /// Requests handed to the engine.
    pub requests_sent: u64,
    /// Request bytes handed to the engine.
    pub bytes_sent: u64,
    /// Rows the service acknowledged as written (or found already written
    /// after a reconnect).
    pub rows_acknowledged: u64,
    /// Requests the service acknowledged.
    pub requests_acknowledged: u64,
    /// Rows the service rejected (row errors).
    pub rows_rejected: u64,
    /// Rows not written because a request before them was rejected.
    pub rows_unwritten: u64,
    /// Reconnections after a broken connection or a transient error.
    pub reconnects: u64,
    /// Requests sent again (after a reconnect, a transient error, or, on
    /// `_default`, without rows the service rejected).
    pub resent_requests: u64,
    /// Rows in those requests. On `_default`, which has no offsets, a row
    /// resent after a lost answer may be written twice: this is the bound.
    pub resent_rows: u64,
    /// Rows found already written when resent (explicit streams: the
    /// exactly-once guard at work).
    pub rows_already_written: u64,
}

/// The live counters behind [`WriterStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    rows_sent: AtomicU64,
    requests_sent: AtomicU64,
    bytes_sent: AtomicU64,
    rows_acknowledged: AtomicU64,
    requests_acknowledged: AtomicU64,
    rows_rejected: AtomicU64,
    rows_unwritten: AtomicU64,
    reconnects: AtomicU64,
    resent_requests: AtomicU64,
    resent_rows: AtomicU64,
    rows_already_written: AtomicU64,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn sent(&self, rows: usize, bytes: usize) {
        add(&self.rows_sent, rows);
        add(&self.requests_sent, 1);
        add(&self.bytes_sent, bytes);
    }

    pub(crate) fn acknowledged(&self, rows: usize, _bytes: usize) {
        add(&self.rows_acknowledged, rows);
        add(&self.requests_acknowledged, 1);
    }

    pub(crate) fn rejected(&self, rows: usize) {
        add(&self.rows_rejected, rows);
    }

    pub(crate) fn unwritten(&self, rows: usize) {
        add(&self.rows_unwritten, rows);
    }

    pub(crate) fn reconnected(&self) {
        add(&self.reconnects, 1);
    }

    pub(crate) fn resent(&self, rows: usize) {
        add(&self.resent_requests, 1);
        add(&self.resent_rows, rows);
        if rows > 0 {
            tracing::debug!(rows, "rows resent");
        }
    }

    pub(crate) fn already_written(&self, rows: usize) {
        add(&self.rows_already_written, rows);
    }

    pub(crate) fn snapshot(&self) -> WriterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WriterStats {
            rows_sent: get(&self.rows_sent),
            requests_sent: get(&self.requests_sent),
            bytes_sent: get(&self.bytes_sent),
            rows_acknowledged: get(&self.rows_acknowledged),
            requests_acknowledged: get(&self.requests_acknowledged),
            rows_rejected: get(&self.rows_rejected),
            rows_unwritten: get(&self.rows_unwritten),
            reconnects: get(&self.reconnects),
            resent_requests: get(&self.resent_requests),
            resent_rows: get(&self.resent_rows),
            rows_already_written: get(&self.rows_already_written),
        }
    }
}
