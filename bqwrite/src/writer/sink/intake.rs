//! The batches being filled: every `send` encodes its row straight into
//! one, under a short lock, and takes a [`Receipt`] for it; the sink's task
//! packs them into requests. No message, channel slot or allocation per row.
//!
//! There is one open batch per shard, and a thread sends into its own
//! shard: sends on different cores neither wait for one lock nor pull the
//! batch's memory back and forth between their caches (one shared batch
//! was the sink's largest cost per row on 2 cores).

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::receipt::{Cell, Outcome, Receipt, Unobserved};
use crate::error::{Error, ErrorKind, Result};

/// What the sends of a sink and its task share.
#[derive(Debug)]
pub(super) struct Intake {
    shards: Box<[Shard]>,
    /// Wakes the task: a batch got its first row, or one filled up.
    pub(super) wake: Notify,
    /// Failures of rows whose `send` was dropped, for the next flush.
    pub(super) unobserved: Unobserved,
    pub(super) max_rows: usize,
    pub(super) row_budget: usize,
}

/// One open batch, on a cache line of its own.
#[derive(Debug)]
#[repr(align(128))]
struct Shard(Mutex<Open>);

/// The batch being filled, and the full ones waiting for the task.
#[derive(Debug)]
struct Open {
    buf: BytesMut,
    /// Where each row ends in `buf`.
    ends: Vec<usize>,
    /// The waker of each row's `send`, until the batch is cut.
    wakers: Vec<Waker>,
    /// Request bytes of the rows, and their cost in the sink's budget.
    wire: usize,
    cost: usize,
    /// When the first row came.
    since: Option<Instant>,
    cell: Arc<Cell>,
    /// Batches cut because full, oldest first.
    full: VecDeque<Cut>,
    /// No more rows: the sink is closing or its task is gone.
    closed: bool,
    /// Rows pushed so far.
    pushed: u64,
    /// The room the next batch starts with.
    room: Room,
}

/// The rows and bytes a batch starts with room for: the largest batch of
/// late (shrinking by a quarter per batch when they get smaller), within
/// the shard's share of the sink's byte budget.
///
/// The room is reserved before any row is in it, so the budget, which
/// counts rows, does not see it: each shard keeps it within `share`
/// bytes (its own and its rows' ends and wakers), so that all shards
/// together reserve at most the sink's
/// [`max_buffered_bytes`](super::SinkOptions::max_buffered_bytes). A
/// batch larger than that grows as rows come, as it would without room.
#[derive(Debug)]
struct Room {
    rows: usize,
    bytes: usize,
    share: usize,
}

/// The memory a row's place in a batch takes besides its bytes: where it
/// ends, and the waker of its `send`.
const ROW_ROOM: usize = std::mem::size_of::<usize>() + std::mem::size_of::<Waker>();

impl Room {
    /// No room yet, and at most `share` bytes of it ever.
    fn within(share: usize) -> Self {
        Self {
            rows: 0,
            bytes: 0,
            share,
        }
    }

    /// The room for the next batch, after one of `rows` rows and `bytes`
    /// bytes: at most half the share for the rows' places, the rest for
    /// their bytes.
    fn next(&mut self, rows: usize, bytes: usize) -> (usize, usize) {
        self.rows = rows
            .max(self.rows - self.rows / 4)
            .min(self.share / 2 / ROW_ROOM);
        self.bytes = bytes
            .max(self.bytes - self.bytes / 4)
            .min(self.share - self.rows * ROW_ROOM);
        (self.rows, self.bytes)
    }

    /// The memory this room reserves.
    #[cfg(test)]
    fn reserved(&self) -> usize {
        self.bytes + self.rows * ROW_ROOM
    }
}

/// A batch cut from the open one: its rows, and who awaits them.
#[derive(Debug)]
pub(super) struct Cut {
    pub(super) buf: Bytes,
    pub(super) ends: Vec<usize>,
    pub(super) wire: usize,
    pub(super) cost: usize,
    pub(super) cell: Arc<Cell>,
}

impl Drop for Cut {
    /// A batch dropped before its outcome is known (the sink's task holds
    /// the batches it took across awaits, and its runtime may drop it
    /// there) fails its sends rather than leave them waiting forever.
    fn drop(&mut self) {
        if self.cell.is_resolved() {
            return;
        }
        let error = Error::new(
            ErrorKind::WriterClosed,
            "the sink stopped before this row was sent (its Tokio runtime is shutting down)",
        );
        let outcome = Outcome::all(Err(error));
        self.cell.resolve(outcome, &Unobserved::default());
    }
}

