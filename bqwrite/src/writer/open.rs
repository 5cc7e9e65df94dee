//! Making a writer: creating or finding its stream, checking the row type
//! against the table, starting its engine; and resuming a stream by name.

use std::marker::PhantomData;
use std::sync::Arc;

use super::batch::request_overhead;
use super::engine::{self, Config};
use super::kind::{ExplicitStream, StreamKind};
use super::missing::MissingValues;
use super::stats::Counters;
use super::{Writer, WriterOptions};
use crate::error::{Error, ErrorKind, Result};
#[cfg(feature = "opentelemetry")]
use crate::metrics::WriterInstruments;
use crate::proto::storage::write_stream::Type as StreamType;
use crate::proto::storage::{
    CreateWriteStreamRequest, GetWriteStreamRequest, WriteStream, WriteStreamView,
};
use crate::row::BqRow;
use crate::schema::TableSchema;
use crate::table::Table;

impl<T: BqRow, S: StreamKind> Writer<T, S> {
    /// Creates an explicit stream of type `kind`, checks `T` against the
    /// table, and starts writing at offset 0.
    pub(super) async fn create(
        table: &Table,
        kind: StreamType,
        options: WriterOptions,
    ) -> Result<Self> {
        let parent = table.path().to_string();
        let span = tracing::info_span!("create_stream", table = %parent, kind = S::NAME);
        let stream = async {
            let created = table
                .client()
                .create_write_stream(CreateWriteStreamRequest {
                    parent: parent.clone(),
                    write_stream: Some(WriteStream {
                        r#type: kind as i32,
                        ..WriteStream::default()
                    }),
                })
                .await?;
            tracing::info!(stream = %created.name, "created");
            get_full(table, &created.name).await
        };
        let stream = tracing::Instrument::instrument(stream, span).await?;
        let missing = check_schema::<T>(table, &stream)?;
        Self::start(table, stream.name, options, 0, false, missing)
    }

    /// Starts the engine of `stream` at offset `start`, asking for the
    /// `missing` values the schema check found.
    pub(super) fn start(
        table: &Table,
        stream: String,
        options: WriterOptions,
        start: i64,
        unsure_end: bool,
        missing: MissingValues,
    ) -> Result<Self> {
        let overhead =
            request_overhead::<T>(&stream, table.client().trace_id()) + missing.encoded_len();
        if overhead >= options.max_request_bytes {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "max_request_bytes {} is smaller than a request's own fields ({overhead} bytes)",
                    options.max_request_bytes
                ),
            ));
        }
        let columns = T::table_schema()
            .fields
            .into_iter()
            .map(|f| f.name)
            .collect();
        let cfg = Config {
            client: table.client().clone(),
            stream: Arc::from(stream),
            schema: T::wire_descriptor(),
            offsets: S::OFFSETS,
            start,
            unsure_end,
            response_timeout: options.response_timeout,
            retry: options.retry.clone(),
            columns,
            missing,
        };
        let handle = engine::spawn(
            cfg,
            counters(table, S::NAME),
            options.max_inflight_requests,
            options.max_inflight_bytes,
            S::DROP_WARNING,
        );
        Ok(Self {
            handle,
            table: table.clone(),
            row_budget: options.max_request_bytes - overhead,
            options,
            _row: PhantomData,
            _kind: PhantomData,
        })
    }

    /// The stream is ended as its type requires: dropping the writer no
    /// longer warns.
    pub(super) fn mark_ended(&mut self) {
        self.handle.end();
    }
}

impl<T: BqRow, S: ExplicitStream> Writer<T, S> {
    /// Continues the explicit stream `stream` of `table` at offset `next`:
    /// in another process, after a crash, from a checkpoint of
    /// `(stream_name(), acknowledged_rows())` the old writer reported.
    ///
    /// The stream's type must be `S` (`Writer::<T>::resume` for PENDING,
    /// `Writer::<T, Committed>::resume` and `Writer::<T, Buffered>::resume`
    /// for the others), and `T` is checked against its table as when a
    /// writer is made.
    ///
    /// The checkpoint may lag the stream: the last requests before a crash
    /// may have landed. Send again every row from offset `next` on, in the
    /// same order; the writer finds the stream's real end before it counts
    /// anything as written (one-row probes, a few round trips, once) and
    /// writes only the rows past it, so every row lands exactly once.
    ///
    /// ```no_run
    /// # use bqwrite::{BqRow, Table, Writer};
    /// # #[derive(BqRow)] struct Event { id: i64 }
    /// # async fn run(table: Table, name: String, next: i64, rows: Vec<Event>) -> bqwrite::Result<()> {
    /// // `name` and `next` come from the crashed process's checkpoint;
    /// // `rows` are its rows from offset `next` on.
    /// let mut writer = Writer::<Event>::resume(&table, &name, next).await?;
    /// writer.append(rows).await?;
    /// writer.finalize().await?.commit().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidPath`] for a stream of another table;
    /// [`ErrorKind::Config`] when the stream is of another type or already
    /// committed; [`ErrorKind::SchemaMismatch`]; [`ErrorKind::OffsetMismatch`]
    /// (from the first append) when the stream holds fewer rows than `next`.
    pub async fn resume(table: &Table, stream: &str, next: i64) -> Result<Self> {
        Self::resume_with(table, stream, next, WriterOptions::default()).await
    }

