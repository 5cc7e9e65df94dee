//! The wire contract: every field number, type and label and every enum value
//! of our `.proto` text must equal Google's official definitions. A wrong
//! number compiles fine and silently breaks against the real service, so the
//! expected values are spelled out here, one table row each, from the public
//! API reference.

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};

const PKG: &str = "google.cloud.bigquery.storage.v1";

use Label::{Optional as Opt, Repeated as Rep};
use Type::{
    Bytes as BYTES, Enum as ENUM, Int32 as INT32, Int64 as INT64, Message as MSG, String as STR,
};

/// (message, field, number, type, label, type name for messages and enums)
const FIELDS: &[(&str, &str, i32, Type, Label, &str)] = &[
    ("CreateWriteStreamRequest", "parent", 1, STR, Opt, ""),
    (
        "CreateWriteStreamRequest",
        "write_stream",
        2,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.WriteStream",
    ),
    ("WriteStream", "name", 1, STR, Opt, ""),
    (
        "WriteStream",
        "type",
        2,
        ENUM,
        Opt,
        ".google.cloud.bigquery.storage.v1.WriteStream.Type",
    ),
    (
        "WriteStream",
        "create_time",
        3,
        MSG,
        Opt,
        ".google.protobuf.Timestamp",
    ),
    (
        "WriteStream",
        "commit_time",
        4,
        MSG,
        Opt,
        ".google.protobuf.Timestamp",
    ),
    (
        "WriteStream",
        "table_schema",
        5,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.TableSchema",
    ),
    (
        "WriteStream",
        "write_mode",
        7,
        ENUM,
        Opt,
        ".google.cloud.bigquery.storage.v1.WriteStream.WriteMode",
    ),
    ("WriteStream", "location", 8, STR, Opt, ""),
    ("GetWriteStreamRequest", "name", 1, STR, Opt, ""),
    (
        "GetWriteStreamRequest",
        "view",
        3,
        ENUM,
        Opt,
        ".google.cloud.bigquery.storage.v1.WriteStreamView",
    ),
    ("AppendRowsRequest", "write_stream", 1, STR, Opt, ""),
    (
        "AppendRowsRequest",
        "offset",
        2,
        MSG,
        Opt,
        ".google.protobuf.Int64Value",
    ),
    (
        "AppendRowsRequest",
        "proto_rows",
        4,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.AppendRowsRequest.ProtoData",
    ),
    (
        "AppendRowsRequest",
        "arrow_rows",
        5,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.AppendRowsRequest.ArrowData",
    ),
    ("AppendRowsRequest", "trace_id", 6, STR, Opt, ""),
    (
        "AppendRowsRequest",
        "missing_value_interpretations",
        7,
        MSG,
        Rep,
        ".google.cloud.bigquery.storage.v1.AppendRowsRequest.MissingValueInterpretationsEntry",
    ),
    (
        "AppendRowsRequest",
        "default_missing_value_interpretation",
        8,
        ENUM,
        Opt,
        ".google.cloud.bigquery.storage.v1.AppendRowsRequest.MissingValueInterpretation",
    ),
    (
        "AppendRowsRequest.ProtoData",
        "writer_schema",
        1,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.ProtoSchema",
    ),
    (
        "AppendRowsRequest.ProtoData",
        "rows",
        2,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.ProtoRows",
    ),
    (
        "AppendRowsRequest.ArrowData",
        "writer_schema",
        1,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.ArrowSchema",
    ),
    (
        "AppendRowsRequest.ArrowData",
        "rows",
        2,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.ArrowRecordBatch",
    ),
    (
        "ProtoSchema",
        "proto_descriptor",
        1,
        MSG,
        Opt,
        ".google.protobuf.DescriptorProto",
    ),
    ("ProtoRows", "serialized_rows", 1, BYTES, Rep, ""),
    ("ArrowSchema", "serialized_schema", 1, BYTES, Opt, ""),
    (
        "ArrowRecordBatch",
        "serialized_record_batch",
        1,
        BYTES,
        Opt,
        "",
    ),
    ("ArrowRecordBatch", "row_count", 2, INT64, Opt, ""),
    (
        "AppendRowsResponse",
        "append_result",
        1,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.AppendRowsResponse.AppendResult",
    ),
    (
        "AppendRowsResponse",
        "error",
        2,
        MSG,
        Opt,
        ".google.rpc.Status",
    ),
    (
        "AppendRowsResponse",
        "updated_schema",
        3,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.TableSchema",
    ),
    (
        "AppendRowsResponse",
        "row_errors",
        4,
        MSG,
        Rep,
        ".google.cloud.bigquery.storage.v1.RowError",
    ),
    ("AppendRowsResponse", "write_stream", 5, STR, Opt, ""),
    (
        "AppendRowsResponse.AppendResult",
        "offset",
        1,
        MSG,
        Opt,
        ".google.protobuf.Int64Value",
    ),
    ("FinalizeWriteStreamRequest", "name", 1, STR, Opt, ""),
    (
        "FinalizeWriteStreamResponse",
        "row_count",
        1,
        INT64,
        Opt,
        "",
    ),
    ("BatchCommitWriteStreamsRequest", "parent", 1, STR, Opt, ""),
    (
        "BatchCommitWriteStreamsRequest",
        "write_streams",
        2,
        STR,
        Rep,
        "",
    ),
    (
        "BatchCommitWriteStreamsResponse",
        "commit_time",
        1,
        MSG,
        Opt,
        ".google.protobuf.Timestamp",
    ),
    (
        "BatchCommitWriteStreamsResponse",
        "stream_errors",
        2,
        MSG,
        Rep,
        ".google.cloud.bigquery.storage.v1.StorageError",
    ),
    ("FlushRowsRequest", "write_stream", 1, STR, Opt, ""),
    (
        "FlushRowsRequest",
        "offset",
        2,
        MSG,
        Opt,
        ".google.protobuf.Int64Value",
    ),
    ("FlushRowsResponse", "offset", 1, INT64, Opt, ""),
    (
        "StorageError",
        "code",
        1,
        ENUM,
        Opt,
        ".google.cloud.bigquery.storage.v1.StorageError.StorageErrorCode",
    ),
    ("StorageError", "entity", 2, STR, Opt, ""),
    ("StorageError", "error_message", 3, STR, Opt, ""),
    ("RowError", "index", 1, INT64, Opt, ""),
    (
        "RowError",
        "code",
        2,
        ENUM,
        Opt,
        ".google.cloud.bigquery.storage.v1.RowError.RowErrorCode",
    ),
    ("RowError", "message", 3, STR, Opt, ""),
    (
        "TableSchema",
        "fields",
        1,
        MSG,
        Rep,
        ".google.cloud.bigquery.storage.v1.TableFieldSchema",
    ),
    ("TableFieldSchema", "name", 1, STR, Opt, ""),
    (
        "TableFieldSchema",
        "type",
        2,
        ENUM,
        Opt,
        ".google.cloud.bigquery.storage.v1.TableFieldSchema.Type",
    ),
    (
        "TableFieldSchema",
        "mode",
        3,
        ENUM,
        Opt,
        ".google.cloud.bigquery.storage.v1.TableFieldSchema.Mode",
    ),
    (
        "TableFieldSchema",
        "fields",
        4,
        MSG,
        Rep,
        ".google.cloud.bigquery.storage.v1.TableFieldSchema",
    ),
    ("TableFieldSchema", "description", 6, STR, Opt, ""),
    ("TableFieldSchema", "max_length", 7, INT64, Opt, ""),
    ("TableFieldSchema", "precision", 8, INT64, Opt, ""),
    ("TableFieldSchema", "scale", 9, INT64, Opt, ""),
    (
        "TableFieldSchema",
        "default_value_expression",
        10,
        STR,
        Opt,
        "",
    ),
    (
        "TableFieldSchema",
        "range_element_type",
        11,
        MSG,
        Opt,
        ".google.cloud.bigquery.storage.v1.TableFieldSchema.FieldElementType",
    ),
    (
        "TableFieldSchema",
        "timestamp_precision",
        27,
        MSG,
        Opt,
        ".google.protobuf.Int64Value",
    ),
    (
        "TableFieldSchema.FieldElementType",
        "type",
        1,
        ENUM,
        Opt,
        ".google.cloud.bigquery.storage.v1.TableFieldSchema.Type",
    ),
];

