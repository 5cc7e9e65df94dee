//! API errors as the Storage Write API reports them: a gRPC code, a message
//! and a `StorageError` packed in `google.rpc.Status.details`.
//!
//! | StorageError code        | gRPC code           |
//! |--------------------------|---------------------|
//! | TABLE_NOT_FOUND          | NOT_FOUND           |
//! | STREAM_NOT_FOUND         | NOT_FOUND           |
//! | STREAM_FINALIZED         | INVALID_ARGUMENT    |
//! | STREAM_ALREADY_COMMITTED | FAILED_PRECONDITION |
//! | INVALID_STREAM_STATE     | FAILED_PRECONDITION |
//! | INVALID_STREAM_TYPE      | INVALID_ARGUMENT    |
//! | OFFSET_ALREADY_EXISTS    | ALREADY_EXISTS      |
//! | OFFSET_OUT_OF_RANGE      | OUT_OF_RANGE        |
//! | SCHEMA_MISMATCH_EXTRA_FIELDS | INVALID_ARGUMENT |

use bqwrite::proto::rpc;
use bqwrite::proto::storage::{StorageError, storage_error::StorageErrorCode};
use prost::Message;
use tonic::Code;
use tonic::metadata::{MetadataMap, MetadataValue};

/// The `error_message` of BigQuery's SCHEMA_MISMATCH_EXTRA_FIELDS
/// StorageError, which Google's clients compare against.
pub(crate) const SCHEMA_MISMATCH_EXTRA_FIELDS_MESSAGE: &str =
    "Schema mismatch due to extra fields in user schema";

/// The trailer a call-ending error's `StorageError` travels in.
pub(crate) const STORAGE_ERROR_TRAILER: &str = "google.cloud.bigquery.storage.v1.storageerror-bin";

/// The `type_url` of a packed `StorageError`.
pub(crate) const STORAGE_ERROR_TYPE_URL: &str =
    "type.googleapis.com/google.cloud.bigquery.storage.v1.StorageError";

/// An error of one API call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub code: Code,
    pub storage: Option<StorageErrorCode>,
    pub entity: String,
    pub message: String,
    /// The StorageError's `error_message` when it is not `message`.
    pub storage_message: Option<String>,
}

impl ApiError {
    pub(crate) fn new(
        code: Code,
        storage: Option<StorageErrorCode>,
        entity: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            code,
            storage,
            entity: entity.into(),
            message: message.into(),
            storage_message: None,
        }
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, None, "", message)
    }

    pub(crate) fn table_not_found(table: &str) -> Self {
        Self::new(
            Code::NotFound,
            Some(StorageErrorCode::TableNotFound),
            table,
            format!("Table not found: {table}"),
        )
    }

    pub(crate) fn stream_not_found(stream: &str) -> Self {
        Self::new(
            Code::NotFound,
            Some(StorageErrorCode::StreamNotFound),
            stream,
            format!("Stream not found: {stream}"),
        )
    }

    pub(crate) fn finalized(stream: &str) -> Self {
        Self::new(
            Code::InvalidArgument,
            Some(StorageErrorCode::StreamFinalized),
            stream,
            format!("Stream has been finalized and cannot be appended. Entity: {stream}"),
        )
    }

    pub(crate) fn already_committed(stream: &str) -> Self {
        Self::new(
            Code::FailedPrecondition,
            Some(StorageErrorCode::StreamAlreadyCommitted),
            stream,
            format!("Stream is already committed: {stream}"),
        )
    }

    pub(crate) fn invalid_stream_type(stream: &str, why: impl Into<String>) -> Self {
        Self::new(
            Code::InvalidArgument,
            Some(StorageErrorCode::InvalidStreamType),
            stream,
            why,
        )
    }

    /// The StorageError this error carries, if any.
    pub(crate) fn storage_error(&self) -> Option<StorageError> {
        self.storage.map(|code| StorageError {
            code: code as i32,
            entity: self.entity.clone(),
            error_message: self
                .storage_message
                .clone()
                .unwrap_or_else(|| self.message.clone()),
        })
    }

    /// As a `google.rpc.Status` (for an in-band AppendRows error).
    pub(crate) fn to_rpc_status(&self) -> rpc::Status {
        rpc::Status {
            code: self.code as i32,
            message: self.message.clone(),
            details: self
                .storage_error()
                .map(|e| prost_types::Any {
                    type_url: STORAGE_ERROR_TYPE_URL.into(),
                    value: e.encode_to_vec(),
                })
                .into_iter()
                .collect(),
        }
    }

    /// As a gRPC status that ends a call: `grpc-status-details-bin` holds the
    /// `google.rpc.Status` with the StorageError, and the StorageError alone
    /// travels in the `google.cloud.bigquery.storage.v1.storageerror-bin`
    /// trailer, where Google's clients look for it (Node's
    /// `parseStorageErrors`, for one).
    pub(crate) fn to_tonic(&self) -> tonic::Status {
        let mut trailers = MetadataMap::new();
        if let Some(error) = self.storage_error() {
            trailers.append_bin(
                STORAGE_ERROR_TRAILER,
                MetadataValue::from_bytes(&error.encode_to_vec()),
            );
        }
        tonic::Status::with_details_and_metadata(
            self.code,
            self.message.clone(),
            self.to_rpc_status().encode_to_vec().into(),
            trailers,
        )
    }
}
