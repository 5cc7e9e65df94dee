//! PENDING streams: invisible until finalized and committed.

use super::kind::Pending;
use super::{Writer, WriterOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::storage::write_stream::Type as StreamType;
use crate::row::BqRow;
use crate::table::{Finalized, Table};

impl<T: BqRow> Writer<T, Pending> {
    /// Creates a PENDING stream on `table` with the default [`WriterOptions`]
    /// and checks that `T` can write to the table.
    ///
    /// Rows appended to a pending stream stay invisible until the stream is
    /// [finalized](Writer::finalize) and [committed](Finalized::commit).
    ///
    /// # Errors
    /// [`ErrorKind::SchemaMismatch`] listing every difference between `T`'s
    /// schema and the table's, before any row is sent; the service's errors
    /// (a missing table is `NOT_FOUND` or
    /// [`StorageErrorCode::TableNotFound`](crate::proto::storage::storage_error::StorageErrorCode::TableNotFound)).
    pub async fn pending(table: &Table) -> Result<Self> {
        Self::pending_with(table, WriterOptions::default()).await
    }

    /// [`Writer::pending`] with the given options.
    pub async fn pending_with(table: &Table, options: WriterOptions) -> Result<Self> {
        Self::create(table, StreamType::Pending, options).await
    }

    /// Waits until every row sent so far is acknowledged or failed. The
    /// rows stay invisible until the stream is committed.
    ///
    /// # Errors
    /// Why the writer closed, or the error of a ticket that was dropped
    /// unawaited and failed since the last flush.
    pub async fn flush(&mut self) -> Result<()> {
        self.settle().await
    }

    /// Waits for every row sent, then finalizes the stream: no more
    /// appends. The returned [`Finalized`] commits it, alone or with other
    /// streams of the table ([`Table::commit`]).
    ///
    /// # Errors
    /// What [`flush`](Writer::flush) returns (call `flush` first to handle
    /// the failure of a dropped ticket and still finalize);
    /// [`ErrorKind::OffsetMismatch`] if the service counts a different
    /// number of rows than the writer had acknowledged; service errors. Each
    /// names the stream and its acknowledged rows, for
    /// [`Table::finalize_stream`] to finish the job.
    pub async fn finalize(mut self) -> Result<Finalized> {
        self.settle().await?;
        let rows = finalize_stream(&mut self).await?;
        Ok(Finalized::new(
            self.table.clone(),
            self.stream_name().to_owned(),
            rows,
        ))
    }
}

/// Finalizes the writer's stream after its rows are settled, and checks the
/// service's row count against the writer's.
pub(super) async fn finalize_stream<T: BqRow, S: super::StreamKind>(
    writer: &mut Writer<T, S>,
) -> Result<i64> {
    // Whatever happens next, the stream's fate is in the caller's hands.
    writer.mark_ended();
    let acked = writer.acknowledged_rows();
    let stream = writer.stream_name().to_owned();
    let span = tracing::info_span!("finalize", stream = %stream);
    let response = tracing::Instrument::instrument(writer.table.client().finalize(&stream), span)
        .await
        .map_err(|e| e.with_acknowledged_rows(acked).with_stream(stream.clone()))?;
    if response.row_count != acked {
        return Err(Error::new(
            ErrorKind::OffsetMismatch,
            format!(
                "stream `{stream}` was finalized with {} rows but the writer had {acked} acknowledged",
                response.row_count
            ),
        )
        .with_acknowledged_rows(acked)
        .with_stream(stream));
    }
    tracing::info!(stream = %stream, rows = response.row_count, "finalized");
    Ok(response.row_count)
}
