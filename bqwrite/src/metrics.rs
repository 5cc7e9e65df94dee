//! The OpenTelemetry instruments (feature `opentelemetry`): made once per
//! writer (and once per client for unary retries), with their attribute
//! sets built once. The list is documented in [`writer`](crate::writer#metrics).

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};

use crate::writer::Cause;

/// The name of the meter bqwrite uses when none is given.
pub(crate) const METER_NAME: &str = "bqwrite";

/// Latency buckets, in seconds: loopback to a slow wide-area round trip
/// and a few retries.
const LATENCY_BOUNDARIES: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// One writer's instruments and attribute sets.
#[derive(Debug)]
pub(crate) struct WriterInstruments {
    rows_sent: Counter<u64>,
    bytes_sent: Counter<u64>,
    rows_acknowledged: Counter<u64>,
    bytes_acknowledged: Counter<u64>,
    in_flight: UpDownCounter<i64>,
    latency: Histogram<f64>,
    reconnects: Counter<u64>,
    resent_requests: Counter<u64>,
    resent_rows: Counter<u64>,
    rows_rejected: Counter<u64>,
    connections: UpDownCounter<i64>,
    /// `table` and `stream_type`.
    attributes: [KeyValue; 2],
    /// The same with `cause`, one set per [`Cause`].
    by_cause: [[KeyValue; 3]; 5],
}

impl WriterInstruments {
    /// The instruments of a writer of `table` (its path) to a stream of the
    /// kind named `kind` (`StreamKind::NAME`).
    pub(crate) fn new(meter: &Meter, table: &str, kind: &'static str) -> Self {
        let rows = |name: &'static str, description: &'static str| {
            meter
                .u64_counter(name)
                .with_unit("{row}")
                .with_description(description)
                .build()
        };
        let bytes = |name: &'static str, description: &'static str| {
            meter
                .u64_counter(name)
                .with_unit("By")
                .with_description(description)
                .build()
        };
        let table: std::sync::Arc<str> = table.into();
        let attributes = [
            KeyValue::new("table", table.clone()),
            KeyValue::new("stream_type", stream_type(kind)),
        ];
        let by_cause = Cause::ALL.map(|cause| {
            [
                attributes[0].clone(),
                attributes[1].clone(),
                KeyValue::new("cause", cause.as_str()),
            ]
        });
        Self {
            rows_sent: rows(
                "bqwrite.writer.sent.rows",
                "Rows handed to the writer's engine",
            ),
            bytes_sent: bytes(
                "bqwrite.writer.sent.bytes",
                "Request bytes handed to the engine",
            ),
            rows_acknowledged: rows(
                "bqwrite.writer.acknowledged.rows",
                "Rows the service acknowledged as written",
            ),
            bytes_acknowledged: bytes(
                "bqwrite.writer.acknowledged.bytes",
                "Request bytes the service acknowledged",
            ),
            in_flight: meter
                .i64_up_down_counter("bqwrite.writer.requests.in_flight")
                .with_unit("{request}")
                .with_description("Requests sent and not yet settled")
                .build(),
            latency: meter
                .f64_histogram("bqwrite.writer.append.duration")
                .with_unit("s")
                .with_description("From a request's first send to its acknowledgement")
                .with_boundaries(LATENCY_BOUNDARIES.to_vec())
                .build(),
            reconnects: meter
                .u64_counter("bqwrite.writer.reconnects")
                .with_unit("{reconnect}")
                .with_description("AppendRows reconnections, by cause")
                .build(),
            resent_requests: meter
                .u64_counter("bqwrite.writer.resent.requests")
                .with_unit("{request}")
                .with_description("Requests sent again, by cause")
                .build(),
            resent_rows: rows("bqwrite.writer.resent.rows", "Rows sent again, by cause"),
            rows_rejected: rows(
                "bqwrite.writer.rejected.rows",
                "Rows the service rejected (row errors)",
            ),
            connections: meter
                .i64_up_down_counter("bqwrite.writer.connections.open")
                .with_unit("{connection}")
                .with_description("AppendRows connections open")
                .build(),
            attributes,
            by_cause,
        }
    }

    pub(crate) fn sent(&self, rows: usize, bytes: usize) {
        self.rows_sent.add(rows as u64, &self.attributes);
        self.bytes_sent.add(bytes as u64, &self.attributes);
        self.in_flight.add(1, &self.attributes);
    }

    pub(crate) fn settled(&self) {
        self.in_flight.add(-1, &self.attributes);
    }

    pub(crate) fn acknowledged(&self, rows: usize, bytes: usize, latency: Duration) {
        self.rows_acknowledged.add(rows as u64, &self.attributes);
        self.bytes_acknowledged.add(bytes as u64, &self.attributes);
        self.latency.record(latency.as_secs_f64(), &self.attributes);
    }

    pub(crate) fn rejected(&self, rows: usize) {
        self.rows_rejected.add(rows as u64, &self.attributes);
    }

    pub(crate) fn reconnected(&self, cause: Cause) {
        self.reconnects.add(1, &self.by_cause[cause as usize]);
    }

    pub(crate) fn resent(&self, rows: usize, cause: Cause) {
        let attributes = &self.by_cause[cause as usize];
        self.resent_requests.add(1, attributes);
        self.resent_rows.add(rows as u64, attributes);
    }

    pub(crate) fn connection(&self, open: bool) {
        self.connections
            .add(if open { 1 } else { -1 }, &self.attributes);
    }
}

/// The `stream_type` attribute: the service's name of the stream type.
fn stream_type(kind: &'static str) -> &'static str {
    match kind {
        "Pending" => "PENDING",
        "Committed" => "COMMITTED",
        "Buffered" => "BUFFERED",
        _ => "_default",
    }
}

/// A client's instruments: retries of unary calls.
#[derive(Debug, Clone)]
pub(crate) struct ClientInstruments {
    meter: Meter,
    retries: Counter<u64>,
}

impl ClientInstruments {
    pub(crate) fn new(meter: Meter) -> Self {
        let retries = meter
            .u64_counter("bqwrite.client.retries")
            .with_unit("{retry}")
            .with_description("Retries of unary calls, by gRPC code")
            .build();
        Self { meter, retries }
    }

    /// The meter writers of this client make their instruments with.
    pub(crate) fn meter(&self) -> &Meter {
        &self.meter
    }

    /// A unary call is retried after failing with `code`.
    pub(crate) fn retried(&self, code: tonic::Code) {
        self.retries
            .add(1, &[KeyValue::new("code", code_name(code))]);
    }
}

/// The canonical name of a gRPC code (`UNAVAILABLE`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
