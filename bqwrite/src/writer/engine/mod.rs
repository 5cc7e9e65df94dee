//! The append engine: a task that owns one AppendRows connection of one
//! write stream. It assigns offsets, keeps every unanswered request to send
//! again after a reconnect, reads answers as they arrive whether or not
//! anyone awaits them, and settles each request's [ticket](super::AppendTicket).
//!
//! It knows nothing of stream types beyond "offsets or none": the front
//! ends ([`Writer`](super::Writer) per stream type) own creation and what
//! ends a stream. The writer side talks to it through a [`Handle`].
//!
//! - `conn.rs`: what goes on the wire (opening, the first request's schema).
//! - `answer.rs`: what one answer means for its request.
//! - `recover.rs`: reconnecting, resending, and finding a resumed stream's end.
//! - `schema.rs`: when the table changes under the writer.

mod answer;
mod conn;
mod handle;
mod recover;
mod schema;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::Instant;

use self::conn::Connection;
use self::schema::SchemaWatch;
use super::missing::MissingValues;
use super::stats::{Cause, Counters};
use super::ticket::TicketCell;
use crate::client::{Client, SharedRows};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::descriptor::DescriptorProto as WireDescriptorProto;
use crate::retry::{Budget, Retry, RetryPolicy};
use crate::schema::TableSchema;

pub(crate) use self::handle::{Handle, Shared};

/// What the engine needs to know of its stream.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) client: Client,
    pub(crate) stream: Arc<str>,
    pub(crate) schema: &'static WireDescriptorProto,
    /// Whether requests carry offsets (explicit streams).
    pub(crate) offsets: bool,
    /// The offset of the first request.
    pub(crate) start: i64,
    /// A resumed stream may already hold rows from `start` on: its end is
    /// found before anything is counted as written (see `recover.rs`).
    pub(crate) unsure_end: bool,
    pub(crate) response_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    /// The table's column names, to name the column of a row error.
    pub(crate) columns: Vec<String>,
    /// For a `_default` writer: the table's location (empty when unknown),
    /// to share a connection of the client's pool there. `None`: the
    /// writer keeps a connection of its own.
    pub(crate) location: Option<String>,
    /// The table's path, for messages.
    pub(crate) table: String,
    /// The row type's name and schema, checked again when the table changes.
    pub(crate) row_type: &'static str,
    pub(crate) row_schema: TableSchema,
    /// The table's schema when the writer started.
    pub(crate) table_schema: Option<TableSchema>,
    /// How long to wait for the table to catch up (`WriterOptions::schema_wait`).
    pub(crate) schema_wait: Duration,
    /// What the requests ask for the values rows leave out.
    pub(crate) missing: MissingValues,
    /// Whether the row type asks for a column's default when it leaves it
    /// out (for the schema checks against an updated table schema).
    pub(crate) asks_default: fn(&str, bool) -> bool,
}

/// What the writer side asks of the engine.
#[derive(Debug)]
pub(crate) enum Command {
    Append(Request),
    /// Answer once every request queued before it is settled.
    Flush(oneshot::Sender<Result<()>>),
    /// The error of a ticket nobody held when it was settled, for the next flush.
    Unobserved(Error),
}

/// The rows of one request, from the writer side.
#[derive(Debug)]
pub(crate) struct Request {
    /// Shared with every send of the request, first and again.
    pub(crate) rows: SharedRows,
    pub(crate) first_index: usize,
    pub(crate) bytes: usize,
    pub(crate) ticket: Arc<TicketCell>,
    /// Its room in the in-flight window, released when it is settled.
    pub(crate) permits: (Option<OwnedSemaphorePermit>, Option<OwnedSemaphorePermit>),
}

/// A request sent and not yet settled.
#[derive(Debug)]
struct InFlight {
    seq: u64,
    offset: i64,
    /// Shared with the request on the wire: a resend copies nothing.
    rows: SharedRows,
    /// Each row's index in its call, when not `first_index + i` (the good
    /// rows of a `_default` request resent without the rejected ones).
    indices: Option<Vec<usize>>,
    first_index: usize,
    bytes: usize,
    ticket: Arc<TicketCell>,
    /// How many times it went on the wire.
    sends: u32,
    /// Whether it last went out naming the stream and carrying the schema.
    headed: bool,
    sent_at: Instant,
    /// When it first went on the wire, for the latency.
    first_sent_at: Option<Instant>,
    _slot: InFlightSlot,
    span: tracing::Span,
    _permits: (Option<OwnedSemaphorePermit>, Option<OwnedSemaphorePermit>),
}

impl InFlight {
    fn count(&self) -> usize {
        self.rows.len()
    }

    fn end(&self) -> i64 {
        self.offset + self.count() as i64
    }

