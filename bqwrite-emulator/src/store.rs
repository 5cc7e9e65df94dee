//! The in-memory state: datasets, tables with their visible rows, and write
//! streams with their lifecycles (PENDING, COMMITTED, BUFFERED, `_default`).
//!
//! Rows are kept compactly as the validated protobuf bytes of the request
//! (zero-copy slices of the received message) together with the compiled
//! writer schema they were checked with; they are decoded into typed values
//! when read. Lock order: a stream's state, then its table's rows.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime};

use bqwrite::proto::storage::{
    BatchCommitWriteStreamsResponse, StorageError, TableSchema, WriteStream,
    storage_error::StorageErrorCode, write_stream,
};
use bytes::Bytes;
use tokio::sync::Notify;
use tonic::Code;

use crate::Error;
use crate::cdc::{self, PrimaryKey};
use crate::defaults::{self, Defaults};
use crate::evolve::{History, Settings};
use crate::schema;
use crate::status::ApiError;
use crate::values::decode::decode_row;
use crate::values::plan::RowPlan;
use crate::values::{Row, Value};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The parts of `projects/{p}/datasets/{d}/tables/{t}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    pub project: String,
    pub dataset: String,
    pub table: String,
}

impl TableName {
    pub(crate) fn parse(path: &str) -> Option<TableName> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["projects", p, "datasets", d, "tables", t]
                if !p.is_empty() && !d.is_empty() && !t.is_empty() =>
            {
                Some(TableName {
                    project: p.to_string(),
                    dataset: d.to_string(),
                    table: t.to_string(),
                })
            }
            _ => None,
        }
    }

    pub(crate) fn path(&self) -> String {
        format!(
            "projects/{}/datasets/{}/tables/{}",
            self.project, self.dataset, self.table
        )
    }
}

/// Splits a stream name into its table path and stream id.
pub(crate) fn split_stream_name(name: &str) -> Option<(&str, &str)> {
    let (table, id) = name.rsplit_once("/streams/")?;
    (TableName::parse(table).is_some() && !id.is_empty() && !id.contains('/'))
        .then_some((table, id))
}

/// A batch of validated rows sharing one writer schema.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub plan: Arc<RowPlan>,
    pub rows: Vec<Bytes>,
    /// Per row, the default values of the top-level columns it left out
    /// (column index, value); empty when no row took a default.
    pub filled: Vec<Filled>,
}

/// The default values one row took, by top-level column index.
pub(crate) type Filled = Vec<(usize, Value)>;

impl Batch {
    /// Splits off the first `n` rows.
    fn split_head(&mut self, n: usize) -> Batch {
        let rows: Vec<Bytes> = self.rows.drain(..n).collect();
        let filled = if self.filled.is_empty() {
            Vec::new()
        } else {
            self.filled.drain(..n).collect()
        };
        Batch {
            plan: self.plan.clone(),
            rows,
            filled,
        }
    }
}

/// A table's visible rows.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    batches: Vec<Batch>,
    count: usize,
}

impl Rows {
    fn push(&mut self, batch: Batch) {
        self.count += batch.rows.len();
        self.batches.push(batch);
    }
}

/// One table.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: TableName,
    pub path: String,
    /// The primary key, when the table has one (see `cdc.rs`).
    pub primary_key: Option<PrimaryKey>,
    /// The schema's versions (see `evolve.rs`).
    pub(crate) history: Mutex<History>,
    /// A table recreated under the name of a deleted one answers AppendRows
    /// with NOT_FOUND until then, as BigQuery does for a while.
    pub(crate) not_found_until: Option<tokio::time::Instant>,
    /// The compiled default value expressions of its columns, by their
    /// index when the table was made (see `defaults.rs`).
    pub defaults: Defaults,
    pub created: SystemTime,
    rows: Mutex<Rows>,
    deleted: AtomicBool,
}

impl Table {
    pub(crate) fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// The number of visible rows (after merging the changes, with a
    /// primary key).
    pub(crate) fn row_count(&self) -> usize {
        match &self.primary_key {
            None => lock(&self.rows).count,
            Some(key) => self.merged(key).map_or(0, |rows| rows.len()),
        }
    }

    /// The rows with the changes merged by `key`.
    fn merged(&self, key: &PrimaryKey) -> Result<Vec<Row>, Error> {
        let batches = lock(&self.rows).batches.clone();
        let batches = batches
            .iter()
            .map(|b| (&b.plan, b.rows.as_slice(), b.filled.as_slice()));
        let merged = cdc::merge(key, batches).map_err(|(index, problem)| Error::CorruptRow {
            table: self.path.clone(),
            index,
            message: problem.to_string(),
        })?;
        let columns = self.columns();
        Ok(merged
            .into_iter()
            .map(|row| crate::evolve::project(row, &columns))
            .collect())
    }

    /// Decodes visible rows `start..start + max`.
    pub(crate) fn read_rows(&self, start: usize, max: usize) -> Result<Vec<Row>, Error> {
        if let Some(key) = &self.primary_key {
            let rows = self.merged(key)?;
            return Ok(rows.into_iter().skip(start).take(max).collect());
        }
        let batches: Vec<(Arc<RowPlan>, Vec<Bytes>, Vec<Filled>)> = {
            let rows = lock(&self.rows);
            let mut skip = start;
            let mut left = max;
            let mut picked = Vec::new();
            for batch in &rows.batches {
                if left == 0 {
                    break;
                }
                if skip >= batch.rows.len() {
                    skip -= batch.rows.len();
                    continue;
                }
                let take: Vec<Bytes> = batch.rows[skip..].iter().take(left).cloned().collect();
                let filled: Vec<Filled> =
                    batch.filled.iter().skip(skip).take(left).cloned().collect();
                skip = 0;
                left -= take.len();
                picked.push((batch.plan.clone(), take, filled));
            }
            picked
        };
        let columns = self.columns();
        let mut out = Vec::new();
        for (plan, rows, filled) in batches {
            for (i, bytes) in rows.iter().enumerate() {
                let defaults = filled.get(i).map(Vec::as_slice).unwrap_or_default();
                let taken: Vec<usize> = defaults.iter().map(|(column, _)| *column).collect();
                let mut row = decode_row(&plan, bytes, &taken).map_err(|e| Error::CorruptRow {
                    table: self.path.clone(),
                    index: start + out.len(),
                    message: e.to_string(),
                })?;
                for (column, value) in defaults {
                    row.set(*column, value.clone());
                }
                out.push(crate::evolve::project(row, &columns));
            }
        }
        Ok(out)
    }
}

/// A stream's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamKind {
    Default,
    Committed,
    Pending,
    Buffered,
}

impl StreamKind {
    fn proto(self) -> write_stream::Type {
        match self {
            StreamKind::Default | StreamKind::Committed => write_stream::Type::Committed,
            StreamKind::Pending => write_stream::Type::Pending,
            StreamKind::Buffered => write_stream::Type::Buffered,
        }
    }
}

#[derive(Debug, Default)]
struct StreamState {
    /// Rows appended and not yet visible (PENDING: all; BUFFERED: unflushed).
    held: Vec<Batch>,
    /// Rows appended in total (the next offset).
    appended: i64,
    /// BUFFERED: rows made visible by FlushRows.
    flushed: i64,
    finalized: bool,
    commit_time: Option<SystemTime>,
}

/// The location of every dataset, as `WriteStream.location` reports it:
/// BigQuery's default multi-region.
pub(crate) const DATASET_LOCATION: &str = "US";

/// One write stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub name: String,
    pub table: Arc<Table>,
    pub kind: StreamKind,
    pub created: SystemTime,
    state: Mutex<StreamState>,
    /// The AppendRows connection bound to this application stream, if any
    /// (never set for `_default`, which takes any number of connections).
    active: Mutex<Option<u64>>,
    /// Woken whenever `active` is released.
    released: Notify,
}

/// An AppendRows connection's hold on an application stream: the stream
/// allows one active connection. Dropping it frees the stream.
#[derive(Debug)]
pub(crate) struct Binding {
    stream: Arc<Stream>,
    connection: u64,
}

impl Drop for Binding {
    fn drop(&mut self) {
        let mut active = lock(&self.stream.active);
        if *active == Some(self.connection) {
            *active = None;
            drop(active);
            self.stream.released.notify_waiters();
        }
    }
}

fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    t.into()
}

impl Stream {
    fn new(name: String, table: Arc<Table>, kind: StreamKind) -> Self {
        Stream {
            name,
            table,
            kind,
            created: SystemTime::now(),
            state: Mutex::new(StreamState::default()),
            active: Mutex::new(None),
            released: Notify::new(),
        }
    }

    /// Binds AppendRows connection `connection` to this stream. `_default`
    /// takes any number of connections (`Ok(None)`); an application stream
    /// allows one active connection, and a second one is refused with
    /// FAILED_PRECONDITION until the first ends.
    pub(crate) fn bind(self: &Arc<Self>, connection: u64) -> Result<Option<Binding>, ApiError> {
        if self.kind == StreamKind::Default {
            return Ok(None);
        }
        let mut active = lock(&self.active);
        match *active {
            Some(other) if other != connection => Err(ApiError::new(
                Code::FailedPrecondition,
                None,
                &self.name,
                format!(
                    "stream {} already has an active AppendRows connection; an application-created stream allows one at a time (close the other connection first, or use the _default stream for concurrent connections)",
                    self.name
                ),
            )),
            _ => {
                *active = Some(connection);
                Ok(Some(Binding {
                    stream: self.clone(),
                    connection,
                }))
            }
        }
    }

    /// Waits until no connection is bound to this stream, or `limit` passed.
    ///
    /// A client that drops a connection and opens a new one at once may have
    /// its new connection's first request read before the server has noticed
    /// the old connection is gone; this grace keeps such a reconnect from
    /// being refused.
    pub(crate) async fn wait_unbound(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if lock(&self.active).is_none() {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    fn check_table(&self) -> Result<(), ApiError> {
        let recreated = self
            .table
            .not_found_until
            .is_some_and(|until| tokio::time::Instant::now() < until);
        if self.table.is_deleted() || recreated {
            Err(ApiError::table_not_found(&self.table.path))
        } else {
            Ok(())
        }
    }

    /// The stream as the API describes it.
    ///
    /// A COMMITTED stream's rows are committed as they are appended, so its
    /// `commit_time` is its `create_time`, as the public `stream.proto`
    /// states. BigQuery reports neither time for a `_default` stream
    /// (Google's Go client checks both are unset in its integration tests).
    pub(crate) fn describe(&self, with_schema: bool) -> WriteStream {
        let state = lock(&self.state);
        let (create_time, commit_time) = match self.kind {
            StreamKind::Default => (None, None),
            StreamKind::Committed => (Some(self.created), Some(self.created)),
            StreamKind::Pending | StreamKind::Buffered => (Some(self.created), state.commit_time),
        };
        WriteStream {
            name: self.name.clone(),
            r#type: self.kind.proto() as i32,
            create_time: create_time.map(timestamp),
            commit_time: commit_time.map(timestamp),
            table_schema: with_schema.then(|| self.table.schema()),
            write_mode: write_stream::WriteMode::Insert as i32,
            // every dataset is in BigQuery's default location
            location: DATASET_LOCATION.to_owned(),
        }
    }

    /// Appends a batch at `offset` (if given); returns the offset the batch
    /// starts at (`None` for `_default`).
    pub(crate) fn append(
        &self,
        offset: Option<i64>,
        batch: Batch,
    ) -> Result<Option<i64>, ApiError> {
        let mut state = lock(&self.state);
        self.check_table()?;
        if state.commit_time.is_some() {
            return Err(ApiError::already_committed(&self.name));
        }
        if state.finalized {
            return Err(ApiError::finalized(&self.name));
        }
        if let Some(offset) = offset {
            if self.kind == StreamKind::Default {
                return Err(ApiError::invalid_argument(format!(
                    "offset {offset} was given for the _default stream {}, which takes no offsets",
                    self.name
                )));
            }
            if offset < state.appended {
                return Err(ApiError::new(
                    Code::AlreadyExists,
                    Some(StorageErrorCode::OffsetAlreadyExists),
                    &self.name,
                    format!(
                        "The offset is within stream, expected offset {}, received {offset}",
                        state.appended
                    ),
                ));
            }
            if offset > state.appended {
                return Err(ApiError::new(
                    Code::OutOfRange,
                    Some(StorageErrorCode::OffsetOutOfRange),
                    &self.name,
                    format!(
                        "The offset is beyond stream, expected offset {}, received {offset}",
                        state.appended
                    ),
                ));
            }
        }
        let start = state.appended;
        state.appended += batch.rows.len() as i64;
        match self.kind {
            StreamKind::Default | StreamKind::Committed => lock(&self.table.rows).push(batch),
            StreamKind::Pending | StreamKind::Buffered => state.held.push(batch),
        }
        Ok((self.kind != StreamKind::Default).then_some(start))
    }

    /// The number of rows appended so far.
    pub(crate) fn appended(&self) -> i64 {
        lock(&self.state).appended
    }

    /// Finalizes the stream (idempotently); returns its row count.
    pub(crate) fn finalize(&self) -> Result<i64, ApiError> {
        self.check_table()?;
        if self.kind == StreamKind::Default {
            return Err(ApiError::invalid_stream_type(
                &self.name,
                format!("the _default stream cannot be finalized: {}", self.name),
            ));
        }
        let mut state = lock(&self.state);
        state.finalized = true;
        Ok(state.appended)
    }

    /// Makes the rows up to and including `offset` visible (BUFFERED only).
    pub(crate) fn flush(&self, offset: Option<i64>) -> Result<i64, ApiError> {
        self.check_table()?;
        if self.kind != StreamKind::Buffered {
            return Err(ApiError::invalid_stream_type(
                &self.name,
                format!("FlushRows needs a BUFFERED stream: {}", self.name),
            ));
        }
        let mut state = lock(&self.state);
        let offset = offset.unwrap_or(state.appended - 1);
        if offset < 0 || offset >= state.appended {
            return Err(ApiError::new(
                Code::OutOfRange,
                Some(StorageErrorCode::OffsetOutOfRange),
                &self.name,
                format!(
                    "flush offset {offset} is outside the stream's rows 0..{}",
                    state.appended
                ),
            ));
        }
        let mut to_move = offset + 1 - state.flushed;
        if to_move <= 0 {
            return Ok(offset);
        }
        state.flushed = offset + 1;
        let mut table_rows = lock(&self.table.rows);
        while to_move > 0 {
            let first_len = state.held[0].rows.len() as i64;
            if first_len <= to_move {
                table_rows.push(state.held.remove(0));
                to_move -= first_len;
            } else {
                table_rows.push(state.held[0].split_head(to_move as usize));
                to_move = 0;
            }
        }
        Ok(offset)
    }
}

/// Everything the emulator holds.
#[derive(Debug, Default)]
pub(crate) struct Store {
    datasets: RwLock<BTreeSet<(String, String)>>,
    tables: RwLock<HashMap<String, Arc<Table>>>,
    streams: RwLock<HashMap<String, Arc<Stream>>>,
    next_stream: AtomicU64,
    /// Paths of deleted tables, to tell a recreated table.
    deleted: Mutex<BTreeSet<String>>,
    pub(crate) settings: Settings,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && !id.contains('/')
}

impl Store {
    pub(crate) fn new(settings: Settings) -> Self {
        Store {
            settings,
            ..Store::default()
        }
    }

    pub(crate) fn create_dataset(&self, project: &str, dataset: &str) -> Result<(), Error> {
        let full = format!("{project}:{dataset}");
        if !valid_id(project) || !valid_id(dataset) {
            return Err(Error::InvalidDatasetName(full));
        }
        let inserted = self
            .datasets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((project.to_string(), dataset.to_string()));
        if inserted {
            Ok(())
        } else {
            Err(Error::DatasetExists(full))
        }
    }

    pub(crate) fn dataset_exists(&self, project: &str, dataset: &str) -> bool {
        self.datasets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(project.to_string(), dataset.to_string()))
    }

    /// The datasets of a project, sorted by id.
    pub(crate) fn datasets_of(&self, project: &str) -> Vec<String> {
        self.datasets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(p, _)| p == project)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// Tables of a dataset.
    pub(crate) fn tables_of(&self, project: &str, dataset: &str) -> Vec<Arc<Table>> {
        let mut tables: Vec<Arc<Table>> = self
            .tables
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|t| t.name.project == project && t.name.dataset == dataset)
            .cloned()
            .collect();
        tables.sort_by(|a, b| a.path.cmp(&b.path));
        tables
    }

    pub(crate) fn delete_dataset(
        &self,
        project: &str,
        dataset: &str,
        delete_contents: bool,
    ) -> Result<(), Error> {
        let full = format!("{project}:{dataset}");
        if !self.dataset_exists(project, dataset) {
            return Err(Error::DatasetNotFound(full));
        }
        let tables = self.tables_of(project, dataset);
        if !tables.is_empty() && !delete_contents {
            return Err(Error::DatasetNotEmpty(full));
        }
        for table in tables {
            self.delete_table(&table.path)?;
        }
        self.datasets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(project.to_string(), dataset.to_string()));
        Ok(())
    }

    /// Creates a table; with `create_dataset` its dataset is created when
    /// missing, otherwise a missing dataset is an error.
    pub(crate) fn create_table(
        &self,
        path: &str,
        schema: TableSchema,
        create_dataset: bool,
    ) -> Result<Arc<Table>, Error> {
        self.create_table_keyed(path, schema, None, create_dataset)
    }

    /// [`create_table`](Store::create_table) with a primary key.
    pub(crate) fn create_table_keyed(
        &self,
        path: &str,
        schema: TableSchema,
        primary_key: Option<Vec<String>>,
        create_dataset: bool,
    ) -> Result<Arc<Table>, Error> {
        let name = TableName::parse(path).ok_or_else(|| Error::InvalidTableName(path.into()))?;
        let columns = schema::compile(&schema).map_err(Error::InvalidSchema)?;
        let primary_key = primary_key
            .map(|names| PrimaryKey::new(&columns, names))
            .transpose()
            .map_err(Error::InvalidSchema)?;
        let defaults = defaults::compile(&schema.fields, &columns).map_err(Error::InvalidSchema)?;
        if !self.dataset_exists(&name.project, &name.dataset) {
            if create_dataset {
                // a concurrent creation is as good as ours
                let _ = self.create_dataset(&name.project, &name.dataset);
            } else {
                return Err(Error::DatasetNotFound(format!(
                    "{}:{}",
                    name.project, name.dataset
                )));
            }
        }
        let path = name.path();
        let recreated = lock(&self.deleted).contains(&path);
        let table = Arc::new(Table {
            name,
            path: path.clone(),
            primary_key,
            history: Mutex::new(History::new(schema, columns)),
            not_found_until: recreated
                .then(|| tokio::time::Instant::now() + self.settings.recreate_window),
            defaults,
            created: SystemTime::now(),
            rows: Mutex::new(Rows::default()),
            deleted: AtomicBool::new(false),
        });
        {
            let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
            if tables.contains_key(&path) {
                return Err(Error::TableExists(path));
            }
            tables.insert(path.clone(), table.clone());
        }
        let default_name = format!("{path}/streams/_default");
        let default = Arc::new(Stream::new(
            default_name.clone(),
            table.clone(),
            StreamKind::Default,
        ));
        self.streams
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(default_name, default);
        Ok(table)
    }

    pub(crate) fn table(&self, path: &str) -> Option<Arc<Table>> {
        self.tables
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .cloned()
    }

    pub(crate) fn delete_table(&self, path: &str) -> Result<(), Error> {
        let table = self
            .tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(path)
            .ok_or_else(|| Error::TableNotFound(path.into()))?;
        table.deleted.store(true, Ordering::Release);
        lock(&self.deleted).insert(path.to_owned());
        let prefix = format!("{path}/streams/");
        self.streams
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|name, _| !name.starts_with(&prefix));
        Ok(())
    }

    /// Creates an application stream on a table.
    pub(crate) fn create_stream(
        &self,
        parent: &str,
        kind: write_stream::Type,
    ) -> Result<Arc<Stream>, ApiError> {
        if TableName::parse(parent).is_none() {
            return Err(ApiError::invalid_argument(format!(
                "invalid parent {parent:?}: expected projects/{{project}}/datasets/{{dataset}}/tables/{{table}}"
            )));
        }
        let table = self
            .table(parent)
            .ok_or_else(|| ApiError::table_not_found(parent))?;
        let kind = match kind {
            write_stream::Type::Committed => StreamKind::Committed,
            write_stream::Type::Pending => StreamKind::Pending,
            write_stream::Type::Buffered => StreamKind::Buffered,
            write_stream::Type::Unspecified => {
                return Err(ApiError::invalid_argument(
                    "write_stream.type must be COMMITTED, PENDING or BUFFERED",
                ));
            }
        };
        let n = self.next_stream.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("{parent}/streams/s{n:06}x{nanos:08x}");
        let stream = Arc::new(Stream::new(name.clone(), table, kind));
        self.streams
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, stream.clone());
        Ok(stream)
    }

    /// Looks a stream up by name.
    pub(crate) fn stream(&self, name: &str) -> Result<Arc<Stream>, ApiError> {
        let Some((table, _)) = split_stream_name(name) else {
            return Err(ApiError::invalid_argument(format!(
                "invalid stream name {name:?}: expected projects/{{project}}/datasets/{{dataset}}/tables/{{table}}/streams/{{id}}"
            )));
        };
        let found = self
            .streams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        match found {
            Some(stream) => {
                stream.check_table()?;
                Ok(stream)
            }
            None if self.table(table).is_none() => Err(ApiError::table_not_found(table)),
            None => Err(ApiError::stream_not_found(name)),
        }
    }

    /// Commits finalized PENDING streams of one table atomically.
    pub(crate) fn commit(
        &self,
        parent: &str,
        names: &[String],
    ) -> Result<BatchCommitWriteStreamsResponse, ApiError> {
        let table = self
            .table(parent)
            .ok_or_else(|| ApiError::table_not_found(parent))?;
        if names.is_empty() {
            return Err(ApiError::invalid_argument(
                "BatchCommitWriteStreams needs at least one stream",
            ));
        }
        let mut unique: Vec<&String> = names.iter().collect();
        unique.sort();
        unique.dedup();
        let mut errors = Vec::new();
        let mut streams = Vec::new();
        for name in unique {
            let stream_error = |code: StorageErrorCode, message: String| StorageError {
                code: code as i32,
                entity: name.clone(),
                error_message: message,
            };
            let found = self
                .streams
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(name.as_str())
                .cloned();
            match found {
                Some(s) if Arc::ptr_eq(&s.table, &table) => streams.push(s),
                Some(_) => errors.push(stream_error(
                    StorageErrorCode::StreamNotFound,
                    format!("stream {name} is not a stream of table {parent}"),
                )),
                None => errors.push(stream_error(
                    StorageErrorCode::StreamNotFound,
                    format!("Stream not found: {name}"),
                )),
            }
        }
        // streams are sorted by name: a consistent lock order
        let mut states: Vec<MutexGuard<'_, StreamState>> = Vec::with_capacity(streams.len());
        for stream in &streams {
            let state = lock(&stream.state);
            let stream_error = |code: StorageErrorCode, message: String| StorageError {
                code: code as i32,
                entity: stream.name.clone(),
                error_message: message,
            };
            if stream.kind != StreamKind::Pending {
                errors.push(stream_error(
                    StorageErrorCode::InvalidStreamType,
                    format!("only PENDING streams can be committed: {}", stream.name),
                ));
            } else if state.commit_time.is_some() {
                errors.push(stream_error(
                    StorageErrorCode::StreamAlreadyCommitted,
                    format!("Stream is already committed: {}", stream.name),
                ));
            } else if !state.finalized {
                errors.push(stream_error(
                    StorageErrorCode::InvalidStreamState,
                    format!("Stream is not finalized: {}", stream.name),
                ));
            }
            states.push(state);
        }
        if !errors.is_empty() {
            return Ok(BatchCommitWriteStreamsResponse {
                commit_time: None,
                stream_errors: errors,
            });
        }
        let now = SystemTime::now();
        let mut rows = lock(&table.rows);
        for state in &mut states {
            for batch in std::mem::take(&mut state.held) {
                rows.push(batch);
            }
            state.commit_time = Some(now);
        }
        Ok(BatchCommitWriteStreamsResponse {
            commit_time: Some(timestamp(now)),
            stream_errors: Vec::new(),
        })
    }
}
