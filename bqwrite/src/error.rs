//! The error type of the client and the writer.

use std::fmt;

use crate::proto::storage::storage_error::StorageErrorCode;

/// The result type of bqwrite's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of the client or the writer.
///
/// Opaque on purpose: match on [`Error::kind`], and read the details through
/// the accessors ([`Error::row_errors`], [`Error::schema_mismatches`],
/// [`Error::storage_error`], [`Error::acknowledged_rows`],
/// [`Error::commit_outcome`], [`Error::status`]).
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    status: Option<tonic::Status>,
    storage_error: Option<StorageErrorCode>,
    row_errors: Vec<RowError>,
    mismatches: Vec<SchemaMismatch>,
    acknowledged_rows: Option<i64>,
    stream: Option<String>,
    commit_outcome: Option<CommitOutcome>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// What kind of error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A table or stream path could not be parsed.
    InvalidPath,
    /// The client configuration is unusable (an invalid endpoint, header value, ...).
    Config,
    /// Connecting to the service failed in a way retrying cannot fix: the
    /// client never connected (nothing listens at the address, it does not
    /// resolve, ...) or the server's TLS certificate is not trusted. The
    /// message names the address and where it came from. Not retried; a
    /// client that connected before retries lost connections instead
    /// ([`ErrorKind::Transport`]).
    Connect,
    /// Credentials could not be found or a token could not be obtained.
    Auth,
    /// The struct's schema cannot write to the table; see [`Error::schema_mismatches`].
    SchemaMismatch,
    /// The server rejected rows; see [`Error::row_errors`]. No row of the
    /// rejected request, nor of any request after it, was written.
    RowErrors,
    /// A single row is larger than the request size limit and can never be sent.
    RowTooLarge,
    /// A row holds a value its column cannot hold exactly (an instant with
    /// nanoseconds, a decimal with too many digits, a date past 9999); see
    /// [`Error::row_errors`] for the row index, the column and the value.
    /// Nothing was rounded, and nothing from that row on was sent.
    InvalidValue,
    /// The server's view of the stream's offsets disagrees with the writer's;
    /// the writer stopped rather than skip or duplicate rows.
    OffsetMismatch,
    /// The commit did not happen: a stream could not be committed, and so
    /// none was by this call (see [`Error::commit_outcome`] for the streams'
    /// state and [`Error::storage_error`] for the first stream's problem).
    CommitFailed,
    /// The server answered with an error status (see [`Error::status`] and
    /// [`Error::storage_error`]).
    Server,
    /// The connection broke or the server closed the stream before answering.
    Transport,
    /// The writer can no longer be used (a previous error left it broken, or it is finalized).
    WriterClosed,
    /// The rows were not written because the request before them on the same
    /// stream was rejected while they were already on their way (their
    /// offsets no longer lined up). The writer is usable: send them again.
    Unwritten,
}

/// What a failed commit left behind, as established from the service: see
/// [`Error::commit_outcome`]. Never a guess: when the service could not be
/// asked, the outcome is [`CommitOutcome::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommitOutcome {
    /// Every stream of the commit is committed: all their rows are visible.
    /// An error with this outcome means they were committed before this call
    /// (by an earlier commit, or by another process), not by it.
    Committed,
    /// This call committed nothing: every stream that was not committed
    /// before it is still not committed, and none of its rows is visible.
    /// The commit may be tried again once the cause is fixed.
    NotCommitted,
    /// Whether the commit happened could not be established: an answer was
    /// lost and the service could not be asked afterwards. Ask again later
    /// (committing the same streams again is safe: it commits them if the
    /// first attempt did not, and reports them already committed otherwise).
    Unknown,
}

impl fmt::Display for CommitOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Committed => "committed",
            Self::NotCommitted => "not committed",
            Self::Unknown => "unknown",
        })
    }
}

