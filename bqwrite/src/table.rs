//! Tables: their paths, and the atomic commit of pending streams.

use std::fmt;
use std::str::FromStr;

use crate::client::Client;
use crate::error::{CommitOutcome, Error, ErrorKind, Result};
use crate::proto::storage::storage_error::StorageErrorCode;
use crate::proto::storage::{
    BatchCommitWriteStreamsRequest, BatchCommitWriteStreamsResponse, GetWriteStreamRequest,
    WriteStreamView,
};
use crate::retry::{self, Retry};
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

    /// Finalizes the stream `name` of this table (its full name,
    /// `projects/{p}/datasets/{d}/tables/{t}/streams/{id}`) and returns it
    /// ready to commit, with the row count the service reports.
    ///
    /// For a stream this process did not write through a [`Writer`](crate::Writer)
    /// that finalized it: one whose writer broke, or one another process
    /// wrote. No more rows can be appended afterwards. Finalizing is
    /// idempotent: a stream finalized before (or by an attempt whose answer
    /// was lost, which is retried like every transient failure) is
    /// finalized again with the same row count, as BigQuery and the emulator
    /// answer a repeated FinalizeWriteStream with the stream's row count.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidPath`] for a name that is not a stream of this
    /// table or that names its `_default` stream (which cannot be finalized);
    /// the service's error otherwise (`NOT_FOUND` for an unknown stream).
    pub async fn finalize_stream(&self, name: &str) -> Result<Finalized> {
        self.check_stream_name(name)?;
        let span = tracing::info_span!("finalize", stream = %name);
        let response = tracing::Instrument::instrument(self.client.finalize(name), span).await?;
        tracing::info!(stream = %name, rows = response.row_count, "finalized");
        Ok(Finalized::new(
            self.clone(),
            name.to_owned(),
            response.row_count,
        ))
    }

    /// Checks that `name` is an application-created stream of this table.
    fn check_stream_name(&self, name: &str) -> Result<()> {
        let prefix = format!("{}/streams/", self.path);
        let id = name.strip_prefix(&prefix).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidPath,
                format!(
                    "invalid stream name `{name}`: expected a stream of `{}` (`{prefix}{{id}}`)",
                    self.path
                ),
            )
        })?;
        if id.is_empty() || id.contains('/') || id == "_default" {
            return Err(Error::new(
                ErrorKind::InvalidPath,
                format!(
                    "invalid stream name `{name}`: expected an application-created stream of `{}`, not `{id}`",
                    self.path
                ),
            ));
        }
        Ok(())
    }

    /// Commits finalized pending streams of this table atomically: the rows of
    /// every stream become visible at one commit time, or none does.
    ///
    /// Transient failures are retried (see [`retry`]). After
    /// any retry, and after an answer that was lost, the outcome is
    /// established from each stream's commit time (GetWriteStream) before
    /// anything is reported: when every stream is found committed at one
    /// time, that commit is this call's and is returned as success.
    ///
    /// # Errors
    /// Every error of a commit carries [`Error::commit_outcome`]: whether
    /// the streams are [committed](CommitOutcome::Committed), [not
    /// committed](CommitOutcome::NotCommitted), or whether that is
    /// [unknown](CommitOutcome::Unknown) because the service could not be
    /// asked; the message says which.
    /// - [`ErrorKind::Config`]: no streams, a stream of another table, or the
    ///   same stream twice (pass each once); nothing is sent.
    /// - [`ErrorKind::CommitFailed`]: the service refused the commit (the
    ///   first stream's problem in [`Error::storage_error`]). Streams
    ///   committed before this call are reported with
    ///   [`StorageErrorCode::StreamAlreadyCommitted`] (outcome
    ///   [`Committed`](CommitOutcome::Committed) when all are): nothing is
    ///   committed twice.
    /// - The service's or the transport's error when the call failed (outcome
    ///   established as above).
    pub async fn commit(&self, streams: impl IntoIterator<Item = Finalized>) -> Result<Commit> {
        let streams: Vec<Finalized> = streams.into_iter().collect();
        let span = tracing::info_span!("commit", table = %self.path, streams = streams.len());
        tracing::Instrument::instrument(self.commit_streams(streams), span).await
    }

    async fn commit_streams(&self, streams: Vec<Finalized>) -> Result<Commit> {
        let names = self
            .commit_names(&streams)
            .map_err(|e| e.with_commit_outcome(CommitOutcome::NotCommitted))?;
        let rows = streams.iter().map(Finalized::row_count).sum();
        let request = BatchCommitWriteStreamsRequest {
            parent: self.path.to_string(),
            write_streams: names.clone(),
        };
        let (answer, attempts) = self.client.batch_commit(request).await;
        let time = match answer {
            Ok(response) if response.stream_errors.is_empty() && response.commit_time.is_some() => {
                response.commit_time.unwrap_or_default()
            }
            // the only attempt was refused: the answer is the whole truth
            Ok(response) if attempts <= 1 && !response.stream_errors.is_empty() => {
                let outcome = if self.all_already_committed(&names, &response) {
                    CommitOutcome::Committed
                } else {
                    CommitOutcome::NotCommitted
                };
                return Err(self.refused(&names, &response, outcome));
            }
            Err(error) if attempts == 0 || (attempts == 1 && is_rejection(&error)) => {
                return Err(error
                    .context(format!("outcome: {}", CommitOutcome::NotCommitted))
                    .with_commit_outcome(CommitOutcome::NotCommitted));
            }
            // an earlier attempt may have committed: ask the streams
            Ok(response) => self.settle(&names, Failure::Refused(response)).await?,
            Err(error) => self.settle(&names, Failure::Lost(error)).await?,
        };
        let micros = time.seconds.saturating_mul(1_000_000) + i64::from(time.nanos / 1_000);
        let commit_time = Timestamp::from_micros(micros).map_err(|e| {
            Error::new(
                ErrorKind::Server,
                format!("commit time out of range: {e}; outcome: committed"),
            )
            .with_commit_outcome(CommitOutcome::Committed)
        })?;
        tracing::info!(%commit_time, rows, "committed");
        Ok(Commit {
            commit_time,
            streams: names,
            rows,
        })
    }
}