/// (enum, value name, number)
const ENUM_VALUES: &[(&str, &str, i32)] = &[
    ("WriteStream.Type", "TYPE_UNSPECIFIED", 0),
    ("WriteStream.Type", "COMMITTED", 1),
    ("WriteStream.Type", "PENDING", 2),
    ("WriteStream.Type", "BUFFERED", 3),
    ("WriteStream.WriteMode", "WRITE_MODE_UNSPECIFIED", 0),
    ("WriteStream.WriteMode", "INSERT", 1),
    ("WriteStreamView", "WRITE_STREAM_VIEW_UNSPECIFIED", 0),
    ("WriteStreamView", "BASIC", 1),
    ("WriteStreamView", "FULL", 2),
    (
        "AppendRowsRequest.MissingValueInterpretation",
        "MISSING_VALUE_INTERPRETATION_UNSPECIFIED",
        0,
    ),
    (
        "AppendRowsRequest.MissingValueInterpretation",
        "NULL_VALUE",
        1,
    ),
    (
        "AppendRowsRequest.MissingValueInterpretation",
        "DEFAULT_VALUE",
        2,
    ),
    (
        "StorageError.StorageErrorCode",
        "STORAGE_ERROR_CODE_UNSPECIFIED",
        0,
    ),
    ("StorageError.StorageErrorCode", "TABLE_NOT_FOUND", 1),
    (
        "StorageError.StorageErrorCode",
        "STREAM_ALREADY_COMMITTED",
        2,
    ),
    ("StorageError.StorageErrorCode", "STREAM_NOT_FOUND", 3),
    ("StorageError.StorageErrorCode", "INVALID_STREAM_TYPE", 4),
    ("StorageError.StorageErrorCode", "INVALID_STREAM_STATE", 5),
    ("StorageError.StorageErrorCode", "STREAM_FINALIZED", 6),
    (
        "StorageError.StorageErrorCode",
        "SCHEMA_MISMATCH_EXTRA_FIELDS",
        7,
    ),
    ("StorageError.StorageErrorCode", "OFFSET_ALREADY_EXISTS", 8),
    ("StorageError.StorageErrorCode", "OFFSET_OUT_OF_RANGE", 9),
    ("StorageError.StorageErrorCode", "CMEK_NOT_PROVIDED", 10),
    ("StorageError.StorageErrorCode", "INVALID_CMEK_PROVIDED", 11),
    ("StorageError.StorageErrorCode", "CMEK_ENCRYPTION_ERROR", 12),
    ("StorageError.StorageErrorCode", "KMS_SERVICE_ERROR", 13),
    ("StorageError.StorageErrorCode", "KMS_PERMISSION_DENIED", 14),
    ("RowError.RowErrorCode", "ROW_ERROR_CODE_UNSPECIFIED", 0),
    ("RowError.RowErrorCode", "FIELDS_ERROR", 1),
    ("TableFieldSchema.Type", "TYPE_UNSPECIFIED", 0),
    ("TableFieldSchema.Type", "STRING", 1),
    ("TableFieldSchema.Type", "INT64", 2),
    ("TableFieldSchema.Type", "DOUBLE", 3),
    ("TableFieldSchema.Type", "STRUCT", 4),
    ("TableFieldSchema.Type", "BYTES", 5),
    ("TableFieldSchema.Type", "BOOL", 6),
    ("TableFieldSchema.Type", "TIMESTAMP", 7),
    ("TableFieldSchema.Type", "DATE", 8),
    ("TableFieldSchema.Type", "TIME", 9),
    ("TableFieldSchema.Type", "DATETIME", 10),
    ("TableFieldSchema.Type", "GEOGRAPHY", 11),
    ("TableFieldSchema.Type", "NUMERIC", 12),
    ("TableFieldSchema.Type", "BIGNUMERIC", 13),
    ("TableFieldSchema.Type", "INTERVAL", 14),
    ("TableFieldSchema.Type", "JSON", 15),
    ("TableFieldSchema.Type", "RANGE", 16),
    ("TableFieldSchema.Mode", "MODE_UNSPECIFIED", 0),
    ("TableFieldSchema.Mode", "NULLABLE", 1),
    ("TableFieldSchema.Mode", "REQUIRED", 2),
    ("TableFieldSchema.Mode", "REPEATED", 3),
];

