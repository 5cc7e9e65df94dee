//! The outcome of one batch of a sink, shared by the `send`s of its rows:
//! one allocation and one wake-up source per batch, not per row.
//!
//! A [`Cell`] holds the batch's [`Outcome`] once the task resolves it and,
//! once the batch is cut, the wakers of its sends (the intake holds them
//! until then: a `send` registers its waker under the lock that adds its
//! row, and takes no other lock unless polled again before its batch is
//! resolved); a [`Receipt`] is what one `send` awaits: the cell and its
//! row's index in the batch.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use super::intake::Intake;
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
    /// The batch is cut: its sends' wakers are here, not in the intake.
    sealed: bool,
    /// By row index, once sealed.
    wakers: Vec<Waker>,
    /// Rows whose `send` was dropped before the batch was resolved.
    abandoned: Vec<u32>,
}

impl Cell {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // Short critical sections that cannot leave the state torn.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The batch is cut: `wakers` (by row index) wait for its outcome.
    pub(super) fn seal(&self, wakers: Vec<Waker>) {
        let mut waiting = self.lock();
        waiting.wakers = wakers;
        waiting.sealed = true;
    }

    /// Makes `waker` the one row `index` wakes, for a `send` polled again
    /// before its batch is resolved; `open` are the wakers of the shard's
    /// open batch, this cell's batch until it is sealed (the caller holds
    /// the shard's lock). False once resolved.
    pub(super) fn watch(&self, index: u32, waker: &Waker, open: &mut [Waker]) -> bool {
        let mut waiting = self.lock();
        if waiting.resolved {
            return false;
        }
        let wakers = if waiting.sealed {
            &mut waiting.wakers[..]
        } else {
            open
        };
        if let Some(slot) = wakers.get_mut(index as usize)
            && !slot.will_wake(waker)
        {
            *slot = waker.clone();
        }
        true
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

    /// Whether the batch's outcome is set.
    pub(super) fn is_resolved(&self) -> bool {
        self.outcome.get().is_some()
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
/// Dropped unresolved, a failure of the row goes to the intake's
/// unobserved failures for the sink's next flush.
#[derive(Debug)]
pub(super) struct Receipt<'a> {
    cell: Arc<Cell>,
    index: u32,
    /// The intake shard whose batch the row is in.
    shard: usize,
    intake: &'a Intake,
    done: bool,
}

impl<'a> Receipt<'a> {
    /// The receipt of row `index` of `cell`'s batch, in `shard`, whose
    /// waker the intake holds.
    pub(super) fn new(cell: Arc<Cell>, index: u32, shard: usize, intake: &'a Intake) -> Self {
        Self {
            cell,
            index,
            shard,
            intake,
            done: false,
        }
    }
}

impl Future for Receipt<'_> {
    type Output = Result<()>;

    /// Polled when its batch is resolved (the common case: no lock), or
    /// again before: then it registers the new waker.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(outcome) = self.cell.outcome.get() {
            let outcome = outcome.of(self.index);
            self.done = true;
            return Poll::Ready(outcome);
        }
        if self
            .intake
            .watch(self.shard, &self.cell, self.index, cx.waker())
        {
            return Poll::Pending;
        }
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
        let unobserved = &self.intake.unobserved;
        unobserved.add(self.cell.failures_of(&[self.index]));
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
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    use super::{Outcome, Receipt};
    use crate::error::{Error, ErrorKind, Result};
    use crate::writer::sink::intake::Intake;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    impl Count {
        fn get(&self) -> usize {
            self.0.load(Ordering::Relaxed)
        }
    }

    fn rejected() -> Error {
        Error::new(ErrorKind::RowErrors, "bad row")
    }

