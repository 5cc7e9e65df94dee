//! COMMITTED streams: each row visible as soon as it is acknowledged.

use super::kind::{Committed, Pending};
use super::{Writer, WriterOptions};
use crate::error::Result;
use crate::proto::storage::write_stream::Type as StreamType;
use crate::row::BqRow;
use crate::table::Table;

impl<T: BqRow> Writer<T, Pending> {
    /// Creates a COMMITTED stream on `table`: rows are visible as soon as
    /// [`append`](Writer::append) returns (or their ticket resolves), and
    /// written exactly once, offsets guarding every resend.
    ///
    /// # Errors
    /// As [`Writer::pending`].
    pub async fn committed(table: &Table) -> Result<Writer<T, Committed>> {
        Self::committed_with(table, WriterOptions::default()).await
    }

    /// [`Writer::committed`] with the given options.
    pub async fn committed_with(
        table: &Table,
        options: WriterOptions,
    ) -> Result<Writer<T, Committed>> {
        Writer::create(table, StreamType::Committed, options).await
    }
}

impl<T: BqRow> Writer<T, Committed> {
    /// Waits until every row sent so far is acknowledged (and so visible)
    /// or failed.
    ///
    /// # Errors
    /// Why the writer closed, or the error of a ticket that was dropped
    /// unawaited and failed since the last flush.
    pub async fn flush(&mut self) -> Result<()> {
        self.settle().await
    }

    /// Waits for every row sent, then finalizes the stream so that nothing
    /// more can be appended to it; returns its row count. (A COMMITTED
    /// stream needs no finalize: its rows are visible already.)
    ///
    /// # Errors
    /// As [`Writer::<T, Pending>::finalize`](Writer::finalize).
    pub async fn finalize(mut self) -> Result<i64> {
        self.settle().await?;
        super::pending::finalize_stream(&mut self).await
    }
}