/// (method, input, output, client streaming, server streaming)
const METHODS: &[(&str, &str, &str, bool, bool)] = &[
    (
        "CreateWriteStream",
        "CreateWriteStreamRequest",
        "WriteStream",
        false,
        false,
    ),
    (
        "AppendRows",
        "AppendRowsRequest",
        "AppendRowsResponse",
        true,
        true,
    ),
    (
        "GetWriteStream",
        "GetWriteStreamRequest",
        "WriteStream",
        false,
        false,
    ),
    (
        "FinalizeWriteStream",
        "FinalizeWriteStreamRequest",
        "FinalizeWriteStreamResponse",
        false,
        false,
    ),
    (
        "BatchCommitWriteStreams",
        "BatchCommitWriteStreamsRequest",
        "BatchCommitWriteStreamsResponse",
        false,
        false,
    ),
    (
        "FlushRows",
        "FlushRowsRequest",
        "FlushRowsResponse",
        false,
        false,
    ),
];

fn fds() -> FileDescriptorSet {
    xtask::descriptor_set(&xtask::workspace_root()).expect("proto/ compiles")
}

/// Finds a message by its dotted path inside the package (`Outer.Inner`).
fn message<'a>(fds: &'a FileDescriptorSet, path: &str) -> &'a DescriptorProto {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or_default();
    let mut msg = fds
        .file
        .iter()
        .filter(|f| f.package() == PKG)
        .flat_map(|f| &f.message_type)
        .find(|m| m.name() == first)
        .unwrap_or_else(|| panic!("message {PKG}.{first} is missing"));
    for part in parts {
        msg = msg
            .nested_type
            .iter()
            .find(|m| m.name() == part)
            .unwrap_or_else(|| panic!("message {PKG}.{path} is missing"));
    }
    msg
}

