//! Making a writer: creating or finding its stream, checking the row type
//! against the table, starting its engine; and resuming a stream by name.

use std::marker::PhantomData;
use std::sync::Arc;

use super::batch::request_overhead;
use super::engine::{self, Config, Handle, Shared};
use super::kind::{ExplicitStream, StreamKind};
use super::missing::MissingValues;
use super::stats::Counters;
use super::{Writer, WriterOptions};
use crate::error::{Error, ErrorKind, Result};
#[cfg(feature = "opentelemetry")]
use crate::metrics::WriterInstruments;
use crate::proto::descriptor::DescriptorProto as WireDescriptorProto;
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
        let checked = check_schema::<T>(table, stream)?;
        Self::start(table, checked, options, 0, false)
    }

    /// Starts the engine of explicit stream `stream` at offset `start`.
    pub(super) fn start(
        table: &Table,
        checked: Checked,
        options: WriterOptions,
        start: i64,
        unsure_end: bool,
    ) -> Result<Self> {
        Self::start_at(table, checked, options, (start, unsure_end), None)
    }

    /// Starts the engine of the stream `checked` names at offset `start.0`
    /// (`start.1`: the stream may hold rows from there on); `location` for
    /// a `_default` stream sharing the client's pooled connections.
    pub(super) fn start_at(
        table: &Table,
        checked: Checked,
        options: WriterOptions,
        (start, unsure_end): (i64, bool),
        location: Option<String>,
    ) -> Result<Self> {
        let launch = Launch {
            table,
            stream: checked.name,
            options: &options,
            start,
            unsure_end,
            schema: T::wire_descriptor(),
            columns: column_names::<T>(),
            location: location.clone(),
            row_type: std::any::type_name::<T>(),
            row_schema: T::table_schema(),
            table_schema: Some(checked.table_schema),
            missing: checked.missing.clone(),
            asks_default: MissingValues::asks_default::<T>,
        };
        let (handle, row_budget) = launch.spawn::<S>(None)?;
        Ok(Self {
            handle,
            table: table.clone(),
            row_budget,
            options,
            location,
            missing: checked.missing,
            changes: false,
            _row: PhantomData,
            _kind: PhantomData,
        })
    }

    /// Starts a new engine for the same stream that sends `schema`, and
    /// keeps counting in this writer's counters. Call it with nothing in
    /// flight.
    pub(super) fn restart_with_schema(
        &mut self,
        schema: &'static WireDescriptorProto,
        extra_columns: &[&str],
    ) -> Result<()> {
        let mut columns = column_names::<T>();
        columns.extend(extra_columns.iter().map(|c| (*c).to_owned()));
        let launch = Launch {
            table: &self.table,
            stream: self.handle.stream.to_string(),
            options: &self.options,
            start: self.handle.shared.acknowledged(),
            unsure_end: false,
            schema,
            columns,
            location: self.location.clone(),
            row_type: std::any::type_name::<T>(),
            row_schema: T::table_schema(),
            table_schema: self.handle.shared.table_schema(),
            missing: self.missing.clone(),
            asks_default: MissingValues::asks_default::<T>,
        };
        let (handle, row_budget) = launch.spawn::<S>(Some(self.handle.shared.clone()))?;
        self.handle = handle;
        self.row_budget = row_budget;
        Ok(())
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
        let checked = check_schema::<T>(table, found)?;
        tracing::info!(stream, next, "resuming");
        Self::start(table, checked, options, next, true)
    }
}

/// The columns `T` writes.
fn column_names<T: BqRow>() -> Vec<String> {
    T::table_schema()
        .fields
        .into_iter()
        .map(|f| f.name)
        .collect()
}

/// What starts a writer's engine.
struct Launch<'a> {
    table: &'a Table,
    stream: String,
    options: &'a WriterOptions,
    start: i64,
    unsure_end: bool,
    schema: &'static WireDescriptorProto,
    /// The columns written, to name them in row errors.
    columns: Vec<String>,
    /// The location of a `_default` stream, whose requests go over the
    /// client's pooled connections of that location.
    location: Option<String>,
    /// The row type's name and schema, checked again when the table changes.
    row_type: &'static str,
    row_schema: TableSchema,
    /// The table's schema, when known.
    table_schema: Option<TableSchema>,
    /// What the requests ask for the values rows leave out.
    missing: MissingValues,
    /// Whether the row type asks for a column's default (`MissingValues::asks_default`).
    asks_default: fn(&str, bool) -> bool,
}

impl Launch<'_> {
    /// The engine's handle and the row bytes one request may carry; with
    /// `shared`, the engine continues its counters.
    fn spawn<S: StreamKind>(self, shared: Option<Arc<Shared>>) -> Result<(Handle, usize)> {
        let options = self.options;
        let overhead = request_overhead(self.schema, &self.stream, self.table.client().trace_id())
            + self.missing.encoded_len();
        if overhead >= options.max_request_bytes {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "max_request_bytes {} is smaller than a request's own fields ({overhead} bytes)",
                    options.max_request_bytes
                ),
            ));
        }
        let cfg = Config {
            client: self.table.client().clone(),
            stream: Arc::from(self.stream),
            schema: self.schema,
            offsets: S::OFFSETS,
            start: self.start,
            unsure_end: self.unsure_end,
            response_timeout: options.response_timeout,
            retry: options.retry.clone(),
            columns: self.columns,
            location: self.location,
            table: self.table.path().to_string(),
            row_type: self.row_type,
            row_schema: self.row_schema,
            table_schema: self.table_schema,
            schema_wait: options.schema_wait,
            missing: self.missing,
            asks_default: self.asks_default,
        };
        let (requests, bytes) = (options.max_inflight_requests, options.max_inflight_bytes);
        let handle = match shared {
            Some(shared) => engine::spawn_shared(cfg, shared, requests, bytes, S::DROP_WARNING),
            None => {
                let counters = counters(self.table, S::NAME);
                engine::spawn(cfg, counters, requests, bytes, S::DROP_WARNING)
            }
        };
        Ok((handle, options.max_request_bytes - overhead))
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

/// A stream whose table `T` can write to: what the schema check found.
pub(super) struct Checked {
    pub(super) name: String,
    pub(super) table_schema: TableSchema,
    /// What the writer asks for the values rows leave out.
    pub(super) missing: MissingValues,
}

/// Checks, before any row is sent, that `T` can write to the stream's
/// table; returns the stream's name, its table's schema, and what the
/// writer asks for the values rows leave out.
///
/// The table's metadata is authoritative here: a column just added is in it
/// at once, even while the write path does not take it yet (the engine
/// waits that out, see `engine/schema.rs`).
pub(super) fn check_schema<T: BqRow>(table: &Table, stream: WriteStream) -> Result<Checked> {
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
        let missing = MissingValues::of::<T>(&table_schema);
        return Ok(Checked {
            name: stream.name,
            table_schema,
            missing,
        });
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
