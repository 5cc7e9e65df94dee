//! The batching task of a sink: it owns the writer's engine handle, turns
//! rows sent one by one into requests, and maps each request's outcome
//! back to the `send` of each of its rows.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{Budget, SinkOptions, wire_len};
use crate::error::{Error, ErrorKind, Result, RowError};
use crate::proto::storage::ProtoRows;
use crate::writer::engine::Handle;
use crate::writer::ticket::TicketCell;

/// What the sink's clones ask of the task, in the order they asked.
#[derive(Debug)]
pub(super) enum Msg {
    Row(Row),
    /// Answer once every row received before it is resolved.
    Flush(oneshot::Sender<Result<()>>),
    /// As `Flush`, then stop.
    Close(oneshot::Sender<Result<()>>),
}

/// One encoded row and where its outcome goes.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) bytes: Bytes,
    pub(super) tx: oneshot::Sender<Result<()>>,
}

/// A row the task holds: its place in arrival order, for flushes.
#[derive(Debug)]
struct Held {
    bytes: Bytes,
    tx: oneshot::Sender<Result<()>>,
    seq: u64,
}

/// The rows of one request and its ticket.
struct Submitted {
    rows: Vec<Held>,
    ticket: Arc<TicketCell>,
}

/// A request's rows with its outcome.
type Settled = (Submitted, Result<()>);

/// A batch goes at once while fewer of the sink's requests than this
/// await their answer, so that the client encodes while the service
/// writes; beyond it, rows wait for batch-mates (the linger time at most).
/// Measured in `benches/sink.rs`: 4 beat 1 and 2 on loopback.
const EAGER: usize = 4;

/// Messages taken from the channel at once.
const RECV_BATCH: usize = 4096;

pub(super) struct Task {
    handle: Handle,
    exactly_once: bool,
    linger: Duration,
    max_rows: usize,
    row_budget: usize,
    budget: Arc<Budget>,
    /// The batch being filled: its rows copied into one buffer (as a
    /// writer's batch is), where each ends, who waits for each, its request
    /// bytes and when its first row came.
    batch: Vec<(oneshot::Sender<Result<()>>, u64)>,
    buf: BytesMut,
    ends: Vec<usize>,
    batch_wire: usize,
    batch_since: Option<Instant>,
    /// Send the batch without waiting (a flush or a close asked).
    hurry: bool,
    next_seq: u64,
    /// Which rows are resolved, from the oldest unresolved one on.
    ledger: Ledger,
    flushes: Vec<(u64, oneshot::Sender<Result<()>>)>,
    closing: Vec<oneshot::Sender<Result<()>>>,
    /// Failures of rows whose `send` was dropped, for the next flush.
    unobserved: Vec<Error>,
    inflight: FuturesOrdered<BoxFuture<'static, Settled>>,
}

impl Task {
    pub(super) fn new(
        handle: Handle,
        options: &SinkOptions,
        row_budget: usize,
        budget: Arc<Budget>,
    ) -> Self {
        Self {
            handle,
            exactly_once: options.exactly_once,
            linger: options.linger,
            max_rows: options.writer.max_rows_per_request,
            row_budget,
            budget,
            batch: Vec::new(),
            buf: BytesMut::new(),
            ends: Vec::new(),
            batch_wire: 0,
            batch_since: None,
            hurry: false,
            next_seq: 0,
            ledger: Ledger::default(),
            flushes: Vec::new(),
            closing: Vec::new(),
            unobserved: Vec::new(),
            inflight: FuturesOrdered::new(),
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut msgs = Vec::with_capacity(RECV_BATCH);
        let mut open = true;
        loop {
            let deadline = self.batch_since.map(|since| since + self.linger);
            let waiting = !self.inflight.is_empty();
            tokio::select! {
                biased;
                Some((submitted, outcome)) = self.inflight.next(), if waiting => {
                    self.settle(submitted, outcome).await;
                }
                n = rx.recv_many(&mut msgs, RECV_BATCH), if open => {
                    open = n > 0;
                    for msg in msgs.drain(..) {
                        open &= self.on_msg(msg).await;
                    }
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.submit_batch().await;
                }
                else => break,
            }
            if !self.batch.is_empty() && (self.inflight.len() < EAGER || self.hurry || !open) {
                if open && !self.hurry {
                    // Let the senders the last answers woke queue their
                    // next rows first, then go.
                    tokio::task::yield_now().await;
                    while let Ok(msg) = rx.try_recv() {
                        open &= self.on_msg(msg).await;
                    }
                }
                self.submit_batch().await;
            }
            self.answer_flushes();
            if !open && self.batch.is_empty() && self.inflight.is_empty() {
                break;
            }
        }
        // Rows queued behind a close are dropped with the channel: their
        // `send` fails as closed.
        let outcome = self.flush_outcome();
        for tx in self.closing.drain(..) {
            let _ = tx.send(outcome.as_ref().map_err(Error::duplicate).copied());
        }
        self.handle.end();
    }

    /// Takes one message; false once the sink is closing.
    async fn on_msg(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Row(row) if !self.closing.is_empty() => {
                let error = Error::new(
                    ErrorKind::WriterClosed,
                    format!("the sink of `{}` is closed", self.handle.stream),
                );
                let wire = wire_len(row.bytes.len());
                self.budget.give_back(1, self.budget.cost(wire) as usize);
                let _ = row.tx.send(Err(error));
            }
            Msg::Row(row) => self.push(row).await,
            Msg::Flush(tx) => {
                self.flushes.push((self.next_seq, tx));
                // Rows coming after the flush need not hurry.
                self.hurry = !self.batch.is_empty();
            }
            Msg::Close(tx) => {
                self.flushes.retain(|(_, tx)| !tx.is_closed());
                self.closing.push(tx);
                self.hurry = true;
            }
        }
        self.closing.is_empty()
    }

