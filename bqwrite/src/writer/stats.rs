//! What a writer did, counted: [`WriterStats`], and the same events as
//! OpenTelemetry instruments with the `opentelemetry` feature.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[cfg(feature = "opentelemetry")]
use crate::metrics::WriterInstruments;

/// A writer's counters since it was made, read with
/// [`Writer::stats`](super::Writer::stats) or
/// [`Sink::stats`](super::Sink::stats): for tests, logs and dashboards.
/// With the `opentelemetry` feature the same events are exported as
/// instruments (see [Metrics](super#metrics)).
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
    /// Request bytes of those requests.
    pub bytes_acknowledged: u64,
    /// Requests handed to the engine and not settled yet (acknowledged or
    /// failed), now.
    pub in_flight_requests: u64,
    /// AppendRows connections open (or opening), now: 0 or 1. A `_default`
    /// writer on the client's pool counts its lease on a shared connection,
    /// so summed over the writers of one client this overstates the
    /// connections open (many writers share each).
    pub open_connections: u64,
    /// Rows the service rejected (row errors).
    pub rows_rejected: u64,
    /// Rows not written because a request before them was rejected.
    pub rows_unwritten: u64,
    /// Reconnections after a broken connection or a transient error.
    pub reconnects: u64,
    /// [`reconnects`](Self::reconnects) by what broke the connection.
    pub reconnects_by_cause: ByCause,
    /// Requests sent again (after a reconnect, a transient error, or, on
    /// `_default`, without rows the service rejected).
    pub resent_requests: u64,
    /// [`resent_requests`](Self::resent_requests) by why they were resent.
    pub resent_requests_by_cause: ByCause,
    /// Rows in those requests. On `_default`, which has no offsets, a row
    /// resent after a lost answer may be written twice: this is the bound.
    pub resent_rows: u64,
    /// Rows found already written when resent (explicit streams: the
    /// exactly-once guard at work).
    pub rows_already_written: u64,
}

/// A count split by why a writer reconnected or resent: the `cause`
/// attribute of the exported instruments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ByCause {
    /// `transport`: the connection broke or the call ended with an error.
    pub transport: u64,
    /// `timeout`: no answer within the response timeout.
    pub timeout: u64,
    /// `in_band`: the service answered a request with a transient error.
    pub in_band: u64,
    /// `row_errors`: on `_default`, the good rows of a request the service
    /// rejected rows of (resends only).
    pub row_errors: u64,
    /// `schema`: the table changed under the writer: a column it writes
    /// had not reached the table's write path yet, the table answered
    /// NOT_FOUND (recreated), or the service needed a new connection for a
    /// change (REQUIRED relaxed to NULLABLE).
    pub schema: u64,
}

/// Why a writer reconnected or resent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    Transport,
    Timeout,
    InBand,
    RowErrors,
    Schema,
}

impl Cause {
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) const ALL: [Cause; 5] = [
        Cause::Transport,
        Cause::Timeout,
        Cause::InBand,
        Cause::RowErrors,
        Cause::Schema,
    ];

    /// The value of the `cause` attribute.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Cause::Transport => "transport",
            Cause::Timeout => "timeout",
            Cause::InBand => "in_band",
            Cause::RowErrors => "row_errors",
            Cause::Schema => "schema",
        }
    }
}

/// Counters split by [`Cause`].
#[derive(Debug, Default)]
struct PerCause([AtomicU64; 5]);

