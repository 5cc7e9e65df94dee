//! Counting AppendRows connections, so that a test can check how many a
//! client keeps open at once (BigQuery counts them against a quota).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many AppendRows connections (calls) the emulator has served, from
/// [`Emulator::append_rows_connections`](crate::Emulator::append_rows_connections).
///
/// A connection counts as open from the moment the call reaches the server
/// until the server notices it is gone (its request stream ends, its
/// responses are dropped, it is closed by a fault, a status, or a shutdown).
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
    /// Counts a new connection until the returned guard is dropped.
    pub(crate) fn opened(self: &Arc<Self>) -> OpenConnection {
        let open = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak.fetch_max(open, Ordering::AcqRel);
        self.total.fetch_add(1, Ordering::AcqRel);
        OpenConnection(self.clone())
    }

    pub(crate) fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            open: self.open.load(Ordering::Acquire),
            peak: self.peak.load(Ordering::Acquire),
            total: self.total.load(Ordering::Acquire),
        }
    }
}

/// One open connection in the counters; dropping it counts it closed.
#[derive(Debug)]
pub(crate) struct OpenConnection(Arc<ConnectionCounter>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
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
}