    /// Adds a row to the batch, sending the batch first if the row does
    /// not fit in it.
    async fn push(&mut self, row: Row) {
        let wire = wire_len(row.bytes.len());
        if !self.batch.is_empty()
            && (self.batch.len() >= self.max_rows || self.batch_wire + wire > self.row_budget)
        {
            self.submit_batch().await;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.ledger.push();
        self.batch_since.get_or_insert_with(Instant::now);
        self.batch_wire += wire;
        self.buf.extend_from_slice(&row.bytes);
        self.ends.push(self.buf.len());
        self.batch.push((row.tx, seq));
    }

    async fn submit_batch(&mut self) {
        self.hurry = false;
        self.batch_since = None;
        self.batch_wire = 0;
        let buf = std::mem::take(&mut self.buf).freeze();
        // The next batch is likely the size of this one: one allocation.
        self.buf.reserve(buf.len());
        let mut start = 0;
        let rows: Vec<Held> = std::mem::take(&mut self.batch)
            .into_iter()
            .zip(self.ends.drain(..))
            .map(|((tx, seq), end)| {
                let bytes = buf.slice(start..end);
                start = end;
                Held { bytes, tx, seq }
            })
            .collect();
        if !rows.is_empty() {
            self.submit(rows).await;
        }
    }

    /// Hands one request to the engine, waiting for room in its window.
    async fn submit(&mut self, rows: Vec<Held>) {
        let bytes = rows.iter().map(|r| wire_len(r.bytes.len())).sum();
        let proto = ProtoRows {
            serialized_rows: rows.iter().map(|r| r.bytes.clone()).collect(),
        };
        let (ticket, rx) = TicketCell::new();
        if let Err(error) = self.handle.submit(proto, 0, bytes, &ticket).await {
            let n = rows.len();
            let cost = rows
                .into_iter()
                .map(|row| self.resolve(row, Err(error.duplicate())))
                .sum();
            return self.budget.give_back(n, cost);
        }
        ticket.seal(None);
        let stream = self.handle.stream.clone();
        let submitted = Submitted { rows, ticket };
        self.inflight.push_back(
            async move {
                let outcome = match rx.await {
                    Ok(outcome) => outcome.map(drop),
                    Err(_) => Err(Error::new(
                        ErrorKind::WriterClosed,
                        format!("the writer of `{stream}` stopped (its runtime shut down)"),
                    )
                    .with_stream(stream.to_string())),
                };
                (submitted, outcome)
            }
            .boxed(),
        );
    }

    /// Tells each row of a settled request its outcome; on a COMMITTED
    /// stream, sends again the rows that were not written through no fault
    /// of their own.
    async fn settle(&mut self, submitted: Submitted, outcome: Result<()>) {
        let Submitted { rows, ticket } = submitted;
        let error = match outcome {
            Ok(()) => {
                let n = rows.len();
                let cost: usize = rows.into_iter().map(|row| self.resolve(row, Ok(()))).sum();
                return self.budget.give_back(n, cost);
            }
            Err(error) => error,
        };
        let (mut resolved, mut cost) = (0, 0);
        let mut again = Vec::new();
        match error.kind() {
            ErrorKind::RowErrors => {
                let bad: HashMap<usize, &RowError> =
                    error.row_errors().iter().map(|e| (e.index, e)).collect();
                // `_default`: the writer sent the good rows again itself.
                let good = rows.len() - bad.len();
                let all_good_written = ticket.written_rows() == good as u64;
                for (i, row) in rows.into_iter().enumerate() {
                    let outcome = if let Some(rejected) = bad.get(&i) {
                        Err(self.rejected(rejected))
                    } else if self.exactly_once {
                        again.push(row);
                        continue;
                    } else if all_good_written {
                        Ok(())
                    } else {
                        Err(error.duplicate().context(
                            "this row was sent again without the rejected ones and that \
                             failed too: it may or may not have been written",
                        ))
                    };
                    resolved += 1;
                    cost += self.resolve(row, outcome);
                }
            }
            // Sent behind a rejected request: not written, go again.
            ErrorKind::Unwritten if self.exactly_once => again = rows,
            _ => {
                for row in rows {
                    resolved += 1;
                    cost += self.resolve(row, Err(error.duplicate()));
                }
            }
        }
        self.budget.give_back(resolved, cost);
        if !again.is_empty() {
            self.submit(again).await;
        }
    }

    /// The error of one rejected row, for its own `send`.
    fn rejected(&self, rejected: &RowError) -> Error {
        Error::new(
            ErrorKind::RowErrors,
            format!(
                "the service rejected the row sent to `{}`; the other rows of its request \
                 are written without it:",
                self.handle.stream
            ),
        )
        .with_row_errors(vec![RowError {
            index: 0,
            ..rejected.clone()
        }])
        .with_stream(self.handle.stream.to_string())
    }

    /// Gives a row its outcome; returns its cost in the byte budget, for
    /// the caller to give back (once per request, not per row).
    fn resolve(&mut self, row: Held, outcome: Result<()>) -> usize {
        self.ledger.resolve(row.seq);
        let cost = self.budget.cost(wire_len(row.bytes.len())) as usize;
        if let Err(Err(error)) = row.tx.send(outcome) {
            tracing::warn!(stream = %self.handle.stream, error = %error, "a dropped send failed");
            self.unobserved.push(error);
        }
        cost
    }

    /// Answers every flush whose rows are all resolved.
    fn answer_flushes(&mut self) {
        let oldest = self.ledger.oldest();
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition(|(seq, _)| oldest >= *seq);
        self.flushes = waiting;
        if done.is_empty() {
            return;
        }
        let outcome = self.flush_outcome();
        for (_, tx) in done {
            let _ = tx.send(outcome.as_ref().map_err(Error::duplicate).copied());
        }
    }

    /// What a flush reports: a closed writer, or failures nobody saw.
    fn flush_outcome(&mut self) -> Result<()> {
        self.handle.check_open()?;
        let Some(first) = self.unobserved.first() else {
            return Ok(());
        };
        let more = self.unobserved.len() - 1;
        let error = first.duplicate().context(format!(
            "a row whose `send` was dropped failed{}",
            if more > 0 {
                format!(" ({more} more did too)")
            } else {
                String::new()
            }
        ));
        self.unobserved.clear();
        Err(error)
    }
}

/// Which rows are resolved: a flush waits until every row before it is.
/// Rows resolve nearly in order, so the window stays short.
#[derive(Debug, Default)]
struct Ledger {
    /// The oldest unresolved row (the next row to come when none is).
    oldest: u64,
    /// From `oldest` on: whether each row is resolved.
    resolved: VecDeque<bool>,
}

impl Ledger {
    fn push(&mut self) {
        self.resolved.push_back(false);
    }

    fn resolve(&mut self, seq: u64) {
        let at = seq.checked_sub(self.oldest).map(|at| at as usize);
        if let Some(done) = at.and_then(|at| self.resolved.get_mut(at)) {
            *done = true;
        }
        while self.resolved.front() == Some(&true) {
            self.resolved.pop_front();
            self.oldest += 1;
        }
    }

    fn oldest(&self) -> u64 {
        self.oldest
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::Ledger;

    #[test]
    fn the_ledger_moves_past_rows_resolved_out_of_order() {
        let mut ledger = Ledger::default();
        for _ in 0..4 {
            ledger.push();
        }
        ledger.resolve(1);
        ledger.resolve(2);
        assert_eq!(ledger.oldest(), 0, "row 0 is not resolved");
        ledger.resolve(0);
        assert_eq!(ledger.oldest(), 3);
        ledger.resolve(3);
        assert_eq!(ledger.oldest(), 4, "none left: the next row to come");
        ledger.resolve(2); // resolved before: ignored
        assert_eq!(ledger.oldest(), 4);
    }
}