/// Why a commit that may have happened did not report success.
enum Failure {
    /// The service answered the last attempt with stream errors.
    Refused(BatchCommitWriteStreamsResponse),
    /// The last attempt failed with this error.
    Lost(Error),
}

/// Whether `error` is the service refusing the request, which it then did
/// not apply (as opposed to a lost answer or a transient failure, after
/// which it may have).
fn is_rejection(error: &Error) -> bool {
    error.code().is_some_and(|code| {
        code == tonic::Code::Unauthenticated || retry::classify(code) == Retry::Permanent
    })
}

impl Table {
    /// The streams' names, checked: at least one, each of this table, none twice.
    fn commit_names(&self, streams: &[Finalized]) -> Result<Vec<String>> {
        if streams.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "nothing to commit to `{}`: no streams were given; outcome: not committed",
                    self.path
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for stream in streams {
            if stream.table().path != self.path {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "stream `{}` belongs to table `{}`, not `{}`; outcome: not committed",
                        stream.name(),
                        stream.table().path,
                        self.path
                    ),
                ));
            }
            if !seen.insert(stream.name()) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "stream `{}` is given twice to one commit: pass each stream once; outcome: not committed",
                        stream.name()
                    ),
                ));
            }
        }
        Ok(streams.iter().map(|s| s.name().to_owned()).collect())
    }

    /// Whether the service refused every stream as committed already.
    fn all_already_committed(
        &self,
        names: &[String],
        response: &BatchCommitWriteStreamsResponse,
    ) -> bool {
        names.iter().all(|name| {
            response
                .stream_errors
                .iter()
                .any(|e| e.entity == *name && e.code() == StorageErrorCode::StreamAlreadyCommitted)
        })
    }

    /// Establishes what a commit whose answer may have been lost did, from
    /// each stream's commit time: the commit time when this call committed,
    /// an error saying what happened otherwise.
    async fn settle(&self, names: &[String], failure: Failure) -> Result<prost_types::Timestamp> {
        let times = match self.commit_times(names).await {
            Ok(times) => times,
            Err(asking) => {
                let outcome = CommitOutcome::Unknown;
                let message = format!(
                    "outcome: {outcome}: whether the streams were committed could not be established ({asking})"
                );
                let error = match failure {
                    Failure::Lost(error) => error.context(message),
                    Failure::Refused(response) => {
                        self.refused(names, &response, outcome).context(message)
                    }
                };
                return Err(error.with_commit_outcome(outcome));
            }
        };
        let committed: Vec<prost_types::Timestamp> = times.iter().flatten().cloned().collect();
        if committed.len() == names.len() {
            if committed.iter().all(|t| *t == committed[0]) {
                // one commit time for all: the commit of an attempt whose
                // answer was lost
                tracing::info!("an earlier attempt committed the streams");
                return Ok(committed[0]);
            }
            let outcome = CommitOutcome::Committed;
            return Err(Error::new(
                ErrorKind::CommitFailed,
                format!(
                    "the {} stream(s) of the commit to `{}` were committed before it, at different times; outcome: {outcome} (by earlier commits, not this one)",
                    names.len(),
                    self.path
                ),
            )
            .with_storage_error(StorageErrorCode::StreamAlreadyCommitted)
            .with_commit_outcome(outcome));
        }
        let outcome = CommitOutcome::NotCommitted;
        let checked = format!(
            "outcome: {outcome}: {} of {} stream(s) have no commit time",
            names.len() - committed.len(),
            names.len()
        );
        let error = match failure {
            Failure::Lost(error) => error.context(checked),
            Failure::Refused(response) => self.refused(names, &response, outcome).context(checked),
        };
        Err(error.with_commit_outcome(outcome))
    }

    /// Each stream's commit time (`None`: not committed, or no such stream).
    async fn commit_times(&self, names: &[String]) -> Result<Vec<Option<prost_types::Timestamp>>> {
        let mut times = Vec::with_capacity(names.len());
        for name in names {
            let stream = self
                .client
                .get_write_stream(GetWriteStreamRequest {
                    name: name.clone(),
                    view: WriteStreamView::Basic as i32,
                })
                .await;
            times.push(match stream {
                Ok(stream) => stream.commit_time,
                Err(e) if e.code() == Some(tonic::Code::NotFound) => None,
                Err(e) => return Err(e),
            });
        }
        Ok(times)
    }

    /// The error of a commit the service refused with stream errors.
    fn refused(
        &self,
        names: &[String],
        response: &BatchCommitWriteStreamsResponse,
        outcome: CommitOutcome,
    ) -> Error {
        let details: Vec<String> = response
            .stream_errors
            .iter()
            .map(|e| format!("{} ({:?}): {}", e.entity, e.code(), e.error_message))
            .collect();
        let mut error = Error::new(
            ErrorKind::CommitFailed,
            format!(
                "commit of {} stream(s) to `{}` failed: {}; outcome: {outcome}",
                names.len(),
                self.path,
                if details.is_empty() {
                    "the server returned no commit time".to_owned()
                } else {
                    details.join("; ")
                }
            ),
        )
        .with_commit_outcome(outcome);
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

    /// A finalized stream from its parts: what a coordinator receives from
    /// workers (other tasks or processes) that each wrote and finalized a
    /// stream, so that it can [commit](Table::commit) them all at once.
    ///
    /// `row_count` is taken as given: the commit commits every row of the
    /// stream whatever it says, and [`Commit::rows`] adds up these counts
    /// (BatchCommitWriteStreams does not report row counts). When the
    /// worker's count is not to be trusted, [`Table::finalize_stream`] gets
    /// the service's own count instead (finalizing again is harmless).
    ///
    /// ```
    /// # fn run(table: &bqwrite::Table) -> bqwrite::Result<()> {
    /// // received from a worker: its stream's name and row count
    /// let name = format!("{}/streams/abc123", table.path());
    /// let finalized = bqwrite::Finalized::from_parts(table, name, 1_000)?;
    /// assert_eq!(finalized.row_count(), 1_000);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidPath`] when `name` is not an application-created
    /// stream of `table`; [`ErrorKind::Config`] for a negative row count.
    pub fn from_parts(table: &Table, name: impl Into<String>, row_count: i64) -> Result<Self> {
        let name = name.into();
        table.check_stream_name(&name)?;
        if row_count < 0 {
            return Err(Error::new(
                ErrorKind::Config,
                format!("stream `{name}` cannot have a negative row count ({row_count})"),
            ));
        }
        Ok(Self::new(table.clone(), name, row_count))
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of rows in the stream: the service's count when it comes
    /// from finalizing, the given one from [`Finalized::from_parts`].
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

    /// How many rows the commit made visible: the sum of the row counts of
    /// the committed [`Finalized`] streams (counts given to
    /// [`Finalized::from_parts`] are not checked against the service).
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
