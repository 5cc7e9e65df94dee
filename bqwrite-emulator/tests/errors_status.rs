//! One test per status row of the error table in
//! `bqwrite_emulator::docs::errors`: the errors that end an AppendRows call
//! and those of unary calls, with their gRPC code, their StorageError (in
//! `grpc-status-details-bin` and the `storageerror-bin` trailer) and their
//! message. The in-band answers are in `errors_in_band.rs`.

mod common;

use bqwrite::proto::storage::{
    BatchCommitWriteStreamsRequest, CreateWriteStreamRequest, FinalizeWriteStreamRequest,
    FlushRowsRequest, GetWriteStreamRequest, WriteStream, storage_error::StorageErrorCode,
    write_stream,
};
use bqwrite_emulator::Emulator;
use common::*;
use prost_types::field_descriptor_proto::{Label, Type as PType};
use tonic::Code;

// ---- AppendRows, ending the call -------------------------------------------

#[tokio::test]
async fn ends_the_call_writer_schema_with_extra_fields() {
    let (emu, mut client) = seeded().await;
    let (stream, mut conn) = open_stream(&mut client, write_stream::Type::Committed).await;
    let mut extra = seed_descriptor();
    extra
        .field
        .push(field("nickname", 3, PType::String, Label::Optional));
    conn.send(append_request(
        "",
        Some(1),
        Some(extra),
        vec![seed_row(2, "b")],
    ))
    .await;
    let status = call_end(&mut conn).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        format!(
            "Input schema has more fields than BigQuery schema, extra fields: 'nickname' Entity: {}",
            stream.name
        )
    );
    assert_storage_error(
        &status,
        StorageErrorCode::SchemaMismatchExtraFields,
        &stream.name,
        "Schema mismatch due to extra fields in user schema",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn ends_the_call_missing_routing_header_in_strict_mode() {
    let emu = Emulator::builder()
        .require_routing_header(true)
        .start()
        .await
        .unwrap();
    let mut client = client(&emu).await;
    let status = match Conn::try_open(&mut client, None).await {
        Err(status) => status,
        Ok(mut conn) => {
            conn.send(append_request(
                &default_stream(),
                None,
                Some(seed_descriptor()),
                vec![],
            ))
            .await;
            call_end(&mut conn).await
        }
    };
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "missing x-goog-request-params routing header (the emulator runs in strict routing mode; expected write_stream=...)"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn ends_the_call_shutdown() {
    let (emu, mut client) = seeded().await;
    let (_stream, mut conn) = open_stream(&mut client, write_stream::Type::Committed).await;
    emu.shutdown().await;
    let status = call_end(&mut conn).await;
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.message(), "the emulator is shutting down");
}

// ---- Unary calls -------------------------------------------------------------

#[tokio::test]
async fn unary_table_not_found() {
    let (emu, mut client) = seeded().await;
    let gone = "projects/test-project/datasets/d/tables/gone";
    let message = format!("Table not found: {gone}");
    let created = bounded(
        "create",
        client.create_write_stream(CreateWriteStreamRequest {
            parent: gone.into(),
            write_stream: Some(WriteStream {
                r#type: write_stream::Type::Pending as i32,
                ..Default::default()
            }),
        }),
    )
    .await;
    assert_unary(
        created,
        Code::NotFound,
        Some(StorageErrorCode::TableNotFound),
        &message,
    );
    let committed = bounded(
        "commit",
        client.batch_commit_write_streams(BatchCommitWriteStreamsRequest {
            parent: gone.into(),
            write_streams: vec![format!("{gone}/streams/s")],
        }),
    )
    .await;
    assert_unary(
        committed,
        Code::NotFound,
        Some(StorageErrorCode::TableNotFound),
        &message,
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn unary_stream_not_found() {
    let (emu, mut client) = seeded().await;
    let name = format!("{TABLE}/streams/nope");
    let message = format!("Stream not found: {name}");
    let got = bounded(
        "get",
        client.get_write_stream(GetWriteStreamRequest {
            name: name.clone(),
            view: 0,
        }),
    )
    .await;
    assert_unary(
        got,
        Code::NotFound,
        Some(StorageErrorCode::StreamNotFound),
        &message,
    );
    let finalized = bounded(
        "finalize",
        client.finalize_write_stream(FinalizeWriteStreamRequest { name: name.clone() }),
    )
    .await;
    assert_unary(
        finalized,
        Code::NotFound,
        Some(StorageErrorCode::StreamNotFound),
        &message,
    );
    let flushed = bounded(
        "flush",
        client.flush_rows(FlushRowsRequest {
            write_stream: name.clone(),
            offset: Some(0),
        }),
    )
    .await;
    assert_unary(
        flushed,
        Code::NotFound,
        Some(StorageErrorCode::StreamNotFound),
        &message,
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn unary_invalid_arguments() {
    let (emu, mut client) = seeded().await;
    let untyped = bounded(
        "create",
        client.create_write_stream(CreateWriteStreamRequest {
            parent: TABLE.into(),
            write_stream: None,
        }),
    )
    .await;
    assert_unary(
        untyped,
        Code::InvalidArgument,
        None,
        "write_stream.type must be COMMITTED, PENDING or BUFFERED",
    );
    let bad_parent = bounded(
        "create",
        client.create_write_stream(CreateWriteStreamRequest {
            parent: "tables/t".into(),
            write_stream: None,
        }),
    )
    .await;
    assert_unary(
        bad_parent,
        Code::InvalidArgument,
        None,
        "invalid parent \"tables/t\": expected projects/{project}/datasets/{dataset}/tables/{table}",
    );
    let empty_commit = bounded(
        "commit",
        client.batch_commit_write_streams(BatchCommitWriteStreamsRequest {
            parent: TABLE.into(),
            write_streams: vec![],
        }),
    )
    .await;
    assert_unary(
        empty_commit,
        Code::InvalidArgument,
        None,
        "BatchCommitWriteStreams needs at least one stream",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn unary_invalid_stream_type() {
    let (emu, mut client) = seeded().await;
    let finalized = bounded(
        "finalize",
        client.finalize_write_stream(FinalizeWriteStreamRequest {
            name: default_stream(),
        }),
    )
    .await;
    assert_unary(
        finalized,
        Code::InvalidArgument,
        Some(StorageErrorCode::InvalidStreamType),
        &format!(
            "the _default stream cannot be finalized: {}",
            default_stream()
        ),
    );
    let pending = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let flushed = bounded(
        "flush",
        client.flush_rows(FlushRowsRequest {
            write_stream: pending.name.clone(),
            offset: Some(0),
        }),
    )
    .await;
    assert_unary(
        flushed,
        Code::InvalidArgument,
        Some(StorageErrorCode::InvalidStreamType),
        &format!("FlushRows needs a BUFFERED stream: {}", pending.name),
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn unary_flush_offset_out_of_range() {
    let (emu, mut client) = seeded().await;
    let (stream, _conn) = open_stream(&mut client, write_stream::Type::Buffered).await;
    let flushed = bounded(
        "flush",
        client.flush_rows(FlushRowsRequest {
            write_stream: stream.name.clone(),
            offset: Some(5),
        }),
    )
    .await;
    assert_unary(
        flushed,
        Code::OutOfRange,
        Some(StorageErrorCode::OffsetOutOfRange),
        "flush offset 5 is outside the stream's rows 0..1",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn unary_batch_commit_stream_errors_are_not_a_status() {
    let (emu, mut client) = seeded().await;
    let (stream, _conn) = open_stream(&mut client, write_stream::Type::Pending).await;
    let response = bounded(
        "commit",
        client.batch_commit_write_streams(BatchCommitWriteStreamsRequest {
            parent: TABLE.into(),
            write_streams: vec![stream.name.clone()],
        }),
    )
    .await
    .expect("the call succeeds")
    .into_inner();
    assert!(response.commit_time.is_none());
    let codes: Vec<i32> = response.stream_errors.iter().map(|e| e.code).collect();
    assert_eq!(codes, vec![StorageErrorCode::InvalidStreamState as i32]);
    assert_eq!(
        response.stream_errors[0].error_message,
        format!("Stream is not finalized: {}", stream.name)
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn unary_routing_header_missing_in_strict_mode_or_naming_another_resource() {
    let (emu, mut client) = seeded_with(Emulator::builder().require_routing_header(true)).await;
    let missing = bounded(
        "get",
        client.get_write_stream(GetWriteStreamRequest {
            name: default_stream(),
            view: 0,
        }),
    )
    .await
    .expect_err("refused");
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(
        missing.message(),
        "missing x-goog-request-params routing header (the emulator runs in strict routing mode; expected name=...)"
    );
    let mut request = tonic::Request::new(GetWriteStreamRequest {
        name: default_stream(),
        view: 0,
    });
    request.metadata_mut().insert(
        "x-goog-request-params",
        "name=projects%2Fother".parse().unwrap(),
    );
    let other = bounded("get", client.get_write_stream(request))
        .await
        .expect_err("refused");
    assert_eq!(other.code(), Code::InvalidArgument);
    assert_eq!(
        other.message(),
        format!(
            "x-goog-request-params routes to \"projects/other\" but the request names {:?}",
            default_stream()
        )
    );
    emu.shutdown().await;
}