    /// A row of one byte into `intake`, whose send registers `waker`.
    fn push<'a>(intake: &'a Intake, waker: &Waker) -> Pin<Box<Receipt<'a>>> {
        let receipt = intake.push(|buf| buf.extend_from_slice(&[0]), 1, 3, 3, waker);
        Box::pin(receipt.expect("open"))
    }

    fn poll(receipt: &mut Pin<Box<Receipt<'_>>>, waker: &Waker) -> Poll<Result<()>> {
        receipt.as_mut().poll(&mut Context::from_waker(waker))
    }

    /// Cuts the open batch and resolves it with `outcome`.
    fn resolve(intake: &Intake, outcome: Outcome) {
        let mut cuts = intake.take(true).cuts;
        assert_eq!(cuts.len(), 1);
        let cut = cuts.pop().expect("a batch");
        cut.cell.resolve(outcome, &intake.unobserved);
    }

    #[test]
    fn each_row_gets_its_own_outcome_and_every_waiter_is_woken() {
        let intake = Intake::with_shards(100, 1_000, 1 << 20, 1);
        let count = Arc::new(Count::default());
        let waker = count.clone().into();
        let mut receipts: Vec<_> = (0..3).map(|_| push(&intake, &waker)).collect();
        let outcome = Outcome {
            failed: vec![(1, rejected())],
            rest: Ok(()),
        };
        resolve(&intake, outcome);
        assert_eq!(count.get(), 3, "the wakers registered when the rows came");
        let outcomes: Vec<_> = receipts
            .iter_mut()
            .map(|r| match poll(r, &waker) {
                Poll::Ready(outcome) => outcome.map_err(|e| e.kind()),
                Poll::Pending => panic!("resolved"),
            })
            .collect();
        assert_eq!(outcomes, [Ok(()), Err(ErrorKind::RowErrors), Ok(())]);
        assert!(intake.unobserved.take().is_empty());
    }

    #[test]
    fn a_send_polled_again_before_its_outcome_is_woken_through_its_new_waker() {
        let intake = Intake::with_shards(100, 1_000, 1 << 20, 1);
        let counts: Vec<Arc<Count>> = (0..3).map(|_| Arc::default()).collect();
        let wakers: Vec<Waker> = counts.iter().map(|c| c.clone().into()).collect();
        let mut receipt = push(&intake, &wakers[0]);
        // Polled again with another waker while its batch is open...
        assert!(poll(&mut receipt, &wakers[1]).is_pending());
        let mut cuts = intake.take(true).cuts;
        let cut = cuts.pop().expect("a batch");
        // ...and once more after it is cut.
        assert!(poll(&mut receipt, &wakers[2]).is_pending());
        cut.cell.resolve(Outcome::all(Ok(())), &intake.unobserved);
        let woken: Vec<usize> = counts.iter().map(|c| c.get()).collect();
        assert_eq!(woken, [0, 0, 1], "only the last waker");
        assert!(matches!(
            poll(&mut receipt, &wakers[2]),
            Poll::Ready(Ok(()))
        ));
    }

    #[test]
    fn a_dropped_receipt_hands_its_failure_on_before_or_after_the_outcome() {
        let intake = Intake::with_shards(100, 1_000, 1 << 20, 1);
        let waker = Waker::noop();
        // Dropped before: the cell hands the failure back on resolving.
        let receipts: Vec<_> = (0..3).map(|_| push(&intake, waker)).collect();
        let mut receipts = receipts.into_iter();
        drop(receipts.next());
        let mut kept = receipts.next().expect("row 1");
        drop(receipts.next());
        let outcome = Outcome {
            failed: vec![(0, rejected()), (1, rejected())],
            rest: Ok(()),
        };
        resolve(&intake, outcome);
        assert_eq!(intake.unobserved.take().len(), 1, "row 2 was written");
        // Dropped after: the receipt reports it itself.
        assert!(poll(&mut kept, waker).is_ready());
        assert!(intake.unobserved.take().is_empty(), "row 1 was observed");
        let late = push(&intake, waker);
        resolve(&intake, Outcome::all(Err(rejected())));
        drop(late);
        assert_eq!(intake.unobserved.take().len(), 1);
    }
}
