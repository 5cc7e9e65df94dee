//! The in-memory state: datasets, tables with their visible rows, and write
//! streams with their lifecycles (PENDING, COMMITTED, BUFFERED, `_default`).
//!
//! Rows are kept compactly as the validated protobuf bytes of the request
//! (zero-copy slices of the received message) together with the compiled
//! writer schema they were checked with; they are decoded into typed values
//! when read. Lock order: a stream's state, then its table's rows.
//!
//! - `table.rs`: a table and its rows;
//! - `stream.rs`: a write stream and its lifecycle;
//! - this file: the store of datasets, tables and streams.

mod stream;
mod table;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use bqwrite::proto::storage::{
    BatchCommitWriteStreamsResponse, StorageError, TableSchema, storage_error::StorageErrorCode,
    write_stream,
};

use crate::Error;
use crate::cdc::PrimaryKey;
use crate::defaults::{self};
use crate::evolve::{History, Settings};
use crate::schema;
use crate::status::ApiError;

pub(crate) use self::stream::{Binding, Stream, StreamKind};
use self::stream::{StreamState, timestamp};
use self::table::Rows;
pub(crate) use self::table::{Batch, Filled, Table, TableName, split_stream_name};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