fn enumeration<'a>(fds: &'a FileDescriptorSet, path: &str) -> &'a EnumDescriptorProto {
    match path.rsplit_once('.') {
        Some((outer, name)) => message(fds, outer)
            .enum_type
            .iter()
            .find(|e| e.name() == name),
        None => fds
            .file
            .iter()
            .filter(|f| f.package() == PKG)
            .flat_map(|f| &f.enum_type)
            .find(|e| e.name() == path),
    }
    .unwrap_or_else(|| panic!("enum {PKG}.{path} is missing"))
}

#[test]
fn every_field_has_the_official_number_type_and_label() {
    let fds = fds();
    for &(msg, field, number, ty, label, type_name) in FIELDS {
        let m = message(&fds, msg);
        let f = m
            .field
            .iter()
            .find(|f| f.name() == field)
            .unwrap_or_else(|| panic!("{msg}.{field} is missing"));
        assert_eq!(f.number(), number, "{msg}.{field} number");
        assert_eq!(f.r#type(), ty, "{msg}.{field} type");
        assert_eq!(f.label(), label, "{msg}.{field} label");
        assert_eq!(f.type_name(), type_name, "{msg}.{field} type name");
    }
}

#[test]
fn no_message_has_fields_the_table_does_not_list() {
    let fds = fds();
    let mut messages: Vec<&str> = FIELDS.iter().map(|row| row.0).collect();
    messages.dedup();
    for msg in messages {
        let listed = FIELDS.iter().filter(|row| row.0 == msg).count();
        assert_eq!(
            message(&fds, msg).field.len(),
            listed,
            "{msg} has unlisted fields"
        );
    }
}

#[test]
fn rows_and_error_are_oneofs() {
    let fds = fds();
    let req = message(&fds, "AppendRowsRequest");
    let rows: Vec<&str> = req
        .field
        .iter()
        .filter(|f| f.oneof_index.is_some())
        .map(|f| f.name())
        .collect();
    assert_eq!(rows, ["proto_rows", "arrow_rows"]);
    assert_eq!(req.oneof_decl[0].name(), "rows");
    let resp = message(&fds, "AppendRowsResponse");
    let response: Vec<&str> = resp
        .field
        .iter()
        .filter(|f| f.oneof_index.is_some())
        .map(|f| f.name())
        .collect();
    assert_eq!(response, ["append_result", "error"]);
    assert_eq!(resp.oneof_decl[0].name(), "response");
}

#[test]
fn every_enum_value_has_the_official_number() {
    let fds = fds();
    for &(en, name, number) in ENUM_VALUES {
        let e = enumeration(&fds, en);
        let v = e
            .value
            .iter()
            .find(|v| v.name() == name)
            .unwrap_or_else(|| panic!("{en}.{name} is missing"));
        assert_eq!(v.number(), number, "{en}.{name}");
    }
    let mut enums: Vec<&str> = ENUM_VALUES.iter().map(|row| row.0).collect();
    enums.dedup();
    for en in enums {
        let listed = ENUM_VALUES.iter().filter(|row| row.0 == en).count();
        assert_eq!(
            enumeration(&fds, en).value.len(),
            listed,
            "{en} has unlisted values"
        );
    }
}

#[test]
fn the_service_has_the_six_methods() {
    let fds = fds();
    let service = fds
        .file
        .iter()
        .flat_map(|f| &f.service)
        .find(|s| s.name() == "BigQueryWrite")
        .expect("service BigQueryWrite");
    assert_eq!(service.method.len(), METHODS.len());
    for &(name, input, output, client_streaming, server_streaming) in METHODS {
        let m = service
            .method
            .iter()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("method {name} is missing"));
        assert_eq!(m.input_type(), format!(".{PKG}.{input}"), "{name} input");
        assert_eq!(m.output_type(), format!(".{PKG}.{output}"), "{name} output");
        assert_eq!(
            m.client_streaming(),
            client_streaming,
            "{name} client streaming"
        );
        assert_eq!(
            m.server_streaming(),
            server_streaming,
            "{name} server streaming"
        );
    }
}