impl Cut {
    pub(super) fn rows(&self) -> usize {
        self.ends.len()
    }

    /// Row `index`'s encoded bytes (a view of the batch's buffer).
    pub(super) fn row(&self, index: usize) -> Bytes {
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i]);
        self.buf.slice(start..self.ends[index])
    }
}

/// What the task took: the batches to send, and when the first row of the
/// batch left open came (if it has rows).
#[derive(Debug)]
pub(super) struct Taken {
    pub(super) cuts: Vec<Cut>,
    pub(super) since: Option<Instant>,
}

impl Intake {
    /// An intake of about one shard per core, whose empty batches reserve
    /// at most `max_bytes` together (the sink's byte budget).
    pub(super) fn new(max_rows: usize, row_budget: usize, max_bytes: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_shards(max_rows, row_budget, max_bytes, cores.min(MAX_SHARDS))
    }

    pub(super) fn with_shards(
        max_rows: usize,
        row_budget: usize,
        max_bytes: usize,
        shards: usize,
    ) -> Self {
        let shards = shards.max(1);
        let share = max_bytes / shards;
        let shard = || {
            Shard(Mutex::new(Open {
                buf: BytesMut::new(),
                ends: Vec::new(),
                wakers: Vec::new(),
                wire: 0,
                cost: 0,
                since: None,
                cell: Arc::default(),
                full: VecDeque::new(),
                closed: false,
                pushed: 0,
                room: Room::within(share),
            }))
        };
        Self {
            shards: (0..shards).map(|_| shard()).collect(),
            wake: Notify::new(),
            unobserved: Unobserved::default(),
            max_rows: max_rows.max(1),
            row_budget,
        }
    }

    fn lock_shard(shard: &Shard) -> MutexGuard<'_, Open> {
        // Short critical sections that leave the state whole.
        shard.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a row (or change) that `encode` writes (`len` bytes encoded,
    /// `wire` request bytes, `cost` in the budget) and waits for its
    /// outcome; `None` once the intake is closed.
    pub(super) async fn admit(
        &self,
        encode: impl Fn(&mut BytesMut),
        len: usize,
        wire: usize,
        cost: usize,
    ) -> Option<Result<()>> {
        let mut receipt: Option<Receipt<'_>> = None;
        std::future::poll_fn(|cx| match &mut receipt {
            Some(receipt) => Pin::new(receipt).poll(cx).map(Some),
            None => match self.push(&encode, len, wire, cost, cx.waker()) {
                Some(pushed) => {
                    // Its waker is registered: woken when resolved.
                    receipt = Some(pushed);
                    Poll::Pending
                }
                None => Poll::Ready(None),
            },
        })
        .await
    }

    /// Adds a row of `len` bytes (`wire` request bytes, `cost` in the
    /// budget), which `encode` writes, to the calling thread's shard; its
    /// `send` is woken through `waker` when its batch is resolved. `None`
    /// once the intake is closed.
    pub(super) fn push(
        &self,
        encode: impl FnOnce(&mut BytesMut),
        len: usize,
        wire: usize,
        cost: usize,
        waker: &Waker,
    ) -> Option<Receipt<'_>> {
        let shard = thread_index() % self.shards.len();
        let mut open = Self::lock_shard(&self.shards[shard]);
        if open.closed {
            return None;
        }
        let mut wake = open.ends.is_empty();
        if !open.ends.is_empty()
            && (open.ends.len() >= self.max_rows || open.wire + wire > self.row_budget)
        {
            let cut = open.cut();
            open.full.push_back(cut);
            wake = true;
        }
        let first = open.ends.is_empty();
        let start = open.buf.len();
        open.buf.reserve(len);
        // An `encode` that panics must leave no half row in the batch (at
        // the head of the next row) and the batch as it was.
        let encoded = panic::catch_unwind(AssertUnwindSafe(|| encode(&mut open.buf)));
        if let Err(panicked) = encoded {
            open.buf.truncate(start);
            drop(open);
            panic::resume_unwind(panicked);
        }
        if first {
            open.since = Some(Instant::now());
        }
        let end = open.buf.len();
        let index = open.ends.len() as u32;
        open.ends.push(end);
        open.wakers.push(waker.clone());
        open.wire += wire;
        open.cost += cost;
        open.pushed += 1;
        let cell = open.cell.clone();
        drop(open);
        if wake {
            self.wake.notify_one();
        }
        Some(Receipt::new(cell, index, shard, self))
    }

