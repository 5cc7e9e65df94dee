//! Counting AppendRows connections, so that a test can check how many a
//! client keeps open at once (BigQuery counts them against a quota).
//!
//! A call stops counting as soon as the server can tell it is gone: its
//! task ends or tells the client it ended, or the server drops its answers
//! (the client reset it, or its HTTP/2 connection ended), whichever comes
//! first.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// How many AppendRows connections (calls) the emulator has served, from
/// [`Emulator::append_rows_connections`](crate::Emulator::append_rows_connections).
///
/// A connection counts as open from the moment the call reaches the server
/// until the server notices it is gone (its request stream ends, its
/// responses are dropped, it is closed by a fault, a status, or a shutdown;
/// one the server ends stops counting before the client can hear of it).
///
/// The server notices that a TCP connection was cut when its task for that
/// connection next runs: a client that reconnects at once on another TCP
/// connection can meanwhile be counted with its old calls, so `peak` may
/// briefly exceed the calls the client holds when connections are cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: u64,
    /// The most connections that were open at the same time.
    pub peak: u64,
    /// Every connection ever opened.
    pub total: u64,
}

/// The emulator's counters, shared by every call (and kept across restarts).
#[derive(Debug, Default)]
pub(crate) struct ConnectionCounter {
    open: AtomicU64,
    peak: AtomicU64,
    total: AtomicU64,
}

impl ConnectionCounter {
    /// Counts a new connection until the returned guard, or any clone of
    /// it, is dropped or [closed](OpenConnection::close).
    pub(crate) fn opened(self: &Arc<Self>) -> OpenConnection {
        let open = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak.fetch_max(open, Ordering::AcqRel);
        self.total.fetch_add(1, Ordering::AcqRel);
        OpenConnection(Arc::new(Slot {
            counter: self.clone(),
            closed: AtomicBool::new(false),
        }))
    }

    pub(crate) fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            open: self.open.load(Ordering::Acquire),
            peak: self.peak.load(Ordering::Acquire),
            total: self.total.load(Ordering::Acquire),
        }
    }
}

/// One open connection in the counters. Its holders (the connection's
/// task, and the answers stream the server holds while the call lives)
/// each count it closed when they let go: the first to do so frees it, so
/// that a call is not counted for as long as the slowest of them takes to
/// notice it is gone.
#[derive(Debug, Clone)]
pub(crate) struct OpenConnection(Arc<Slot>);

#[derive(Debug)]
struct Slot {
    counter: Arc<ConnectionCounter>,
    closed: AtomicBool,
}

impl OpenConnection {
    /// Counts the connection closed now (once, whoever calls it).
    pub(crate) fn close(&self) {
        if !self.0.closed.swap(true, Ordering::AcqRel) {
            self.0.counter.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_remembers_the_most_open_at_once() {
        let counter = Arc::new(ConnectionCounter::default());
        let a = counter.opened();
        let b = counter.opened();
        drop(a);
        let c = counter.opened();
        assert_eq!(
            counter.stats(),
            ConnectionStats {
                open: 2,
                peak: 2,
                total: 3
            }
        );
        drop((b, c));
        assert_eq!(counter.stats().open, 0);
    }

    #[test]
    fn the_first_holder_to_let_go_closes_a_connection_once() {
        let counter = Arc::new(ConnectionCounter::default());
        let task = counter.opened();
        let answers = task.clone();
        let other = counter.opened();
        drop(answers);
        assert_eq!(counter.stats().open, 1, "closed when the answers went");
        task.close();
        drop(task);
        assert_eq!(counter.stats().open, 1, "counted closed once");
        drop(other);
        assert_eq!(counter.stats().open, 0);
    }
}