impl PerCause {
    fn add(&self, cause: Cause) {
        self.0[cause as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ByCause {
        let get = |c: Cause| self.0[c as usize].load(Ordering::Relaxed);
        ByCause {
            transport: get(Cause::Transport),
            timeout: get(Cause::Timeout),
            in_band: get(Cause::InBand),
            row_errors: get(Cause::RowErrors),
            schema: get(Cause::Schema),
        }
    }
}

/// The live counters behind [`WriterStats`], and the writer's instruments.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    rows_sent: AtomicU64,
    requests_sent: AtomicU64,
    bytes_sent: AtomicU64,
    rows_acknowledged: AtomicU64,
    requests_acknowledged: AtomicU64,
    bytes_acknowledged: AtomicU64,
    in_flight: AtomicU64,
    connections: AtomicU64,
    rows_rejected: AtomicU64,
    rows_unwritten: AtomicU64,
    reconnects: PerCause,
    resent_requests: PerCause,
    resent_rows: AtomicU64,
    rows_already_written: AtomicU64,
    #[cfg(feature = "opentelemetry")]
    instruments: Option<WriterInstruments>,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

impl Counters {
    /// Counters that also record to `instruments`.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn with_instruments(instruments: WriterInstruments) -> Self {
        Self {
            instruments: Some(instruments),
            ..Self::default()
        }
    }

    /// A request was handed to the engine: it is in flight until settled.
    pub(crate) fn sent(&self, rows: usize, bytes: usize) {
        add(&self.rows_sent, rows);
        add(&self.requests_sent, 1);
        add(&self.bytes_sent, bytes);
        add(&self.in_flight, 1);
        #[cfg(feature = "opentelemetry")]
        if let Some(i) = &self.instruments {
            i.sent(rows, bytes);
        }
    }

    /// A request in flight was settled, whatever its outcome.
    pub(crate) fn settled(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        #[cfg(feature = "opentelemetry")]
        if let Some(i) = &self.instruments {
            i.settled();
        }
    }

    /// A request was acknowledged, `latency` after it first went on the wire.
    pub(crate) fn acknowledged(&self, rows: usize, bytes: usize, latency: Duration) {
        add(&self.rows_acknowledged, rows);
        add(&self.requests_acknowledged, 1);
        add(&self.bytes_acknowledged, bytes);
        #[cfg(feature = "opentelemetry")]
        if let Some(i) = &self.instruments {
            i.acknowledged(rows, bytes, latency);
        }
        #[cfg(not(feature = "opentelemetry"))]
        let _ = latency;
    }

    pub(crate) fn rejected(&self, rows: usize) {
        add(&self.rows_rejected, rows);
        #[cfg(feature = "opentelemetry")]
        if let Some(i) = &self.instruments {
            i.rejected(rows);
        }
    }

    pub(crate) fn unwritten(&self, rows: usize) {
        add(&self.rows_unwritten, rows);
    }

    pub(crate) fn reconnected(&self, cause: Cause) {
        self.reconnects.add(cause);
        #[cfg(feature = "opentelemetry")]
        if let Some(i) = &self.instruments {
            i.reconnected(cause);
        }
    }

    pub(crate) fn resent(&self, rows: usize, cause: Cause) {
        self.resent_requests.add(cause);
        add(&self.resent_rows, rows);
        #[cfg(feature = "opentelemetry")]
        if let Some(i) = &self.instruments {
            i.resent(rows, cause);
        }
        if rows > 0 {
            tracing::debug!(rows, cause = cause.as_str(), "rows resent");
        }
    }

    pub(crate) fn already_written(&self, rows: usize) {
        add(&self.rows_already_written, rows);
    }

    /// An AppendRows connection was opened (`true`) or dropped.
    pub(crate) fn connection(&self, open: bool) {
        if open {
            add(&self.connections, 1);
        } else {
            self.connections.fetch_sub(1, Ordering::Relaxed);
        }
        #[cfg(feature = "opentelemetry")]
        if let Some(i) = &self.instruments {
            i.connection(open);
        }
    }

    pub(crate) fn snapshot(&self) -> WriterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let reconnects_by_cause = self.reconnects.snapshot();
        let resent_requests_by_cause = self.resent_requests.snapshot();
        WriterStats {
            rows_sent: get(&self.rows_sent),
            requests_sent: get(&self.requests_sent),
            bytes_sent: get(&self.bytes_sent),
            rows_acknowledged: get(&self.rows_acknowledged),
            requests_acknowledged: get(&self.requests_acknowledged),
            bytes_acknowledged: get(&self.bytes_acknowledged),
            in_flight_requests: get(&self.in_flight),
            open_connections: get(&self.connections),
            rows_rejected: get(&self.rows_rejected),
            rows_unwritten: get(&self.rows_unwritten),
            reconnects: reconnects_by_cause.total(),
            reconnects_by_cause,
            resent_requests: resent_requests_by_cause.total(),
            resent_requests_by_cause,
            resent_rows: get(&self.resent_rows),
            rows_already_written: get(&self.rows_already_written),
        }
    }
}

impl ByCause {
    /// The sum over every cause.
    pub fn total(&self) -> u64 {
        self.transport + self.timeout + self.in_band + self.row_errors + self.schema
    }
}