    /// The index in its call of row `i` of this request.
    fn index_of(&self, i: usize) -> usize {
        match &self.indices {
            Some(indices) => indices[i],
            None => self.first_index + i,
        }
    }
}

/// A request's place in the writer's in-flight count, given back when the
/// request is settled (dropped), whichever way.
#[derive(Debug)]
struct InFlightSlot(Arc<Shared>);

impl InFlightSlot {
    fn take(shared: &Arc<Shared>) -> Self {
        Self(shared.clone())
    }
}

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        self.0.counters.settled();
    }
}

/// Why reading or sending failed, and whether reconnecting may help.
#[derive(Debug)]
enum Failure {
    Retryable(Error, Retry, Cause),
    Fatal(Error),
}

impl Failure {
    fn from_error(error: Error) -> Self {
        match (error.kind(), error.code()) {
            (_, Some(code)) if crate::retry::classify(code) != Retry::Permanent => {
                Self::Retryable(error, crate::retry::classify(code), Cause::Transport)
            }
            (ErrorKind::Transport, _) => Self::Retryable(error, Retry::Transient, Cause::Transport),
            _ => Self::Fatal(error),
        }
    }

    fn transport(message: String) -> Self {
        Self::retryable(message, Cause::Transport)
    }

    fn timeout(message: String) -> Self {
        Self::retryable(message, Cause::Timeout)
    }

    fn retryable(message: String, cause: Cause) -> Self {
        let error = Error::new(ErrorKind::Transport, message);
        Self::Retryable(error, Retry::Transient, cause)
    }
}

/// The engine task's state.
struct Engine {
    cfg: Config,
    shared: Arc<Shared>,
    conn: Option<Connection>,
    /// Why the connection was dropped, to retry after.
    failure: Option<(Error, Retry, Cause)>,
    inflight: VecDeque<InFlight>,
    /// The offset of the next new request.
    next_offset: i64,
    next_seq: u64,
    /// Requests up to this sequence number were sent behind a rejected one:
    /// their offsets are past the stream's end, so they cannot be written.
    doomed_until: Option<u64>,
    unsure_end: bool,
    /// The next request sent on the current connection names the stream
    /// and carries the schema again: it is resent there after the service
    /// refused it, and what it refused may have been the connection's
    /// first request, the one the service learns them from.
    resend_header: bool,
    /// The service refused a request that named the stream and carried the
    /// schema on the current connection, and has acknowledged nothing since:
    /// it may not know them, so it may refuse the requests sent behind
    /// without them (see `answer.rs`).
    header_refused: bool,
    retry: Budget,
    /// Shared calls ended by other tables' requests since this writer's
    /// last acknowledgement: each gave the retry budget back, up to
    /// [`MAX_ENDS_BY_OTHERS`] in a row.
    ends_by_others: u32,
    flushes: Vec<(u64, oneshot::Sender<Result<()>>)>,
    /// Errors of tickets nobody held any more, for the next flush.
    unobserved: Vec<Error>,
    /// Why the writer closed for good.
    broken: Option<Error>,
    /// The table's schema, and waiting for it to catch up.
    schema: SchemaWatch,
}

/// How many shared calls in a row, ended by other tables' requests, give a
/// writer that has had nothing acknowledged since its retry budget back.
const MAX_ENDS_BY_OTHERS: u32 = 64;

/// Starts the engine of `cfg`'s stream; the handle is the writer's side.
pub(crate) fn spawn(
    cfg: Config,
    counters: Counters,
    max_requests: usize,
    max_bytes: usize,
    drop_warning: Option<&'static str>,
) -> Handle {
    let shared = Arc::new(Shared::new(cfg.start, counters));
    spawn_shared(cfg, shared, max_requests, max_bytes, drop_warning)
}

/// [`spawn`], continuing the counters and the acknowledged rows of
/// `shared` (a writer that starts a new engine for a new writer schema).
pub(crate) fn spawn_shared(
    cfg: Config,
    shared: Arc<Shared>,
    max_requests: usize,
    max_bytes: usize,
    drop_warning: Option<&'static str>,
) -> Handle {
    let (tx, rx) = mpsc::unbounded_channel();
    if let Some(schema) = &cfg.table_schema {
        shared.set_table_schema(schema.clone());
    }
    let handle = Handle::new(
        tx,
        shared.clone(),
        cfg.stream.clone(),
        max_requests,
        max_bytes,
        drop_warning,
    );
    let engine = Engine {
        next_offset: cfg.start,
        unsure_end: cfg.unsure_end,
        resend_header: false,
        header_refused: false,
        retry: cfg.retry.budget(),
        ends_by_others: 0,
        schema: SchemaWatch::new(cfg.schema_wait, cfg.table_schema.clone()),
        cfg,
        shared,
        conn: None,
        failure: None,
        inflight: VecDeque::new(),
        next_seq: 0,
        doomed_until: None,
        flushes: Vec::new(),
        unobserved: Vec::new(),
        broken: None,
    };
    tokio::spawn(engine.run(rx));
    handle
}

