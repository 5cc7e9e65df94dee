//! The outcome of one batch of a sink, shared by the `send`s of its rows:
//! one allocation and one wake-up source per batch, not per row.
//!
//! A [`Cell`] holds the batch's [`Outcome`] once the task resolves it and
//! the wakers of the sends waiting for it; a [`Receipt`] is what one
//! `send` awaits: the cell and its row's index in the batch.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};

/// What a batch came to. Success is the common case: only the rows that
/// failed alone are listed.
#[derive(Debug)]
pub(super) struct Outcome {
    /// Rows that failed on their own (rejected by the service), by index
    /// in the batch, sorted.
    pub(super) failed: Vec<(u32, Error)>,
    /// The outcome of every other row.
    pub(super) rest: Result<()>,
}

impl Outcome {
    /// Every row of the batch came to `rest`.
    pub(super) fn all(rest: Result<()>) -> Self {
        Self {
            failed: Vec::new(),
            rest,
        }
    }

    /// The outcome of row `index`.
    fn of(&self, index: u32) -> Result<()> {
        match self.failed.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => Err(self.failed[at].1.duplicate()),
            Err(_) => self.rest.as_ref().map_err(Error::duplicate).copied(),
        }
    }
}

/// One batch's outcome and who waits for it.
#[derive(Debug, Default)]
pub(super) struct Cell {
    outcome: OnceLock<Outcome>,
    waiting: Mutex<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    resolved: bool,
    wakers: Vec<Waker>,
    /// Rows whose `send` was dropped before the batch was resolved.
    abandoned: Vec<u32>,
}

impl Cell {
    /// A cell for a batch of about `rows` rows.
    pub(super) fn with_capacity(rows: usize) -> Self {
        Self {
            outcome: OnceLock::new(),
            waiting: Mutex::new(Waiting {
                wakers: Vec::with_capacity(rows),
                ..Waiting::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // Short critical sections that cannot leave the state torn.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the batch's outcome and wakes every `send` of it; the failures
    /// of rows whose `send` was dropped go to `unobserved`.
    pub(super) fn resolve(&self, outcome: Outcome, unobserved: &Unobserved) {
        let (wakers, abandoned) = {
            // Set under the lock: a receipt checking after this sees it.
            let mut waiting = self.lock();
            let _ = self.outcome.set(outcome);
            waiting.resolved = true;
            (
                std::mem::take(&mut waiting.wakers),
                std::mem::take(&mut waiting.abandoned),
            )
        };
        for waker in wakers {
            waker.wake();
        }
        unobserved.add(self.failures_of(&abandoned));
    }

    /// Row `index`'s outcome, once resolved.
    #[cfg(test)]
    pub(super) fn outcome_of(&self, index: u32) -> Option<Result<()>> {
        self.outcome.get().map(|o| o.of(index))
    }

    fn failures_of(&self, rows: &[u32]) -> Vec<Error> {
        let Some(outcome) = self.outcome.get() else {
            return Vec::new();
        };
        rows.iter().filter_map(|&i| outcome.of(i).err()).collect()
    }
}

/// What one `send` awaits: its row's outcome, resolved with its batch's.
/// Dropped unresolved, a failure of the row goes to `unobserved` for the
/// sink's next flush.
#[derive(Debug)]
pub(super) struct Receipt<'a> {
    cell: Arc<Cell>,
    index: u32,
    unobserved: &'a Unobserved,
    done: bool,
}

impl<'a> Receipt<'a> {
    pub(super) fn new(cell: Arc<Cell>, index: u32, unobserved: &'a Unobserved) -> Self {
        Self {
            cell,
            index,
            unobserved,
            done: false,
        }
    }
}

impl Future for Receipt<'_> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(outcome) = self.cell.outcome.get() {
            let outcome = outcome.of(self.index);
            self.done = true;
            return Poll::Ready(outcome);
        }
        let mut waiting = self.cell.lock();
        if !waiting.resolved {
            waiting.wakers.push(cx.waker().clone());
            return Poll::Pending;
        }
        drop(waiting);
        self.done = true;
        // Resolved between the two checks: the outcome is set.
        let outcome = self.cell.outcome.get().map(|o| o.of(self.index));
        Poll::Ready(outcome.unwrap_or(Ok(())))
    }
}

impl Drop for Receipt<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut waiting = self.cell.lock();
        if !waiting.resolved {
            waiting.abandoned.push(self.index);
            return;
        }
        drop(waiting);
        self.unobserved.add(self.cell.failures_of(&[self.index]));
    }
}

/// Failures of rows whose `send` was dropped, for the sink's next flush.
#[derive(Debug, Default)]
pub(super) struct Unobserved {
    errors: Mutex<Vec<Error>>,
}

impl Unobserved {
    pub(super) fn add(&self, errors: Vec<Error>) {
        if errors.is_empty() {
            return;
        }
        for error in &errors {
            tracing::warn!(error = %error, "a dropped sink send failed");
        }
        self.lock().extend(errors);
    }

    /// Takes every failure seen so far.
    pub(super) fn take(&self) -> Vec<Error> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Error>> {
        self.errors.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake};

    use super::{Cell, Outcome, Receipt, Unobserved};
    use crate::error::{Error, ErrorKind};

    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn rejected() -> Error {
        Error::new(ErrorKind::RowErrors, "bad row")
    }

    #[test]
    fn each_row_gets_its_own_outcome_and_every_waiter_is_woken() {
        let cell = Arc::new(Cell::default());
        let unobserved = Unobserved::default();
        let count = Arc::new(Count(0.into()));
        let waker = count.clone().into();
        let mut cx = Context::from_waker(&waker);
        let mut receipts: Vec<_> = (0..3)
            .map(|i| Box::pin(Receipt::new(cell.clone(), i, &unobserved)))
            .collect();
        for receipt in &mut receipts {
            assert!(receipt.as_mut().poll(&mut cx).is_pending());
        }
        let outcome = Outcome {
            failed: vec![(1, rejected())],
            rest: Ok(()),
        };
        cell.resolve(outcome, &unobserved);
        assert_eq!(count.0.load(std::sync::atomic::Ordering::Relaxed), 3);
        let outcomes: Vec<_> = receipts
            .iter_mut()
            .map(|r| match r.as_mut().poll(&mut cx) {
                Poll::Ready(outcome) => outcome.map_err(|e| e.kind()),
                Poll::Pending => panic!("resolved"),
            })
            .collect();
        assert_eq!(outcomes, [Ok(()), Err(ErrorKind::RowErrors), Ok(())]);
        assert!(unobserved.take().is_empty());
    }

    #[test]
    fn a_dropped_receipt_hands_its_failure_on_before_or_after_the_outcome() {
        let cell = Arc::new(Cell::default());
        let unobserved = Unobserved::default();
        // Dropped before: the cell hands the failure back on resolving.
        drop(Receipt::new(cell.clone(), 0, &unobserved));
        drop(Receipt::new(cell.clone(), 2, &unobserved));
        let outcome = Outcome {
            failed: vec![(0, rejected())],
            rest: Ok(()),
        };
        cell.resolve(outcome, &unobserved);
        assert_eq!(unobserved.take().len(), 1, "row 2 was written");
        // Dropped after: the receipt reports it itself.
        drop(Receipt::new(cell.clone(), 0, &unobserved));
        drop(Receipt::new(cell, 1, &unobserved));
        assert_eq!(unobserved.take().len(), 1);
    }
}
