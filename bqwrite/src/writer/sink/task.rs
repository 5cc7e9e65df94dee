//! The task of a sink: it owns the writer's engine handle, packs the
//! batches the sends fill into requests, and resolves each batch's outcome
//! (on a COMMITTED stream, after sending again the rows that were not
//! written through no fault of their own).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::intake::{Cut, Intake};
use super::receipt::{Outcome, Unobserved};
use super::{Budget, SinkOptions};
use crate::client::SharedRows;
use crate::error::{Error, ErrorKind, Result, RowError};
use crate::writer::batch::wire_len;
use crate::writer::engine::Handle;
use crate::writer::ticket::TicketCell;

/// What the sink's clones ask of the task (rows go through the intake).
#[derive(Debug)]
pub(super) enum Msg {
    /// Answer once every row sent before it is resolved.
    Flush(oneshot::Sender<Result<()>>),
    /// As `Flush`, then stop.
    Close(oneshot::Sender<Result<()>>),
}

/// The batches of one request until their outcome is known.
#[derive(Debug)]
struct Pending {
    /// The batches (one per shard that had rows), in the request's order.
    cuts: Vec<Cut>,
    /// Its place among the requests, for flushes.
    seq: u64,
    /// Rows that failed alone so far, by index in the request's batches.
    failed: Vec<(u32, Error)>,
    /// The rows the next request carries: `None` for all of them.
    left: Option<Vec<u32>>,
    resolved: bool,
}

impl Pending {
    fn rows(&self) -> usize {
        self.cuts.iter().map(Cut::rows).sum()
    }

    /// Row `index` of the batches, counted across them.
    fn row(&self, mut index: usize) -> Bytes {
        for cut in &self.cuts {
            if index < cut.rows() {
                return cut.row(index);
            }
            index -= cut.rows();
        }
        unreachable!("row {index} past the request's batches")
    }

    /// The rows of the next request, and its request bytes.
    fn request(&self) -> (SharedRows, usize) {
        let Some(left) = &self.left else {
            let buffers = self.cuts.iter().map(|c| (c.buf.clone(), c.ends.clone()));
            return (
                SharedRows::from_buffers(buffers),
                self.cuts.iter().map(|c| c.wire).sum(),
            );
        };
        let rows: Vec<_> = left.iter().map(|&i| self.row(i as usize)).collect();
        let bytes = rows.iter().map(|r| wire_len(r.len())).sum();
        (SharedRows::new(rows), bytes)
    }

    /// The index of each row of the last request among the batches' rows.
    fn indices(&self) -> Vec<u32> {
        match &self.left {
            Some(left) => left.clone(),
            None => (0..self.rows() as u32).collect(),
        }
    }

    /// Gives each batch its outcome: its rows that failed alone, `rest`
    /// for the others.
    fn resolve(&mut self, rest: Result<()>, unobserved: &Unobserved) {
        self.resolved = true;
        let mut failed = std::mem::take(&mut self.failed);
        failed.sort_unstable_by_key(|(i, _)| *i);
        let mut failed = failed.into_iter().peekable();
        let mut first = 0;
        for cut in &self.cuts {
            let end = first + cut.rows() as u32;
            let mut own = Vec::new();
            while let Some((i, error)) = failed.next_if(|(i, _)| *i < end) {
                own.push((i - first, error));
            }
            let rest = rest.as_ref().map_err(Error::duplicate).copied();
            cut.cell.resolve(Outcome { failed: own, rest }, unobserved);
            first = end;
        }
    }
}

impl Drop for Pending {
    /// Dropped unresolved only when the task is (its runtime shutting
    /// down): its sends must still end.
    fn drop(&mut self) {
        if !self.resolved {
            let error = Error::new(
                ErrorKind::WriterClosed,
                "the sink stopped before this row was resolved (its Tokio runtime is shutting down)",
            );
            self.resolve(Err(error), &Unobserved::default());
        }
    }
}

/// The batches taken, as requests: consecutive batches together while
/// they fit in one (each batch fits alone).
fn pack(cuts: Vec<Cut>, max_rows: usize, row_budget: usize) -> Vec<Vec<Cut>> {
    let mut requests: Vec<Vec<Cut>> = Vec::new();
    let (mut rows, mut wire) = (0, 0);
    for cut in cuts {
        let fits = rows + cut.rows() <= max_rows && wire + cut.wire <= row_budget;
        if requests.is_empty() || !fits {
            requests.push(Vec::new());
            (rows, wire) = (0, 0);
        }
        rows += cut.rows();
        wire += cut.wire;
        requests.last_mut().expect("a request").push(cut);
    }
    requests
}