#[test]
fn status_and_column_name_option() {
    let fds = fds();
    let status = fds
        .file
        .iter()
        .filter(|f| f.package() == "google.rpc")
        .flat_map(|f| &f.message_type)
        .find(|m| m.name() == "Status")
        .expect("google.rpc.Status");
    let fields: Vec<(&str, i32, Type, Label)> = status
        .field
        .iter()
        .map(|f| (f.name(), f.number(), f.r#type(), f.label()))
        .collect();
    assert_eq!(
        fields,
        [
            ("code", 1, INT32, Opt),
            ("message", 2, STR, Opt),
            ("details", 3, MSG, Rep)
        ]
    );
    let ext = fds
        .file
        .iter()
        .flat_map(|f| &f.extension)
        .find(|e| e.name() == "column_name")
        .expect("extension column_name");
    assert_eq!(ext.number(), 454_943_157);
    assert_eq!(ext.extendee(), ".google.protobuf.FieldOptions");
    assert_eq!(ext.r#type(), STR);
}

#[test]
fn checked_in_generated_code_is_fresh() {
    let stale = xtask::stale_files(&xtask::workspace_root()).expect("codegen runs");
    assert!(
        stale.is_empty(),
        "generated code is stale ({}): run `cargo run -p xtask -- codegen`",
        stale.join(", ")
    );
}
