//! The future a caller awaits for the rows of one `send`: [`AppendTicket`].

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::sync::oneshot;

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

    /// A request failed; the first failure of a ticket is its outcome.
    pub(crate) fn failed(&self, error: Error) -> Option<Error> {
        let mut state = self.lock();
        state.outstanding -= 1;
        state.error.get_or_insert(error);
        Self::complete(&mut state)
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
