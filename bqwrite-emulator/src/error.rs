//! The library's error type.

use std::net::SocketAddr;

/// What went wrong in a call to the emulator's library API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A server could not bind its address.
    #[error("cannot bind the emulator's {service} server to {addr}: {source}")]
    Bind {
        /// `"gRPC"` or `"HTTP"`.
        service: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A table path is not `projects/{project}/datasets/{dataset}/tables/{table}`.
    #[error(
        "invalid table name {0:?}: expected projects/{{project}}/datasets/{{dataset}}/tables/{{table}}"
    )]
    InvalidTableName(String),
    /// A project or dataset id is empty or contains `/`.
    #[error("invalid dataset {0:?}: project and dataset ids must be non-empty and contain no `/`")]
    InvalidDatasetName(String),
    /// The dataset exists already.
    #[error("dataset {0} already exists")]
    DatasetExists(String),
    /// The dataset does not exist.
    #[error("dataset {0} not found")]
    DatasetNotFound(String),
    /// The dataset still has tables and deleting its contents was not asked for.
    #[error("dataset {0} is not empty")]
    DatasetNotEmpty(String),
    /// The table exists already.
    #[error("table {0} already exists")]
    TableExists(String),
    /// The table does not exist.
    #[error("table {0} not found")]
    TableNotFound(String),

    /// A write stream name that does not exist.
    #[error("write stream {0} not found")]
    StreamNotFound(String),
    /// The simulated link's settings are unusable (a bandwidth that is not a
    /// positive number).
    #[error("invalid link setting: {0}")]
    InvalidLink(String),
    /// A table schema is invalid (the message names the field and the problem).
    #[error("invalid table schema: {0}")]
    InvalidSchema(String),
    /// A schema change BigQuery does not allow (a type changed, a REQUIRED
    /// column added, a mode tightened, a column dropped by tables.patch); the
    /// message names the field.
    #[error("{0}")]
    InvalidSchemaChange(String),
    /// A stored row could not be decoded again (a bug in the emulator).
    #[error("row {index} of table {table} cannot be decoded: {message}")]
    CorruptRow {
        /// The table.
        table: String,
        /// The row's position among the table's visible rows.
        index: usize,
        /// What is wrong.
        message: String,
    },
}
