//! The `_default` stream: committed semantics, no offsets, at least once.

use super::kind::{DefaultStream, Pending};
use super::open::{check_schema, get_full};
use super::{Writer, WriterOptions};
use crate::error::Result;
use crate::row::BqRow;
use crate::table::Table;

impl<T: BqRow> Writer<T, Pending> {
    /// Writes to `table`'s `_default` stream: rows are visible as soon as
    /// they are acknowledged, with no stream to create or end.
    ///
    /// `_default` takes no offsets, so a request whose answer was lost to a
    /// broken connection is sent again and may be written twice: delivery
    /// is at least once ([`WriterStats::resent_rows`](super::WriterStats::resent_rows)
    /// counts what was resent). Use [`Writer::committed`] for exactly once.
    /// A request with rejected rows writes none of its rows; the writer
    /// sends its other rows again by themselves and reports the rejected
    /// ones with their indices.
    ///
    /// # Errors
    /// As [`Writer::pending`].
    pub async fn default_stream(table: &Table) -> Result<Writer<T, DefaultStream>> {
        Self::default_stream_with(table, WriterOptions::default()).await
    }

    /// [`Writer::default_stream`] with the given options.
    pub async fn default_stream_with(
        table: &Table,
        options: WriterOptions,
    ) -> Result<Writer<T, DefaultStream>> {
        let name = table.path().default_stream();
        let span = tracing::info_span!("default_stream", table = %table.path());
        let stream = tracing::Instrument::instrument(get_full(table, &name), span).await?;
        let missing = check_schema::<T>(table, &stream)?;
        Writer::start(table, name, options, 0, false, missing)
    }
}

impl<T: BqRow> Writer<T, DefaultStream> {
    /// Waits until every row sent so far is acknowledged (and so visible)
    /// or failed. Dropping the writer without it lets the rows in flight
    /// finish in the background, as long as the runtime runs.
    ///
    /// # Errors
    /// Why the writer closed, or the error of a ticket that was dropped
    /// unawaited and failed since the last flush.
    pub async fn flush(&mut self) -> Result<()> {
        self.settle().await
    }
}
