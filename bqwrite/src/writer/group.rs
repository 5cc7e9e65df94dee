//! Many connections for one table: [`PendingGroup`] spreads rows over
//! several PENDING streams, each on its own connection, and commits them
//! together, all or nothing.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::{join_all, try_join_all};
use tokio::sync::{Mutex, MutexGuard};

use super::engine::Shared;
use super::{AppendTicket, Pending, Writer, WriterOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::row::{BqRow, RowOf};
use crate::table::{Commit, Finalized, Table};

/// Rows of `T` spread over `n` PENDING streams of one table, each with its
/// own connection, made visible together by one atomic commit.
///
/// One AppendRows connection tops out well below what a project may write;
/// a group multiplies it. Each [`send`](PendingGroup::send) or
/// [`append`](PendingGroup::append) call goes whole to the least loaded
/// stream (the fewest rows awaiting their answer; in turn when equal), and
/// the group can be shared by many tasks (`Arc<PendingGroup<T>>`): calls
/// from different tasks run on different connections at once.
///
/// ```no_run
/// # use bqwrite::{BqRow, Table};
/// # #[derive(BqRow)] struct Event { id: i64 }
/// # async fn run(table: Table, batches: Vec<Vec<Event>>) -> bqwrite::Result<()> {
/// let group = table.pending_group::<Event>(4).await?; // 4 streams, 4 connections
/// let mut tickets = Vec::new();
/// for batch in batches {
///     tickets.push(group.send(batch).await?); // pipelined, spread over the streams
/// }
/// for ticket in tickets {
///     ticket.await?;
/// }
/// let commit = group.commit().await?; // every row of every stream, or none
/// println!("{} rows visible at {}", commit.rows(), commit.commit_time());
/// # Ok(()) }
/// ```
///
/// Nothing is visible before the commit; if the commit fails, nothing of
/// any stream is. Dropping the group without committing commits nothing
/// (and each stream's writer warns).
pub struct PendingGroup<T> {
    table: Table,
    members: Vec<Member<T>>,
    turn: AtomicUsize,
}

struct Member<T> {
    writer: Mutex<Writer<T, Pending>>,
    shared: Arc<Shared>,
    stream: Arc<str>,
}

impl<T> Member<T> {
    /// Rows sent on this stream and not yet answered.
    fn load(&self) -> u64 {
        let s = self.shared.counters.snapshot();
        s.rows_sent
            .saturating_sub(s.rows_acknowledged + s.rows_rejected + s.rows_unwritten)
    }
}

impl<T> fmt::Debug for PendingGroup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingGroup")
            .field("row", &std::any::type_name::<T>())
            .field("table", &self.table.path().to_string())
            .field(
                "streams",
                &self.members.iter().map(|m| &*m.stream).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Table {
    /// A [`PendingGroup`] of `streams` PENDING streams on this table, with
    /// the default [`WriterOptions`] for each.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for zero streams; as
    /// [`Writer::pending`] otherwise (no stream is left half made: the
    /// streams made before a failure are dropped unwritten).
    pub async fn pending_group<T: BqRow>(&self, streams: usize) -> Result<PendingGroup<T>> {
        self.pending_group_with(streams, WriterOptions::default())
            .await
    }

    /// [`Table::pending_group`] with the given options for each stream's
    /// writer.
    ///
    /// # Errors
    /// As [`Table::pending_group`].
    pub async fn pending_group_with<T: BqRow>(
        &self,
        streams: usize,
        options: WriterOptions,
    ) -> Result<PendingGroup<T>> {
        if streams == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "a pending group needs at least one stream",
            ));
        }
        // One connection per stream: streams sharing a connection share its
        // bandwidth, which is what a group exists to get past.
        let tables: Vec<Table> = (0..streams)
            .map(|_| Table::new(self.client().with_own_connection(), self.path().clone()))
            .collect();
        let made = join_all(
            tables
                .iter()
                .map(|table| Writer::<T>::pending_with(table, options.clone())),
        )
        .await;
        let mut writers = Vec::with_capacity(streams);
        let mut failure = None;
        for writer in made {
            match writer {
                Ok(writer) => writers.push(writer),
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failure {
            // Nothing was written to them: dropping them loses nothing.
            for writer in &mut writers {
                writer.mark_ended();
            }
            return Err(error);
        }
        let members = writers
            .into_iter()
            .map(|writer| Member {
                shared: writer.handle.shared.clone(),
                stream: writer.handle.stream.clone(),
                writer: Mutex::new(writer),
            })
            .collect();
        Ok(PendingGroup {
            table: self.clone(),
            members,
            turn: AtomicUsize::new(0),
        })
    }
}

impl<T: BqRow> PendingGroup<T> {
    /// The table written to.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// How many streams (and connections) the group has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: a group has at least one stream.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The names of the group's streams.
    pub fn stream_names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.stream.to_string()).collect()
    }

    /// Rows acknowledged on every stream together.
    pub fn acknowledged_rows(&self) -> i64 {
        self.members.iter().map(|m| m.shared.acknowledged()).sum()
    }

    /// Queues `rows` on the least loaded stream, as
    /// [`Writer::send`] does: returns once they are in that stream's
    /// in-flight window; the ticket resolves to their offsets in that stream.
    ///
    /// # Errors
    /// As [`Writer::send`].
    pub async fn send<I>(&self, rows: I) -> Result<AppendTicket<Pending>>
    where
        I: IntoIterator,
        I::Item: RowOf<T>,
    {
        self.pick().await.send(rows).await
    }

    /// Appends `rows` to the least loaded stream and waits for their
    /// acknowledgement, as [`Writer::append`] does; the stream is free for
    /// other calls while this one waits.
    ///
    /// # Errors
    /// As [`Writer::append`].
    pub async fn append<I>(&self, rows: I) -> Result<Range<i64>>
    where
        I: IntoIterator,
        I::Item: RowOf<T>,
    {
        self.send(rows).await?.await
    }

    /// Waits until every row sent so far on every stream is acknowledged
    /// or failed.
    ///
    /// # Errors
    /// The first stream's error, as [`Writer::flush`].
    pub async fn flush(&self) -> Result<()> {
        let flushed = join_all(
            self.members
                .iter()
                .map(|m| async { m.writer.lock().await.flush().await }),
        )
        .await;
        flushed.into_iter().collect()
    }

    /// Waits for every row, then finalizes every stream: no more appends.
    /// Commit the result with [`Table::commit`] (with other streams of the
    /// table if you like), or use [`commit`](PendingGroup::commit).
    ///
    /// # Errors
    /// The first stream's error, as [`Writer::finalize`]. Nothing is
    /// committed; each error names its stream.
    pub async fn finalize(self) -> Result<Vec<Finalized>> {
        let writers = self.members.into_iter().map(|m| m.writer.into_inner());
        try_join_all(writers.map(Writer::<T, Pending>::finalize)).await
    }

    /// Finalizes every stream and commits them in one atomic commit: every
    /// row of the group becomes visible at one commit time, or none does.
    ///
    /// # Errors
    /// As [`finalize`](PendingGroup::finalize) and [`Table::commit`]
    /// ([`ErrorKind::CommitFailed`]: nothing was committed).
    pub async fn commit(self) -> Result<Commit> {
        let table = self.table.clone();
        let finalized = self.finalize().await?;
        table.commit(finalized).await
    }

    /// The least loaded stream that is free, in turn among equals; the
    /// least loaded one when all are busy.
    async fn pick(&self) -> MutexGuard<'_, Writer<T, Pending>> {
        let n = self.members.len();
        let start = self.turn.fetch_add(1, Ordering::Relaxed) % n;
        let mut order: Vec<(u64, usize)> = (0..n)
            .map(|k| {
                let i = (start + k) % n;
                (self.members[i].load(), k)
            })
            .collect();
        order.sort_unstable();
        for &(_, k) in &order {
            if let Ok(guard) = self.members[(start + k) % n].writer.try_lock() {
                return guard;
            }
        }
        self.members[(start + order[0].1) % n].writer.lock().await
    }
}
