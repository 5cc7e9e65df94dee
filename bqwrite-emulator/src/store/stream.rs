//! A write stream and its lifecycle (PENDING, COMMITTED, BUFFERED,
//! `_default`): offsets, finalize, flush, and the connection bound to it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bqwrite::proto::storage::{WriteStream, storage_error::StorageErrorCode, write_stream};
use tokio::sync::Notify;
use tonic::Code;

use crate::status::ApiError;

use super::lock;
use super::table::{Batch, Table};

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
pub(super) struct StreamState {
    /// Rows appended and not yet visible (PENDING: all; BUFFERED: unflushed).
    pub(super) held: Vec<Batch>,
    /// Rows appended in total (the next offset).
    pub(super) appended: i64,
    /// BUFFERED: rows made visible by FlushRows.
    pub(super) flushed: i64,
    pub(super) finalized: bool,
    pub(super) commit_time: Option<SystemTime>,
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
    pub(super) state: Mutex<StreamState>,
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

pub(super) fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    t.into()
}

impl Stream {
    pub(super) fn new(name: String, table: Arc<Table>, kind: StreamKind) -> Self {
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

    pub(super) fn check_table(&self) -> Result<(), ApiError> {
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
