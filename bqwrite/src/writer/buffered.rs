//! BUFFERED streams: rows visible up to the offset flushed.

use super::kind::{Buffered, Pending};
use super::{Writer, WriterOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::storage::write_stream::Type as StreamType;
use crate::row::BqRow;
use crate::table::Table;

impl<T: BqRow> Writer<T, Pending> {
    /// Creates a BUFFERED stream on `table`: rows are written exactly once
    /// and become visible when the stream is flushed
    /// up to them.
    ///
    /// # Errors
    /// As [`Writer::pending`].
    pub async fn buffered(table: &Table) -> Result<Writer<T, Buffered>> {
        Self::buffered_with(table, WriterOptions::default()).await
    }

    /// [`Writer::buffered`] with the given options.
    pub async fn buffered_with(
        table: &Table,
        options: WriterOptions,
    ) -> Result<Writer<T, Buffered>> {
        Writer::create(table, StreamType::Buffered, options).await
    }
}

impl<T: BqRow> Writer<T, Buffered> {
    /// Waits for every row sent so far, then makes every acknowledged row
    /// visible (FlushRows up to the last of them). Flushing is idempotent.
    ///
    /// # Errors
    /// Why the writer closed, or the error of a ticket that was dropped
    /// unawaited and failed since the last flush; the service's errors.
    pub async fn flush(&mut self) -> Result<()> {
        self.settle().await?;
        if let Some(last) = self.acknowledged_rows().checked_sub(1).filter(|&l| l >= 0) {
            self.flush_rows(last).await?;
        }
        self.mark_ended();
        Ok(())
    }

    /// Waits for every row sent so far, then makes the rows up to and
    /// including `offset` visible.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when `offset` is not an acknowledged row; as
    /// `flush` otherwise.
    pub async fn flush_to(&mut self, offset: i64) -> Result<()> {
        self.settle().await?;
        let acked = self.acknowledged_rows();
        if !(0..acked).contains(&offset) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "cannot flush `{}` to offset {offset}: rows 0..{acked} are acknowledged",
                    self.stream_name()
                ),
            )
            .with_acknowledged_rows(acked)
            .with_stream(self.stream_name()));
        }
        self.flush_rows(offset).await
    }

    async fn flush_rows(&mut self, offset: i64) -> Result<()> {
        let stream = self.stream_name().to_owned();
        let span = tracing::debug_span!("flush_rows", stream = %stream, offset);
        let response =
            tracing::Instrument::instrument(self.table.client().flush_rows(&stream, offset), span)
                .await
                .map_err(|e| {
                    e.with_acknowledged_rows(self.acknowledged_rows())
                        .with_stream(stream.clone())
                })?;
        if response.offset < offset {
            return Err(Error::new(
                ErrorKind::Server,
                format!(
                    "FlushRows on `{stream}` to offset {offset} answered offset {}",
                    response.offset
                ),
            )
            .with_stream(stream));
        }
        Ok(())
    }

    /// Waits for every row sent, flushes them, and finalizes the stream so
    /// that nothing more can be appended; returns its row count.
    ///
    /// # Errors
    /// As `flush` and
    /// [`Writer::<T, Pending>::finalize`](Writer::finalize).
    pub async fn finalize(mut self) -> Result<i64> {
        self.flush().await?;
        super::pending::finalize_stream(&mut self).await
    }
}
