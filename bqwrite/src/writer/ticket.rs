//! The future a caller awaits for the rows of one `send`: [`AppendTicket`].

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::engine::Handle;
use super::kind::StreamKind;
use crate::error::{Error, ErrorKind, Result};

/// What one `send` came to: the offsets its rows were written at (explicit
/// streams) and how many rows were written.
#[derive(Debug)]
pub(crate) struct Done {
    offsets: Range<i64>,
    rows: u64,
}

/// The shared state of one ticket: the writer adds the requests of a call
/// and seals it; the engine settles each request. The ticket resolves when
/// it is sealed and every request is settled, whether or not anyone awaits it.
#[derive(Debug)]
pub(crate) struct TicketCell {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    outstanding: usize,
    sealed: bool,
    offsets: Option<Range<i64>>,
    rows: u64,
    error: Option<Error>,
    /// A request failed (its error may not be the ticket's outcome).
    request_failed: bool,
    tx: Option<oneshot::Sender<Result<Done>>>,
}

impl TicketCell {
    pub(crate) fn new() -> (Arc<Self>, oneshot::Receiver<Result<Done>>) {
        let (tx, rx) = oneshot::channel();
        let cell = Arc::new(Self {
            state: Mutex::new(State {
                outstanding: 0,
                sealed: false,
                offsets: None,
                rows: 0,
                error: None,
                request_failed: false,
                tx: Some(tx),
            }),
        });
        (cell, rx)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this short lock leaves consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One more request belongs to the ticket.
    pub(crate) fn add_request(&self) {
        self.lock().outstanding += 1;
    }

    /// No more requests: `error` is what stopped the call early (an invalid
    /// or oversize row), reported once the requests before it settle.
    pub(crate) fn seal(&self, error: Option<Error>) {
        let mut state = self.lock();
        state.sealed = true;
        if let Some(error) = error {
            state.error.get_or_insert(error);
        }
        // The caller holds the receiver: nothing can go unobserved here.
        let _ = Self::complete(&mut state);
    }

    /// Seals a ticket whose call was cancelled before it handed the ticket
    /// out: returns its error if it is settled already and failed.
    fn seal_unheld(&self) -> Option<Error> {
        let mut state = self.lock();
        state.sealed = true;
        Self::complete(&mut state)
    }

    /// A request of `rows` rows was written at `offsets` (empty for `_default`).
    pub(crate) fn written(&self, offsets: Range<i64>, rows: u64) -> Option<Error> {
        let mut state = self.lock();
        state.outstanding -= 1;
        state.rows += rows;
        state.offsets = Some(match state.offsets.take() {
            Some(seen) if seen.start != seen.end => {
                seen.start.min(offsets.start)..seen.end.max(offsets.end)
            }
            _ => offsets,
        });
        Self::complete(&mut state)
    }

    /// A request failed; the first failure of a ticket is its outcome, with
    /// the rows other requests of the call had rejected added to it.
    pub(crate) fn failed(&self, error: Error) -> Option<Error> {
        let mut state = self.lock();
        state.outstanding -= 1;
        state.request_failed = true;
        state.error = Some(match state.error.take() {
            None => error,
            Some(first) => with_rejected_rows_of(first, &error),
        });
        Self::complete(&mut state)
    }

    /// Whether a request of the ticket failed already (not the call
    /// stopping early at a row it could not send: the rows before it go).
    pub(crate) fn has_failed(&self) -> bool {
        self.lock().request_failed
    }

    /// How many rows of the ticket were written so far (for a sink, which
    /// maps a settled request back to its rows).
    pub(crate) fn written_rows(&self) -> u64 {
        self.lock().rows
    }

    /// One request is settled for good after being split in two (the good
    /// rows of a `_default` request resent alone): the ticket waits for one
    /// more answer.
    pub(crate) fn split(&self) {
        self.lock().outstanding += 1;
    }

    /// Resolves the ticket if it is sealed and settled; returns its error
    /// when nobody holds the ticket any more, for the writer to report.
    fn complete(state: &mut State) -> Option<Error> {
        if !state.sealed || state.outstanding > 0 {
            return None;
        }
        let tx = state.tx.take()?;
        let offsets = state.offsets.clone().unwrap_or(0..0);
        let outcome = match state.error.take() {
            None => Ok(Done {
                offsets,
                rows: state.rows,
            }),
            Some(error) if state.rows > 0 => Err(error.context(format!(
                "the other {} row(s) of this call were written{}",
                state.rows,
                if offsets.is_empty() {
                    String::new()
                } else {
                    format!(" at offsets {}..{}", offsets.start, offsets.end)
                }
            ))),
            Some(error) => Err(error),
        };
        tx.send(outcome).err().and_then(Result::err)
    }
}

/// `first` with the rejected rows of `later`, when both are row errors: on
/// `_default` each request of a call may reject rows, and the caller must
/// learn of every one of them.
fn with_rejected_rows_of(first: Error, later: &Error) -> Error {
    if first.kind() != ErrorKind::RowErrors || later.kind() != ErrorKind::RowErrors {
        return first;
    }
    let mut rows = first.row_errors().to_vec();
    rows.extend_from_slice(later.row_errors());
    rows.sort_by_key(|row| row.index);
    let more = later.row_errors().len();
    first.with_row_errors(rows).context(format!(
        "{more} more row(s) were rejected in another request of this call"
    ))
}

/// A call's ticket while the call queues its requests: [`finish`](Self::finish)
/// seals it and hands it out. A call cancelled before that (its future
/// dropped) leaves nobody to hold the ticket: it is sealed on drop, and its
/// failure goes to the next flush, as a dropped ticket's does.
pub(crate) struct Filling<'a> {
    cell: Arc<TicketCell>,
    rx: Option<oneshot::Receiver<Result<Done>>>,
    handle: &'a Handle,
}