/// A request's batches with the request's outcome and how many of its rows
/// were written.
struct Settled {
    pending: Pending,
    outcome: Result<()>,
    written: u64,
}

/// A batch goes at once (after [`gather`]) while fewer of the sink's
/// requests than this await their answer, so that the client encodes
/// while the service writes; beyond it, rows wait for batch-mates (the
/// linger time at most). Measured in `benches/sink.rs`: once a batch
/// gathers every woken sender, 1, 2 and 4 are within the machine's noise
/// on loopback; 4 keeps a link busy.
const EAGER: usize = 4;

pub(super) struct Task {
    handle: Handle,
    intake: Arc<Intake>,
    budget: Arc<Budget>,
    exactly_once: bool,
    /// A change sink's table: until a request is acknowledged, an invalid
    /// request is the service refusing changes to it.
    changes_to: Option<String>,
    /// Whether a request was acknowledged.
    accepted: bool,
    linger: Duration,
    /// When the first row of the oldest open batch came, as last seen.
    since: Option<Instant>,
    /// Send the open batches without waiting (a flush, a close or the
    /// linger time asked).
    hurry: bool,
    next_seq: u64,
    /// Which requests are resolved, from the oldest unresolved one on.
    ledger: Ledger,
    /// Flushes, with the request count they wait for once known.
    flushes: Vec<(Option<u64>, oneshot::Sender<Result<()>>)>,
    closing: Vec<oneshot::Sender<Result<()>>>,
    inflight: FuturesOrdered<BoxFuture<'static, Settled>>,
}

