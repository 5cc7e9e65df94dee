//! Tables: their paths, and the atomic commit of pending streams.

use std::fmt;
use std::str::FromStr;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::storage::storage_error::StorageErrorCode;
use crate::proto::storage::{
    BatchCommitWriteStreamsRequest, BatchCommitWriteStreamsResponse, GetWriteStreamRequest,
    WriteStreamView,
};
use crate::types::Timestamp;

/// The path of a BigQuery table: `projects/{project}/datasets/{dataset}/tables/{table}`.
///
/// ```
/// let path: bqwrite::TablePath = "projects/p/datasets/d/tables/t".parse()?;
/// assert_eq!(path.dataset(), "d");
/// assert_eq!(path.to_string(), "projects/p/datasets/d/tables/t");
/// # Ok::<(), bqwrite::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TablePath {
    project: String,
    dataset: String,
    table: String,
}

impl TablePath {
    /// A table path from its parts, checked: each part non-empty and without
    /// `/`; a dataset name of letters, digits and underscores.
    pub fn new(
        project: impl Into<String>,
        dataset: impl Into<String>,
        table: impl Into<String>,
    ) -> Result<Self> {
        let path = Self {
            project: project.into(),
            dataset: dataset.into(),
            table: table.into(),
        };
        path.check()?;
        Ok(path)
    }

    fn check(&self) -> Result<()> {
        let bad = |what: &str, value: &str, why: &str| {
            Err(Error::new(
                ErrorKind::InvalidPath,
                format!("invalid {what} `{value}` in table path: {why}"),
            ))
        };
        for (what, value) in [
            ("project", &self.project),
            ("dataset", &self.dataset),
            ("table", &self.table),
        ] {
            if value.trim().is_empty() {
                return bad(what, value, "it is empty");
            }
            if value.contains('/') {
                return bad(what, value, "it contains `/`");
            }
            if value.len() > 1024 {
                return bad(what, value, "it is longer than 1024 bytes");
            }
        }
        if !self
            .dataset
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return bad(
                "dataset",
                &self.dataset,
                "only letters, digits and underscores are allowed",
            );
        }
        Ok(())
    }

    /// The project id.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The dataset id.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// The table id.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The path of the table's default stream (`.../streams/_default`).
    pub fn default_stream(&self) -> String {
        format!("{self}/streams/_default")
    }
}

impl fmt::Display for TablePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "projects/{}/datasets/{}/tables/{}",
            self.project, self.dataset, self.table
        )
    }
}

impl FromStr for TablePath {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            ["projects", project, "datasets", dataset, "tables", table] => {
                Self::new(*project, *dataset, *table)
            }
            _ => Err(Error::new(
                ErrorKind::InvalidPath,
                format!(
                    "invalid table path `{s}`: expected `projects/{{project}}/datasets/{{dataset}}/tables/{{table}}`"
                ),
            )),
        }
    }
}

/// A table reached through a [`Client`]: where writers write, and what
/// commits pending streams.
#[derive(Debug, Clone)]
pub struct Table {
    client: Client,
    path: TablePath,
}

impl Table {
    pub(crate) fn new(client: Client, path: TablePath) -> Self {
        Self { client, path }
    }

    /// The table's path.
    pub fn path(&self) -> &TablePath {
        &self.path
    }

    /// The client the table is reached through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Commits finalized pending streams of this table atomically: the rows of
    /// every stream become visible at one commit time, or none does.
    ///
    /// Transient failures are retried (see [`retry`](crate::retry)). When an
    /// answer was lost and the retry finds every stream already committed at
    /// one commit time, that first commit is the result. A stream committed
    /// before this call is reported as [`ErrorKind::CommitFailed`] with
    /// [`StorageErrorCode::StreamAlreadyCommitted`]: nothing is committed twice.
    pub async fn commit(&self, streams: impl IntoIterator<Item = Finalized>) -> Result<Commit> {
        let streams: Vec<Finalized> = streams.into_iter().collect();
        let span = tracing::info_span!("commit", table = %self.path, streams = streams.len());
        tracing::Instrument::instrument(self.commit_streams(streams), span).await
    }

    async fn commit_streams(&self, streams: Vec<Finalized>) -> Result<Commit> {
        if let Some(other) = streams.iter().find(|s| s.table().path != self.path) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "stream `{}` belongs to table `{}`, not `{}`",
                    other.name(),
                    other.table().path,
                    self.path
                ),
            ));
        }
        let names: Vec<String> = streams.iter().map(|s| s.name().to_owned()).collect();
        let rows = streams.iter().map(Finalized::row_count).sum();
        let parent = self.path.to_string();
        let (response, retries) = self
            .client
            .batch_commit(BatchCommitWriteStreamsRequest {
                parent,
                write_streams: names.clone(),
            })
            .await?;
        let already_committed = |e: &crate::proto::storage::StorageError| {
            e.code() == StorageErrorCode::StreamAlreadyCommitted
        };
        let time = if retries > 0
            && !response.stream_errors.is_empty()
            && response.stream_errors.len() == names.len()
            && response.stream_errors.iter().all(already_committed)
        {
            // A retry after a lost answer: the first attempt committed. The
            // streams' own commit times say so, and when.
            self.commit_time_of(&names).await?
        } else {
            None
        };
        let time = match time {
            Some(time) => time,
            None => {
                if !response.stream_errors.is_empty() || response.commit_time.is_none() {
                    return Err(self.commit_failed(&names, &response));
                }
                response.commit_time.unwrap_or_default()
            }
        };
        let micros = time.seconds.saturating_mul(1_000_000) + i64::from(time.nanos / 1_000);
        let commit_time = Timestamp::from_micros(micros)
            .map_err(|e| Error::new(ErrorKind::Server, format!("commit time out of range: {e}")))?;
        tracing::info!(%commit_time, rows, "committed");
        Ok(Commit {
            commit_time,
            streams: names,
            rows,
        })
    }
}