    /// Registers `waker` for row `index` of `cell`'s batch in `shard`, for
    /// a `send` polled again before its outcome; false once resolved.
    pub(super) fn watch(&self, shard: usize, cell: &Cell, index: u32, waker: &Waker) -> bool {
        let mut open = Self::lock_shard(&self.shards[shard]);
        cell.watch(index, waker, &mut open.wakers)
    }

    /// The full batches, and the open one too when `all` (or when it is
    /// closed).
    pub(super) fn take(&self, all: bool) -> Taken {
        let mut taken = Taken {
            cuts: Vec::new(),
            since: None,
        };
        for shard in &self.shards {
            let mut open = Self::lock_shard(shard);
            taken.cuts.extend(open.full.drain(..));
            if (all || open.closed) && !open.ends.is_empty() {
                taken.cuts.push(open.cut());
            }
            taken.since = match (taken.since, open.since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        taken
    }

    /// How many rows were pushed so far.
    pub(super) fn pushed(&self) -> u64 {
        self.progress().0
    }

    /// How many rows were pushed so far, and whether a batch is full.
    pub(super) fn progress(&self) -> (u64, bool) {
        self.shards
            .iter()
            .fold((0, false), |(pushed, full), shard| {
                let open = Self::lock_shard(shard);
                (pushed + open.pushed, full || !open.full.is_empty())
            })
    }

    /// Takes no more rows: later pushes return `None`.
    pub(super) fn close(&self) {
        for shard in &self.shards {
            Self::lock_shard(shard).closed = true;
        }
    }

    /// Closes, and fails every row not yet taken with `error`.
    pub(super) fn fail_all(&self, error: &Error) {
        self.close();
        for cut in self.take(true).cuts {
            cut.cell
                .resolve(Outcome::all(Err(error.duplicate())), &self.unobserved);
        }
    }
}

/// The most shards an intake has.
const MAX_SHARDS: usize = 16;

/// A number of the calling thread's own: threads that send take turns.
fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|i| *i)
}

