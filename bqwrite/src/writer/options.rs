//! How a writer splits, pipelines and retries requests.

use std::time::Duration;

use crate::retry::RetryPolicy;

/// The default request size limit: under the service's 10 MB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 9 * 1024 * 1024;
/// The default row count limit of one request.
pub const DEFAULT_MAX_ROWS_PER_REQUEST: usize = 100_000;
/// The default number of requests awaiting their response at once: as in
/// Google's Go client, enough for small requests to fill a wide-area link
/// (at 20 ms round trip, 1,000 requests of 10 KB in flight carry 500 MB/s).
pub const DEFAULT_MAX_INFLIGHT_REQUESTS: usize = 1_000;
/// The default number of request bytes awaiting their response at once:
/// what bounds a writer's memory.
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 100 * 1024 * 1024;
/// The default wait for the answer to one AppendRows request.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

/// The default time a writer waits for its table to catch up with it (a
/// column just added reaching the write path, a recreated table answering):
/// BigQuery takes from seconds to about a minute.
pub const DEFAULT_SCHEMA_WAIT: Duration = Duration::from_secs(120);

/// The largest window a semaphore can count: `tokio`'s own limit.
const MAX_WINDOW: usize = tokio::sync::Semaphore::MAX_PERMITS;

/// How a [`Writer`](super::Writer) splits, pipelines and retries requests.
///
/// Memory is bounded by `max_inflight_bytes` plus one request being filled,
/// whatever the size of the input and however many
/// [tickets](super::AppendTicket) are outstanding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct WriterOptions {
    pub(crate) max_request_bytes: usize,
    pub(crate) max_rows_per_request: usize,
    pub(crate) max_inflight_requests: usize,
    pub(crate) max_inflight_bytes: usize,
    pub(crate) response_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) schema_wait: Duration,
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
            schema_wait: DEFAULT_SCHEMA_WAIT,
        }
    }
}

impl WriterOptions {
    /// The largest AppendRows request, in encoded bytes (default
    /// [`DEFAULT_MAX_REQUEST_BYTES`]). A row that cannot fit alone is an
    /// [`ErrorKind::RowTooLarge`](crate::ErrorKind::RowTooLarge) error.
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
    /// [`DEFAULT_MAX_INFLIGHT_REQUESTS`]); 1 turns pipelining off. Values
    /// above what the window can count (`usize::MAX` included) mean "as many
    /// as the byte window allows".
    pub fn max_inflight_requests(mut self, requests: usize) -> Self {
        self.max_inflight_requests = requests.clamp(1, MAX_WINDOW);
        self
    }

    /// The most request bytes sent and not yet answered (default
    /// [`DEFAULT_MAX_INFLIGHT_BYTES`]); one request is always allowed.
    pub fn max_inflight_bytes(mut self, bytes: usize) -> Self {
        self.max_inflight_bytes = bytes.clamp(1, MAX_WINDOW.min(u32::MAX as usize));
        self
    }

    /// How long to wait for the answer to a request before the connection is
    /// taken as broken and the request resent (default
    /// [`DEFAULT_RESPONSE_TIMEOUT`]).
    ///
    /// A connection whose peer vanished without closing it (a half-open TCP
    /// connection) is found dead by HTTP/2 keep-alive pings, every 30 s with
    /// 20 s to answer, so within about 50 s; until then the resend of a
    /// timed-out request opens its new call on the same dead connection. A
    /// timeout well under 50 s therefore spends retry attempts without
    /// reaching the service: give the [`RetryPolicy`](crate::RetryPolicy)
    /// enough backoff to outlast the keep-alive.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// When a broken connection or a transient error is retried: see
    /// [`retry`](crate::retry) for what is retried (default
    /// [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long the writer waits, reconnecting with backoff, for its table
    /// to catch up (default [`DEFAULT_SCHEMA_WAIT`]): a column the row type
    /// writes that the table's metadata has but its write path does not yet
    /// (refused as an unknown field just after `ALTER TABLE ADD COLUMN`), or
    /// a table that answers NOT_FOUND (deleted, or recreated under the same
    /// name). Then the writer fails: [`ErrorKind::SchemaMismatch`] naming the
    /// columns, or the NOT_FOUND error. Zero fails at once. See [when the
    /// table changes](super#when-the-table-changes).
    ///
    /// [`ErrorKind::SchemaMismatch`]: crate::ErrorKind::SchemaMismatch
    pub fn schema_wait(mut self, wait: Duration) -> Self {
        self.schema_wait = wait;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_clamped_to_what_a_semaphore_counts() {
        let options = WriterOptions::default()
            .max_inflight_requests(usize::MAX)
            .max_inflight_bytes(usize::MAX);
        assert_eq!(options.max_inflight_requests, MAX_WINDOW);
        assert!(options.max_inflight_bytes <= u32::MAX as usize);
        let options = WriterOptions::default()
            .max_inflight_requests(0)
            .max_inflight_bytes(0);
        assert_eq!(options.max_inflight_requests, 1);
        assert_eq!(options.max_inflight_bytes, 1);
    }
}
