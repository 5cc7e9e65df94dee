//! Reading BigQuery's typed error details out of `google.rpc.Status`.

use prost::Message;

use crate::proto::rpc;
use crate::proto::storage::StorageError;

/// The type URL a `StorageError` travels under in `google.rpc.Status.details`.
pub(crate) const STORAGE_ERROR_TYPE_URL: &str =
    "type.googleapis.com/google.cloud.bigquery.storage.v1.StorageError";

/// The first `StorageError` in an in-band `google.rpc.Status`.
pub(crate) fn storage_error_in(status: &rpc::Status) -> Option<StorageError> {
    status
        .details
        .iter()
        .filter(|any| {
            // Any type URLs may use another host than type.googleapis.com.
            any.type_url == STORAGE_ERROR_TYPE_URL
                || any
                    .type_url
                    .ends_with("/google.cloud.bigquery.storage.v1.StorageError")
        })
        .find_map(|any| StorageError::decode(any.value.as_slice()).ok())
}

/// The first `StorageError` in a gRPC status's details (`grpc-status-details-bin`).
pub(crate) fn storage_error(status: &tonic::Status) -> Option<StorageError> {
    let details = status.details();
    if details.is_empty() {
        return None;
    }
    rpc::Status::decode(details)
        .ok()
        .and_then(|s| storage_error_in(&s))
}

/// The gRPC code of an in-band `google.rpc.Status`.
pub(crate) fn code_of(status: &rpc::Status) -> tonic::Code {
    tonic::Code::from_i32(status.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::storage::storage_error::StorageErrorCode;

    fn packed(code: StorageErrorCode) -> rpc::Status {
        let detail = StorageError {
            code: code as i32,
            entity: "projects/p/datasets/d/tables/t/streams/s".into(),
            error_message: "offset 5 already exists".into(),
        };
        rpc::Status {
            code: tonic::Code::AlreadyExists as i32,
            message: "offset 5 already exists".into(),
            details: vec![prost_types::Any {
                type_url: STORAGE_ERROR_TYPE_URL.into(),
                value: detail.encode_to_vec(),
            }],
        }
    }

    #[test]
    fn reads_storage_error_from_in_band_status() {
        let status = packed(StorageErrorCode::OffsetAlreadyExists);
        let err = storage_error_in(&status).expect("detail");
        assert_eq!(err.code(), StorageErrorCode::OffsetAlreadyExists);
        assert_eq!(code_of(&status), tonic::Code::AlreadyExists);
    }

    #[test]
    fn reads_storage_error_from_grpc_status_details() {
        let inner = packed(StorageErrorCode::StreamFinalized);
        let status = tonic::Status::with_details(
            tonic::Code::InvalidArgument,
            "finalized",
            inner.encode_to_vec().into(),
        );
        let err = storage_error(&status).expect("detail");
        assert_eq!(err.code(), StorageErrorCode::StreamFinalized);
        assert!(storage_error(&tonic::Status::internal("no details")).is_none());
    }
}