    /// [`Writer::resume`] with the given options.
    pub async fn resume_with(
        table: &Table,
        stream: &str,
        next: i64,
        options: WriterOptions,
    ) -> Result<Self> {
        let prefix = format!("{}/streams/", table.path());
        if !stream.starts_with(&prefix)
            || stream.len() == prefix.len()
            || stream.ends_with("/_default")
        {
            return Err(Error::new(
                ErrorKind::InvalidPath,
                format!(
                    "`{stream}` is not an explicit write stream of `{}`",
                    table.path()
                ),
            ));
        }
        if next < 0 {
            return Err(Error::new(
                ErrorKind::Config,
                format!("cannot resume `{stream}` at negative offset {next}"),
            ));
        }
        let found = get_full(table, stream).await?;
        let kind = StreamType::try_from(found.r#type).unwrap_or(StreamType::Unspecified);
        if kind != S::TYPE {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "`{stream}` is a {} stream, not {}: resume it as `Writer::<T, {}>`",
                    kind.as_str_name(),
                    S::NAME,
                    type_marker(kind)
                ),
            )
            .with_stream(stream));
        }
        if kind == StreamType::Pending && found.commit_time.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("`{stream}` is already committed: nothing more can be written to it"),
            )
            .with_stream(stream));
        }
        let missing = check_schema::<T>(table, &found)?;
        tracing::info!(stream, next, "resuming");
        Self::start(table, found.name, options, next, true, missing)
    }
}

/// The counters of a writer of `table` to a stream of kind `kind`
/// (`StreamKind::NAME`), with its instruments when metrics are exported.
fn counters(table: &Table, kind: &'static str) -> Counters {
    #[cfg(feature = "opentelemetry")]
    {
        let meter = table.client().instruments().meter();
        let path = table.path().to_string();
        Counters::with_instruments(WriterInstruments::new(meter, &path, kind))
    }
    #[cfg(not(feature = "opentelemetry"))]
    {
        let _ = (table, kind);
        Counters::default()
    }
}

fn type_marker(kind: StreamType) -> &'static str {
    match kind {
        StreamType::Committed => "Committed",
        StreamType::Buffered => "Buffered",
        _ => "Pending",
    }
}

/// The stream with its table schema (GetWriteStream, FULL view).
pub(super) async fn get_full(table: &Table, name: &str) -> Result<WriteStream> {
    table
        .client()
        .get_write_stream(GetWriteStreamRequest {
            name: name.to_owned(),
            view: WriteStreamView::Full as i32,
        })
        .await
}

/// Checks, before any row is sent, that `T` can write to the stream's table;
/// returns what the writer asks for the values rows leave out.
pub(super) fn check_schema<T: BqRow>(table: &Table, stream: &WriteStream) -> Result<MissingValues> {
    let parent = table.path();
    let table_schema = stream.table_schema.as_ref().ok_or_else(|| {
        Error::new(
            ErrorKind::Server,
            format!("the service returned no table schema for `{}`", stream.name),
        )
    })?;
    let table_schema = TableSchema::try_from(table_schema).map_err(|e| {
        Error::new(
            ErrorKind::Server,
            format!("the table schema of `{parent}` is unreadable"),
        )
        .with_source(e)
    })?;
    let mismatches = crate::compat::check(
        &T::table_schema(),
        MissingValues::asks_default::<T>,
        &table_schema,
    );
    if mismatches.is_empty() {
        return Ok(MissingValues::of::<T>(&table_schema));
    }
    Err(Error::new(
        ErrorKind::SchemaMismatch,
        format!(
            "`{}` cannot write to `{parent}` ({} problem{}):",
            std::any::type_name::<T>(),
            mismatches.len(),
            if mismatches.len() == 1 { "" } else { "s" }
        ),
    )
    .with_mismatches(mismatches))
}