/// One rejected row, with its index in what the caller passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The index of the row among the rows given to the call that failed.
    pub index: usize,
    /// The column the server's message names, when it names one of the table's columns.
    pub column: Option<String>,
    /// The server's description of the problem.
    pub message: String,
}

/// One difference between a struct's schema and a table's that prevents
/// writing: the rules of `bqwrite-schema`, which the writer's check before
/// its first row and `#[bq(schema = "...")]` at compile time share.
pub use bqwrite_schema::Mismatch as SchemaMismatch;

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                status: None,
                storage_error: None,
                row_errors: Vec::new(),
                mismatches: Vec::new(),
                acknowledged_rows: None,
                stream: None,
                commit_outcome: None,
                source: None,
            }),
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// An error from a gRPC status that ended a call, with its `StorageError`
    /// detail if any.
    pub(crate) fn from_status(context: &str, status: tonic::Status) -> Self {
        let storage_error = crate::status::storage_error(&status).map(|e| e.code());
        let kind = if status.source_is_transport() {
            ErrorKind::Transport
        } else {
            kind_of(status.code(), storage_error)
        };
        let message = format!("{context}: {:?}: {}", status.code(), status.message());
        let mut error = Self::new(kind, message);
        error.inner.storage_error = storage_error;
        error.inner.status = Some(status);
        error
    }

    /// An error from an in-band `google.rpc.Status` (an AppendRows answer):
    /// the same kind as the same code ending a call, and [`Error::code`]
    /// answers with its code.
    pub(crate) fn from_rpc_status(context: &str, status: &crate::proto::rpc::Status) -> Self {
        let code = crate::status::code_of(status);
        let storage_error = crate::status::storage_error_in(status).map(|e| e.code());
        let message = format!("{context}: {code:?}: {}", status.message);
        let mut error = Self::new(kind_of(code, storage_error), message);
        error.inner.storage_error = storage_error;
        error.inner.status = Some(tonic::Status::new(code, status.message.clone()));
        error
    }

    /// A copy for a second receiver of the same failure (the tickets of one
    /// broken writer): every detail but the source, which is not `Clone`.
    pub(crate) fn duplicate(&self) -> Self {
        let inner = &self.inner;
        Self {
            inner: Box::new(Inner {
                kind: inner.kind,
                message: inner.message.clone(),
                status: inner.status.clone(),
                storage_error: inner.storage_error,
                row_errors: inner.row_errors.clone(),
                mismatches: inner.mismatches.clone(),
                acknowledged_rows: inner.acknowledged_rows,
                stream: inner.stream.clone(),
                commit_outcome: inner.commit_outcome,
                source: None,
            }),
        }
    }

    pub(crate) fn with_stream(mut self, stream: impl Into<String>) -> Self {
        self.inner.stream = Some(stream.into());
        self
    }

    /// Adds context to the message, keeping every detail.
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Self {
        self.inner.message = format!("{}; {context}", self.inner.message);
        self
    }

    pub(crate) fn with_acknowledged_rows(mut self, rows: i64) -> Self {
        self.inner.acknowledged_rows = Some(rows);
        self
    }

    pub(crate) fn with_commit_outcome(mut self, outcome: CommitOutcome) -> Self {
        self.inner.commit_outcome = Some(outcome);
        self
    }

    pub(crate) fn with_row_errors(mut self, errors: Vec<RowError>) -> Self {
        self.inner.row_errors = errors;
        self
    }

    pub(crate) fn with_mismatches(mut self, mismatches: Vec<SchemaMismatch>) -> Self {
        self.inner.mismatches = mismatches;
        self
    }

    pub(crate) fn with_storage_error(mut self, code: StorageErrorCode) -> Self {
        self.inner.storage_error = Some(code);
        self
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The gRPC status the server answered with, if the error came from one.
    pub fn status(&self) -> Option<&tonic::Status> {
        self.inner.status.as_ref()
    }

    /// The gRPC code the server answered with, if the error came from a status.
    pub fn code(&self) -> Option<tonic::Code> {
        self.inner.status.as_ref().map(tonic::Status::code)
    }

    /// The BigQuery `StorageError` code the server attached, if any.
    pub fn storage_error(&self) -> Option<StorageErrorCode> {
        self.inner.storage_error
    }

    /// The rejected rows, for [`ErrorKind::RowErrors`].
    pub fn row_errors(&self) -> &[RowError] {
        &self.inner.row_errors
    }

    /// Every difference found, for [`ErrorKind::SchemaMismatch`].
    pub fn schema_mismatches(&self) -> &[SchemaMismatch] {
        &self.inner.mismatches
    }

    /// How many rows of the stream the server had acknowledged when the error
    /// happened, where the writer knows: the stream's exact state.
    ///
    /// With [`Error::stream`] this is what a broken writer leaves to recover
    /// from: `Writer::resume(&table, stream, rows)` continues the stream,
    /// [`Table::finalize_stream`](crate::Table::finalize_stream) ends it.
    pub fn acknowledged_rows(&self) -> Option<i64> {
        self.inner.acknowledged_rows
    }

    /// For an error of a commit ([`Table::commit`](crate::Table::commit),
    /// [`Finalized::commit`](crate::Finalized::commit)): whether its streams
    /// are committed, established from the service after any retry or lost
    /// answer, never guessed. `None` for errors of other operations.
    pub fn commit_outcome(&self) -> Option<CommitOutcome> {
        self.inner.commit_outcome
    }

    /// The write stream the error happened on, for errors of a writer.
    pub fn stream(&self) -> Option<&str> {
        self.inner.stream.as_deref()
    }
}