impl<'a> Filling<'a> {
    pub(crate) fn new(handle: &'a Handle) -> Self {
        let (cell, rx) = TicketCell::new();
        Self {
            cell,
            rx: Some(rx),
            handle,
        }
    }

    /// The shared state the call's requests are settled through.
    pub(crate) fn cell(&self) -> &Arc<TicketCell> {
        &self.cell
    }

    /// No more requests; `stopped` is what stopped the call early.
    pub(crate) fn finish<S: StreamKind>(mut self, stopped: Option<Error>) -> AppendTicket<S> {
        self.cell.seal(stopped);
        // There until now: only `finish` and `drop` take it.
        let rx = self.rx.take().unwrap_or_else(|| oneshot::channel().1);
        AppendTicket::new(rx, self.handle.stream.clone())
    }
}

impl Drop for Filling<'_> {
    fn drop(&mut self) {
        // Finished: the caller holds the ticket.
        let Some(rx) = self.rx.take() else { return };
        drop(rx);
        if let Some(error) = self.cell.seal_unheld() {
            self.handle.report_unobserved(error);
        }
    }
}

impl std::fmt::Debug for Filling<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filling")
            .field("cell", &self.cell)
            .finish_non_exhaustive()
    }
}

/// The outcome of one [`send`](super::Writer::send): await it for the
/// offsets of the call's rows (explicit streams) or the number of rows
/// written (`_default`), or for the error that stopped them.
///
/// The writer reads acknowledgements whether or not the ticket is awaited,
/// so tickets may be awaited late, in any order, or dropped: a dropped
/// ticket's rows are still tracked, and its error, if it fails, is returned
/// by the writer's next `flush`.
#[must_use = "a ticket holds the outcome of its rows; await it, or call `flush` to learn of failures"]
pub struct AppendTicket<S: StreamKind> {
    rx: oneshot::Receiver<Result<Done>>,
    stream: Arc<str>,
    _kind: PhantomData<fn() -> S>,
}

impl<S: StreamKind> std::fmt::Debug for AppendTicket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendTicket")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl<S: StreamKind> AppendTicket<S> {
    pub(crate) fn new(rx: oneshot::Receiver<Result<Done>>, stream: Arc<str>) -> Self {
        Self {
            rx,
            stream,
            _kind: PhantomData,
        }
    }
}

/// The future of an [`AppendTicket`].
#[derive(Debug)]
pub struct AppendTicketFuture<S: StreamKind> {
    ticket: AppendTicket<S>,
}

impl<S: StreamKind> IntoFuture for AppendTicket<S> {
    type Output = Result<S::Ack>;
    type IntoFuture = AppendTicketFuture<S>;

    fn into_future(self) -> Self::IntoFuture {
        AppendTicketFuture { ticket: self }
    }
}

impl<S: StreamKind> Future for AppendTicketFuture<S> {
    type Output = Result<S::Ack>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let ticket = &mut self.ticket;
        Pin::new(&mut ticket.rx)
            .poll(cx)
            .map(|outcome| match outcome {
                Ok(Ok(done)) => Ok(S::ack(done.offsets, done.rows)),
                Ok(Err(error)) => Err(error),
                Err(_closed) => Err(Error::new(
                    ErrorKind::WriterClosed,
                    format!(
                        "the writer of `{}` stopped before this ticket was settled \
                     (its runtime shut down)",
                        ticket.stream
                    ),
                )
                .with_stream(ticket.stream.to_string())),
            })
    }
}