impl Table {
    /// The one commit time of all `streams`, if each is committed at it.
    async fn commit_time_of(&self, streams: &[String]) -> Result<Option<prost_types::Timestamp>> {
        let mut time = None;
        for name in streams {
            let stream = self
                .client
                .get_write_stream(GetWriteStreamRequest {
                    name: name.clone(),
                    view: WriteStreamView::Basic as i32,
                })
                .await?;
            match (&time, stream.commit_time) {
                (_, None) => return Ok(None),
                (None, Some(t)) => time = Some(t),
                (Some(seen), Some(t)) if *seen == t => {}
                (Some(_), Some(_)) => return Ok(None),
            }
        }
        Ok(time)
    }

    fn commit_failed(&self, names: &[String], response: &BatchCommitWriteStreamsResponse) -> Error {
        let details: Vec<String> = response
            .stream_errors
            .iter()
            .map(|e| format!("{} ({:?}): {}", e.entity, e.code(), e.error_message))
            .collect();
        let mut error = Error::new(
            ErrorKind::CommitFailed,
            format!(
                "commit of {} stream(s) to `{}` failed, nothing was committed: {}",
                names.len(),
                self.path,
                if details.is_empty() {
                    "the server returned no commit time".to_owned()
                } else {
                    details.join("; ")
                }
            ),
        );
        if let Some(first) = response.stream_errors.first() {
            error = error.with_storage_error(first.code());
        }
        error
    }
}

/// A finalized pending stream, ready to commit.
#[derive(Debug, Clone)]
#[must_use = "a finalized stream's rows stay invisible until it is committed"]
pub struct Finalized {
    table: Table,
    name: String,
    row_count: i64,
}

impl Finalized {
    pub(crate) fn new(table: Table, name: String, row_count: i64) -> Self {
        Self {
            table,
            name,
            row_count,
        }
    }

    /// A finalized stream from its parts, for a coordinator that commits
    /// streams other processes wrote: each worker finalizes its stream and
    /// hands over its [`name`](Finalized::name) and
    /// [`row_count`](Finalized::row_count); the coordinator rebuilds them
    /// and commits them all at once with [`Table::commit`].
    ///
    /// ```no_run
    /// # async fn run(table: bqwrite::Table, handed_over: Vec<(String, i64)>) -> bqwrite::Result<()> {
    /// let streams = handed_over
    ///     .into_iter()
    ///     .map(|(name, rows)| bqwrite::Finalized::from_parts(table.clone(), name, rows));
    /// let commit = table.commit(streams).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Nothing is checked here: the commit fails with
    /// [`ErrorKind::CommitFailed`] (nothing committed) if a stream is not a
    /// finalized PENDING stream of the table. `row_count` is only reported
    /// ([`Commit::rows`]).
    pub fn from_parts(table: Table, name: String, row_count: i64) -> Self {
        Self::new(table, name, row_count)
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of rows in the stream.
    pub fn row_count(&self) -> i64 {
        self.row_count
    }

    /// The stream's table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Commits this stream alone; see [`Table::commit`] for several at once.
    pub async fn commit(self) -> Result<Commit> {
        let table = self.table.clone();
        table.commit([self]).await
    }
}

/// A successful commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    commit_time: Timestamp,
    streams: Vec<String>,
    rows: i64,
}

impl Commit {
    /// When the rows became visible.
    pub fn commit_time(&self) -> Timestamp {
        self.commit_time
    }

    /// The committed streams.
    pub fn streams(&self) -> &[String] {
        &self.streams
    }

    /// How many rows the commit made visible.
    pub fn rows(&self) -> i64 {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_table_paths() {
        let path: TablePath = "projects/my-project/datasets/my_dataset/tables/customer_records"
            .parse()
            .unwrap();
        assert_eq!(path.project(), "my-project");
        assert_eq!(path.dataset(), "my_dataset");
        assert_eq!(path.table(), "customer_records");
        assert_eq!(
            path.default_stream(),
            "projects/my-project/datasets/my_dataset/tables/customer_records/streams/_default"
        );
    }

    #[test]
    fn rejects_malformed_table_paths() {
        for bad in [
            "",
            "projects/p/datasets/d",
            "projects/p/datasets/d/tables/",
            "projects//datasets/d/tables/t",
            "project/p/datasets/d/tables/t",
            "projects/p/datasets/d/tables/t/streams/s",
            "projects/p/datasets/my-dataset/tables/t",
        ] {
            let err = bad.parse::<TablePath>().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidPath, "{bad}");
            assert!(err.to_string().contains("invalid"), "{err}");
        }
    }
}