/// The kind of a gRPC code, the same whether the code ended a call or came
/// in-band in an AppendRows answer.
pub(crate) fn kind_of(code: tonic::Code, storage: Option<StorageErrorCode>) -> ErrorKind {
    match (code, storage) {
        (_, Some(StorageErrorCode::OffsetOutOfRange | StorageErrorCode::OffsetAlreadyExists))
        | (tonic::Code::OutOfRange, _) => ErrorKind::OffsetMismatch,
        (tonic::Code::Unauthenticated | tonic::Code::PermissionDenied, _) => ErrorKind::Auth,
        _ => ErrorKind::Server,
    }
}

trait StatusExt {
    fn source_is_transport(&self) -> bool;
}

impl StatusExt for tonic::Status {
    fn source_is_transport(&self) -> bool {
        let mut source = std::error::Error::source(self);
        while let Some(err) = source {
            if err.is::<tonic::transport::Error>() || err.is::<std::io::Error>() {
                return true;
            }
            source = err.source();
        }
        false
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(code) = self.inner.storage_error {
            d.field("storage_error", &code);
        }
        if !self.inner.row_errors.is_empty() {
            d.field("row_errors", &self.inner.row_errors);
        }
        if !self.inner.mismatches.is_empty() {
            d.field("schema_mismatches", &self.inner.mismatches);
        }
        if let Some(rows) = self.inner.acknowledged_rows {
            d.field("acknowledged_rows", &rows);
        }
        if let Some(stream) = &self.inner.stream {
            d.field("stream", stream);
        }
        if let Some(outcome) = self.inner.commit_outcome {
            d.field("commit_outcome", &outcome);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        for mismatch in &self.inner.mismatches {
            write!(f, "\n  - {mismatch}")?;
        }
        for row in self.inner.row_errors.iter().take(10) {
            write!(f, "\n  - row {}: {}", row.index, row.message)?;
        }
        if self.inner.row_errors.len() > 10 {
            write!(
                f,
                "\n  - and {} more rows",
                self.inner.row_errors.len() - 10
            )?;
        }
        if let Some(rows) = self.inner.acknowledged_rows {
            write!(f, " ({rows} rows of the stream are acknowledged)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        if let Some(source) = &self.inner.source {
            return Some(source.as_ref());
        }
        self.inner
            .status
            .as_ref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}