impl Engine {
    fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut open = true;
        loop {
            // A connection can end while the reconnect resends on it: then
            // the next reconnect resends everything again.
            while self.conn.is_none() && !self.inflight.is_empty() && self.broken.is_none() {
                if let Err(error) = self.reconnect().await {
                    self.close(error);
                }
            }
            self.answer_flushes();
            if !open && self.inflight.is_empty() {
                break;
            }
            // A resumed stream's end is found with one request at a time.
            let take = open && (!self.unsure_end || self.inflight.is_empty());
            let deadline = self.deadline();
            let reading = self.conn.is_some() && !self.inflight.is_empty();
            tokio::select! {
                answer = conn::next_answer(self.conn.as_mut(), deadline), if reading => {
                    self.on_answer(answer).await;
                }
                command = rx.recv(), if take => match command {
                    None => open = false,
                    Some(Command::Append(request)) => self.on_request(request),
                    Some(Command::Flush(tx)) => {
                        let seq = self.next_seq;
                        self.flushes.push((seq, tx));
                    }
                    Some(Command::Unobserved(error)) => self.report(Some(error)),
                },
                else => break,
            }
        }
        self.answer_flushes();
    }

    /// When the oldest request's answer is overdue.
    fn deadline(&self) -> Instant {
        self.inflight.front().map_or_else(
            || Instant::now() + self.cfg.response_timeout,
            |r| r.sent_at + self.cfg.response_timeout,
        )
    }

    /// A new request from the writer: give it its offset and send it.
    fn on_request(&mut self, request: Request) {
        if let Some(broken) = &self.broken {
            let error = closed_error(&self.cfg.stream, broken, self.shared.acknowledged());
            self.report(request.ticket.failed(error));
            return;
        }
        let count = request.rows.len();
        if self.cfg.offsets && count > 0 && request.ticket.has_failed() {
            // An earlier request of the same call was rejected (or not
            // written): on an explicit stream nothing of the call after it
            // may land, or the caller, resending from the acknowledged
            // rows, would write these rows twice.
            let why = format!(
                "{count} rows were not written: an earlier request of the same call to `{}` \
                 was not written",
                self.cfg.stream
            );
            self.unwritten(&request.ticket, count, why);
            return;
        }
        if count == 0 {
            let at = self.next_offset;
            self.report(request.ticket.written(at..at, 0));
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let offset = if self.cfg.offsets {
            self.next_offset
        } else {
            0
        };
        self.next_offset += count as i64;
        let span = tracing::debug_span!(
            "append_request",
            stream = %self.cfg.stream,
            offset = self.cfg.offsets.then_some(offset),
            rows = count,
            bytes = request.bytes,
        );
        self.counters().sent(count, request.bytes);
        self.inflight.push_back(InFlight {
            seq,
            offset,
            rows: request.rows,
            indices: None,
            first_index: request.first_index,
            bytes: request.bytes,
            ticket: request.ticket,
            sends: 0,
            headed: false,
            sent_at: Instant::now(),
            first_sent_at: None,
            _slot: InFlightSlot::take(&self.shared),
            span,
            _permits: request.permits,
        });
        let last = self.inflight.len() - 1;
        self.transmit(last);
    }

    /// Sends request `i` of the in-flight queue, unless a reconnect is due
    /// (it resends the whole queue, this one too).
    fn transmit(&mut self, i: usize) {
        if self.retiring() || (self.conn.is_none() && self.inflight.len() > 1) {
            return;
        }
        self.send_now(i);
    }

    /// Sends request `i` on the current connection, or opens one with it.
    fn send_now(&mut self, i: usize) {
        let first = self.conn.is_none() || std::mem::take(&mut self.resend_header);
        let request = &mut self.inflight[i];
        request.sends += 1;
        request.headed = first;
        request.sent_at = Instant::now();
        request.first_sent_at.get_or_insert(request.sent_at);
        if request.sends > 1 {
            request
                .span
                .in_scope(|| tracing::debug!(sends = request.sends, "resending"));
        }
        let wire = conn::request(&self.cfg, request.offset, &request.rows, first);
        let sent = match &self.conn {
            Some(conn) => conn.send(wire),
            None => {
                self.failure = None;
                self.header_refused = false;
                let pooled = !self.schema.own_connection;
                self.conn = Some(Connection::open(&self.cfg, &self.shared, wire, pooled));
                true
            }
        };
        if !sent {
            self.drop_connection(Failure::transport(format!(
                "the AppendRows connection of `{}` closed",
                self.cfg.stream
            )));
        }
    }

    /// The connection is unusable: a reconnect resends what it held.
    fn drop_connection(&mut self, failure: Failure) {
        if self.ends_by_others < MAX_ENDS_BY_OTHERS
            && self
                .conn
                .as_mut()
                .is_some_and(Connection::others_progressed)
        {
            // a shared call that works, ended by another table's request
            // (heard in an answer, or found gone by a send or a resend):
            // not a failure of this writer's to count against its budget
            // (unless that keeps happening with none of its rows written:
            // then the retry policy decides, so it cannot retry forever)
            self.ends_by_others += 1;
            self.retry.progress();
        }
        if let (Some(conn), Failure::Retryable(_, _, Cause::Timeout)) = (&self.conn, &failure) {
            // a call that stopped answering: the reconnect must not be
            // given it again by the client's pool
            conn.abandon("another writer on this AppendRows connection got no answer in time");
        }
        self.conn = None;
        self.schema.connection_dropped();
        match failure {
            Failure::Retryable(error, retry, cause) => self.failure = Some((error, retry, cause)),
            Failure::Fatal(error) => self.close(error),
        }
    }

    /// Closes the writer for good: every request in flight fails with
    /// `error` (they may or may not have landed; the acknowledged count is
    /// exact), and so does everything sent later.
    fn close(&mut self, error: Error) {
        let acked = self.shared.acknowledged();
        // Kept without the acknowledged rows: the errors that quote it as
        // their cause say how many themselves.
        let error = error.with_stream(self.cfg.stream.to_string());
        tracing::warn!(stream = %self.cfg.stream, error = %error, acknowledged = acked, "writer closed");
        self.conn = None;
        let mut first = true;
        while let Some(request) = self.inflight.pop_front() {
            let outcome = if first {
                // The cause, for the request it ended: a broken connection
                // may have written it, whatever its answer was to be.
                error
                    .duplicate()
                    .context(MAYBE_LANDED)
                    .with_acknowledged_rows(acked)
            } else {
                closed_error(&self.cfg.stream, &error, acked)
            };
            first = false;
            self.report(request.ticket.failed(outcome));
        }
        self.shared.close(error.to_string());
        self.broken = Some(error);
    }

    /// Fails `rows` rows of `ticket` as not written (`ErrorKind::Unwritten`)
    /// for the reason `why`, and counts them.
    fn unwritten(&mut self, ticket: &TicketCell, rows: usize, why: String) {
        self.counters().unwritten(rows);
        let error = Error::new(ErrorKind::Unwritten, why).with_stream(self.cfg.stream.to_string());
        let unobserved = ticket.failed(error);
        self.report(unobserved);
    }

    /// Keeps the error of a ticket nobody awaits, for the next flush.
    fn report(&mut self, unobserved: Option<Error>) {
        if let Some(error) = unobserved {
            tracing::warn!(stream = %self.cfg.stream, error = %error, "a dropped ticket failed");
            self.unobserved.push(error);
        }
    }

    /// Answers every flush whose requests are all settled.
    fn answer_flushes(&mut self) {
        let oldest = self.inflight.iter().map(|r| r.seq).min();
        let mut i = 0;
        while i < self.flushes.len() {
            let settled = oldest.is_none_or(|oldest| oldest >= self.flushes[i].0);
            if !settled {
                i += 1;
                continue;
            }
            let (_, tx) = self.flushes.swap_remove(i);
            let outcome = if let Some(broken) = &self.broken {
                Err(closed_error(
                    &self.cfg.stream,
                    broken,
                    self.shared.acknowledged(),
                ))
            } else if let Some(first) = self.unobserved.first() {
                let more = self.unobserved.len() - 1;
                let error = first.duplicate().context(format!(
                    "a ticket that was dropped unawaited failed{}",
                    if more > 0 {
                        format!(" ({more} more did too)")
                    } else {
                        String::new()
                    }
                ));
                self.unobserved.clear();
                Err(error)
            } else {
                Ok(())
            };
            let _ = tx.send(outcome);
        }
    }
}

/// What a writer that closed knows of the rows it had in flight.
const MAYBE_LANDED: &str = "rows sent and not acknowledged may or may not have landed";

/// The error of a request sent to, or in flight in, a closed writer.
fn closed_error(stream: &str, cause: &Error, acknowledged: i64) -> Error {
    Error::new(
        ErrorKind::WriterClosed,
        format!(
            "the writer of `{stream}` is closed after an earlier error ({cause}); {MAYBE_LANDED}"
        ),
    )
    .with_acknowledged_rows(acknowledged)
    .with_stream(stream.to_owned())
}