impl Task {
    pub(super) fn new(
        handle: Handle,
        intake: Arc<Intake>,
        budget: Arc<Budget>,
        options: &SinkOptions,
        changes_to: Option<String>,
    ) -> Self {
        Self {
            handle,
            intake,
            budget,
            exactly_once: options.exactly_once,
            changes_to,
            accepted: false,
            linger: options.linger,
            since: None,
            hurry: false,
            next_seq: 0,
            ledger: Ledger::default(),
            flushes: Vec::new(),
            closing: Vec::new(),
            inflight: FuturesOrdered::new(),
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut open = true;
        loop {
            // A linger too long to add (Duration::MAX) is no deadline.
            let deadline = self.since.and_then(|since| since.checked_add(self.linger));
            let waiting = !self.inflight.is_empty();
            tokio::select! {
                biased;
                Some(settled) = self.inflight.next(), if waiting => self.settle(settled).await,
                msg = rx.recv(), if open => open = self.on_msg(msg),
                () = self.intake.wake.notified() => {}
                () = sleep_until(deadline), if deadline.is_some() => self.hurry = true,
            }
            self.send_ready(!open).await;
            self.answer_flushes();
            if !open && self.inflight.is_empty() {
                break;
            }
        }
        let outcome = self.flush_outcome();
        for tx in self.closing.drain(..) {
            let _ = tx.send(outcome.as_ref().map_err(Error::duplicate).copied());
        }
        self.handle.end();
    }

    /// Takes one message (`None`: every clone is gone); false once the
    /// sink is closing.
    fn on_msg(&mut self, msg: Option<Msg>) -> bool {
        self.hurry = true;
        match msg {
            Some(Msg::Flush(tx)) => {
                self.flushes.push((None, tx));
                true
            }
            Some(Msg::Close(tx)) => {
                self.intake.close();
                self.closing.push(tx);
                false
            }
            None => {
                self.intake.close();
                false
            }
        }
    }

    /// Sends the full batches, and the open ones when they should go: at
    /// once while few requests are in flight, else when hurried.
    async fn send_ready(&mut self, closing: bool) {
        let hurry = self.hurry || closing;
        let mut taken = self.intake.take(hurry);
        let eager = self.inflight.len() + taken.cuts.len() < EAGER;
        if let Some(since) = taken.since.filter(|_| !hurry && eager) {
            gather(&self.intake, since.checked_add(self.linger)).await;
            taken.cuts.extend(self.intake.take(true).cuts);
            taken.since = None;
        } else if hurry {
            taken.since = None;
        }
        self.hurry = false;
        self.since = taken.since;
        let requests = pack(taken.cuts, self.intake.max_rows, self.intake.row_budget);
        for cuts in requests {
            let pending = Pending {
                cuts,
                seq: self.next_seq,
                failed: Vec::new(),
                left: None,
                resolved: false,
            };
            self.next_seq += 1;
            self.ledger.push();
            self.submit(pending).await;
        }
        for (until, _) in &mut self.flushes {
            until.get_or_insert(self.next_seq);
        }
    }

    /// Hands one request to the engine, waiting for room in its window.
    async fn submit(&mut self, mut pending: Pending) {
        let (proto, bytes) = pending.request();
        let (ticket, rx) = TicketCell::new();
        if let Err(error) = self.handle.submit(proto, 0, bytes, &ticket).await {
            return self.resolve(&mut pending, Err(error));
        }
        ticket.seal(None);
        let stream = self.handle.stream.clone();
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
                let written = ticket.written_rows();
                Settled {
                    pending,
                    outcome,
                    written,
                }
            }
            .boxed(),
        );
    }

    /// Resolves a settled request; on a COMMITTED stream, sends again the
    /// rows that were not written through no fault of their own.
    async fn settle(&mut self, settled: Settled) {
        let Settled {
            mut pending,
            outcome,
            written,
        } = settled;
        let error = match outcome {
            Ok(()) => {
                self.accepted = true;
                return self.resolve(&mut pending, Ok(()));
            }
            Err(error) => self.refined(error),
        };
        if written > 0 || error.kind() == ErrorKind::RowErrors {
            // The service parsed the request: it took the writer schema.
            self.accepted = true;
        }
        match error.kind() {
            ErrorKind::RowErrors => {
                let mut good = pending.indices();
                for rejected in error.row_errors() {
                    if let Some(&row) = good.get(rejected.index) {
                        pending.failed.push((row, self.rejected(rejected)));
                    }
                }
                let mut bad: Vec<u32> = pending.failed.iter().map(|(i, _)| *i).collect();
                bad.sort_unstable();
                good.retain(|i| bad.binary_search(i).is_err());
                if self.exactly_once && !good.is_empty() {
                    pending.left = Some(good);
                    return self.submit(pending).await;
                }
                // `_default`: the writer sent the good rows again itself.
                let rest = if self.exactly_once || written == good.len() as u64 {
                    Ok(())
                } else {
                    Err(error.duplicate().context(
                        "this row was sent again without the rejected ones and that \
                         failed too: it may or may not have been written",
                    ))
                };
                self.resolve(&mut pending, rest);
            }
            // Sent behind a rejected request: not written, go again.
            ErrorKind::Unwritten if self.exactly_once => self.submit(pending).await,
            _ => self.resolve(&mut pending, Err(error)),
        }
    }

    /// `error`, or for a change sink whose first changes the service found
    /// invalid, the refusal of changes to the table (no primary key, a key
    /// column missing), as `Writer::append_changes` reports it.
    fn refined(&self, error: Error) -> Error {
        match &self.changes_to {
            Some(table)
                if !self.accepted
                    && error.kind() == ErrorKind::Server
                    && error.code() == Some(tonic::Code::InvalidArgument) =>
            {
                crate::writer::changes::refused(table, error)
            }
            _ => error,
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

    /// Gives every row of a request's batches its outcome, and its budget
    /// back.
    fn resolve(&mut self, pending: &mut Pending, rest: Result<()>) {
        self.ledger.resolve(pending.seq);
        let cost = pending.cuts.iter().map(|c| c.cost).sum();
        self.budget.give_back(pending.rows(), cost);
        pending.resolve(rest, &self.intake.unobserved);
    }

    /// Answers every flush whose rows are all resolved.
    fn answer_flushes(&mut self) {
        let oldest = self.ledger.oldest();
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition(|(until, _)| until.is_some_and(|until| oldest >= until));
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
        let unobserved = self.intake.unobserved.take();
        let Some(first) = unobserved.first() else {
            return Ok(());
        };
        let more = unobserved.len() - 1;
        Err(first.duplicate().context(format!(
            "a row whose `send` was dropped failed{}",
            if more > 0 {
                format!(" ({more} more did too)")
            } else {
                String::new()
            }
        )))
    }
}

impl Drop for Task {
    /// Rows still in the intake when the task ends (its runtime shutting
    /// down) fail rather than wait forever.
    fn drop(&mut self) {
        let error = Error::new(
            ErrorKind::WriterClosed,
            format!(
                "the sink of `{}` stopped before this row was resolved \
                 (its Tokio runtime is shutting down)",
                self.handle.stream
            ),
        )
        .with_stream(self.handle.stream.to_string());
        self.intake.fail_all(&error);
    }
}

/// Which requests are resolved: a flush waits until every request before
/// it is. Requests resolve nearly in order, so the window stays short.
#[derive(Debug, Default)]
struct Ledger {
    /// The oldest unresolved request (the next to come when none is).
    oldest: u64,
    /// From `oldest` on: whether each request is resolved.
    resolved: std::collections::VecDeque<bool>,
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

/// How many turns in a row must bring no row for [`gather`] to stop. One
/// is not enough: on 2 workers only one at a time may take tasks from the
/// other's queue, so a turn can end with woken senders still queued there.
const IDLE_TURNS: usize = 3;

/// Lets the senders the last answers woke add their rows first: yields
/// until [`IDLE_TURNS`] turns of the scheduler in a row bring no new row
/// (woken tasks beyond a worker's local queue run turns later), a batch is
/// full, or the linger `deadline` has passed.
///
/// A turn is short: a multi-thread worker runs the yielded task again
/// after at most 61 others, so the senders one answer wakes take many
/// turns; a cap of 16 turns used to cut a round of 1,000 senders in two.
async fn gather(intake: &Intake, deadline: Option<Instant>) {
    let mut pushed = intake.pushed();
    let mut idle = 0;
    loop {
        tokio::task::yield_now().await;
        let (now, full) = intake.progress();
        idle = if now == pushed { idle + 1 } else { 0 };
        let late = deadline.is_some_and(|deadline| Instant::now() >= deadline);
        if idle == IDLE_TURNS || full || late {
            return;
        }
        pushed = now;
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
    use std::sync::Arc;

    use bytes::Bytes;

    use super::{Cut, Ledger, Pending, Unobserved, pack};
    use crate::error::{Error, ErrorKind};

    /// A batch of `rows` rows of 10 request bytes each.
    fn cut(rows: usize) -> Cut {
        Cut {
            buf: Bytes::from(vec![0; rows * 8]),
            ends: (1..=rows).map(|i| i * 8).collect(),
            wire: rows * 10,
            cost: rows * 10,
            cell: Arc::default(),
        }
    }

    fn sizes(requests: &[Vec<Cut>]) -> Vec<usize> {
        requests
            .iter()
            .map(|r| r.iter().map(Cut::rows).sum())
            .collect()
    }

    #[test]
    fn batches_share_a_request_while_they_fit() {
        let cuts = || vec![cut(3), cut(3), cut(3), cut(3)];
        assert_eq!(sizes(&pack(cuts(), 100, 1_000)), [12], "all in one");
        assert_eq!(sizes(&pack(cuts(), 7, 1_000)), [6, 6], "by rows");
        assert_eq!(sizes(&pack(cuts(), 100, 95)), [9, 3], "by bytes");
        assert_eq!(sizes(&pack(cuts(), 2, 1_000)), [3, 3, 3, 3], "each alone");
    }

    #[test]
    fn each_batch_of_a_request_gets_its_own_rows_outcomes() {
        let unobserved = Unobserved::default();
        let cuts = vec![cut(2), cut(3)];
        let cells: Vec<_> = cuts.iter().map(|c| c.cell.clone()).collect();
        let mut pending = Pending {
            cuts,
            seq: 0,
            failed: vec![(3, Error::new(ErrorKind::RowErrors, "bad row"))],
            left: None,
            resolved: false,
        };
        assert_eq!(pending.row(3), pending.cuts[1].row(1));
        pending.resolve(Ok(()), &unobserved);
        let outcomes: Vec<Vec<bool>> = [(0, 2), (1, 3)]
            .iter()
            .map(|&(cell, rows)| {
                (0..rows)
                    .map(|i| cells[cell].outcome_of(i).expect("resolved").is_ok())
                    .collect()
            })
            .collect();
        assert_eq!(outcomes, [vec![true, true], vec![true, false, true]]);
    }

    #[test]
    fn the_ledger_moves_past_batches_resolved_out_of_order() {
        let mut ledger = Ledger::default();
        for _ in 0..4 {
            ledger.push();
        }
        ledger.resolve(1);
        ledger.resolve(2);
        assert_eq!(ledger.oldest(), 0, "batch 0 is not resolved");
        ledger.resolve(0);
        assert_eq!(ledger.oldest(), 3);
        ledger.resolve(3);
        assert_eq!(ledger.oldest(), 4, "none left: the next batch to come");
        ledger.resolve(2); // resolved before: ignored
        assert_eq!(ledger.oldest(), 4);
    }
}