impl Open {
    /// Ends the open batch; the next one starts as large as the largest
    /// of late, so that it seldom grows (a copy of the batch each time).
    fn cut(&mut self) -> Cut {
        let (rows, size) = self.room.next(self.ends.len(), self.buf.len());
        let buf = std::mem::replace(&mut self.buf, BytesMut::with_capacity(size));
        self.since = None;
        let wakers = std::mem::replace(&mut self.wakers, Vec::with_capacity(rows));
        self.cell.seal(wakers);
        Cut {
            buf: buf.freeze(),
            ends: std::mem::replace(&mut self.ends, Vec::with_capacity(rows)),
            wire: std::mem::take(&mut self.wire),
            cost: std::mem::take(&mut self.cost),
            cell: std::mem::take(&mut self.cell),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::Intake;
    use crate::error::ErrorKind;

    fn push_byte(intake: &Intake, byte: u8) -> super::Receipt<'_> {
        let push = intake.push(|buf| buf.extend_from_slice(&[byte]), 1, 3, 3, Waker::noop());
        push.expect("open")
    }

    #[test]
    fn a_row_whose_encoding_panics_leaves_nothing_in_the_batch() {
        let intake = Intake::with_shards(100, 1_000, 1 << 20, 1);
        let panicked = std::panic::catch_unwind(|| {
            let encode = |buf: &mut bytes::BytesMut| {
                buf.extend_from_slice(b"half a row");
                panic!("a row type whose encode panics");
            };
            intake.push(encode, 10, 12, 12, Waker::noop())
        });
        assert!(panicked.is_err());
        assert!(intake.take(false).since.is_none(), "no row waits");
        let _receipt = push_byte(&intake, 7);
        let cuts = intake.take(true).cuts;
        assert_eq!(cuts.len(), 1);
        assert_eq!(cuts[0].rows(), 1, "only the row that was added");
        assert_eq!(&cuts[0].row(0)[..], [7], "its own bytes, nothing before");
        assert_eq!((cuts[0].wire, cuts[0].cost), (3, 3));
    }

    #[test]
    fn the_room_of_empty_batches_stays_within_the_byte_budget() {
        // 2 shards of a 64 KiB budget: 32 KiB of room each at most.
        let (max_bytes, shards) = (64 * 1024, 2);
        let intake = Intake::with_shards(10_000, 1 << 30, max_bytes, shards);
        let row = [7u8; 1024];
        let _receipts: Vec<_> = (0..500)
            .map(|_| {
                let push = intake.push(
                    |buf| buf.extend_from_slice(&row),
                    1024,
                    1030,
                    1030,
                    Waker::noop(),
                );
                push.expect("open")
            })
            .collect();
        assert_eq!(
            intake.take(true).cuts[0].rows(),
            500,
            "one batch of 500 KiB"
        );
        let reserved: usize = intake
            .shards
            .iter()
            .map(|shard| {
                let open = Intake::lock_shard(shard);
                assert!(open.ends.is_empty(), "the batches were cut");
                open.buf.capacity()
                    + open.ends.capacity() * size_of::<usize>()
                    + open.wakers.capacity() * size_of::<Waker>()
            })
            .sum();
        assert!(
            reserved <= max_bytes,
            "empty batches reserve {reserved} bytes, over the budget of {max_bytes}"
        );
        assert!(
            reserved >= max_bytes / shards / 2,
            "room is still reserved: {reserved}"
        );
    }

    #[test]
    fn a_batch_starts_with_room_for_the_largest_of_late_within_its_share() {
        let mut room = super::Room::within(1 << 20);
        assert_eq!(room.next(100, 10_000), (100, 10_000));
        assert_eq!(room.next(10, 1_000), (75, 7_500), "shrinks by a quarter");
        assert_eq!(room.next(200, 20_000), (200, 20_000), "grows at once");
        room.next(1_000_000, 100 << 20);
        assert!(room.reserved() <= 1 << 20, "{room:?}");
        assert_eq!(
            room.rows,
            (1 << 20) / 2 / super::ROW_ROOM,
            "rows take half the share"
        );
    }

    #[test]
    fn a_batch_dropped_before_it_is_sent_ends_its_sends() {
        // The sink's task holds taken batches across awaits (gathering,
        // the engine's window): when its runtime drops it there, a send
        // on another runtime must still end.
        let intake = Intake::with_shards(100, 1_000, 1 << 20, 1);
        let mut receipt = pin!(push_byte(&intake, 1));
        let cuts = intake.take(true).cuts;
        drop(cuts);
        match receipt
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::WriterClosed),
            other => panic!("the send must end with an error: {other:?}"),
        }
    }

    #[test]
    fn threads_fill_batches_of_their_own_and_each_send_keeps_its_row() {
        let intake = Intake::with_shards(100, 1_000, 1 << 20, 2);
        // Threads are numbered as they first send, across the process (the
        // other tests' too): take two new ones that land on either shard.
        let (mut shards, mut receipts) = (Vec::new(), Vec::new());
        while shards.len() < 2 {
            let t = shards.len() as u8;
            let sent = std::thread::scope(|s| {
                let sender = s.spawn(|| {
                    let shard = super::thread_index() % 2;
                    let rows = || (0..3).map(|i| push_byte(&intake, t * 10 + i)).collect();
                    (!shards.contains(&shard)).then(|| (shard, rows()))
                });
                sender.join().expect("sender")
            });
            if let Some((shard, sent)) = sent {
                shards.push(shard);
                receipts.extend::<Vec<_>>(sent);
            }
        }
        let cuts = intake.take(true).cuts;
        let rows: Vec<Vec<u8>> = cuts
            .iter()
            .map(|c| (0..c.rows()).map(|i| c.row(i)[0]).collect())
            .collect();
        let mut sorted = rows.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [vec![0, 1, 2], vec![10, 11, 12]],
            "a batch per thread"
        );
        for (cut, row) in cuts.iter().zip(&rows) {
            let failed = vec![(1, crate::error::Error::new(ErrorKind::RowErrors, "bad"))];
            let outcome = super::Outcome {
                failed,
                rest: Ok(()),
            };
            cut.cell.resolve(outcome, &intake.unobserved);
            assert_eq!(row.len(), 3);
        }
        let outcomes: Vec<bool> = receipts
            .into_iter()
            .map(|r| {
                let mut r = pin!(r);
                match r.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(outcome) => outcome.is_ok(),
                    Poll::Pending => panic!("resolved"),
                }
            })
            .collect();
        assert_eq!(outcomes, [true, false, true, true, false, true]);
    }
}
