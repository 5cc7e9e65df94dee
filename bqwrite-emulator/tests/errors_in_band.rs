//! One test per in-band row of the error table in
//! `bqwrite_emulator::docs::errors`: for each error the emulator answers
//! in-band on an AppendRows call, its gRPC code, its StorageError and its
//! message. The errors that end the call or a unary call are in
//! `errors_status.rs`.

mod common;

use bqwrite::proto::storage::{
    AppendRowsRequest, BatchCommitWriteStreamsRequest, FinalizeWriteStreamRequest,
    append_rows_request::{ArrowData, Rows},
    storage_error::StorageErrorCode,
    write_stream,
};
use bqwrite_emulator::Emulator;
use common::*;
use prost_types::field_descriptor_proto::{Label, Type as PType};
use tonic::Code;

// ---- AppendRows, answered in-band ------------------------------------------

#[tokio::test]
async fn in_band_offset_already_written() {
    let (emu, mut client) = seeded().await;
    let (stream, mut conn) = open_stream(&mut client, write_stream::Type::Pending).await;
    let response = conn
        .append(append_request("", Some(0), None, vec![seed_row(2, "b")]))
        .await;
    assert_answer(
        &response,
        Code::AlreadyExists,
        Some(StorageErrorCode::OffsetAlreadyExists),
        "The offset is within stream, expected offset 1, received 0",
    );
    assert_eq!(
        unpack_storage_error(in_band_error(&response))
            .unwrap()
            .entity,
        stream.name
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_offset_beyond_the_end() {
    let (emu, mut client) = seeded().await;
    let (_stream, mut conn) = open_stream(&mut client, write_stream::Type::Committed).await;
    let response = conn
        .append(append_request("", Some(100), None, vec![seed_row(2, "b")]))
        .await;
    assert_answer(
        &response,
        Code::OutOfRange,
        Some(StorageErrorCode::OffsetOutOfRange),
        "The offset is beyond stream, expected offset 1, received 100",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_offset_on_the_default_stream() {
    let (emu, mut client) = seeded().await;
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(append_request(
            &default_stream(),
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        &format!(
            "offset 0 was given for the _default stream {}, which takes no offsets",
            default_stream()
        ),
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_bad_rows() {
    let (emu, mut client) = seeded().await;
    let (stream, mut conn) = open_stream(&mut client, write_stream::Type::Committed).await;
    let missing_id = Enc::new().string(2, "no id").done();
    let response = conn
        .append(append_request(
            "",
            Some(1),
            None,
            vec![seed_row(2, "b"), missing_id],
        ))
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        &format!(
            "Errors found while processing rows. Please refer to the row_errors field for details. The list may not be complete because of the size limitations. Entity: {}",
            stream.name
        ),
    );
    let indexes: Vec<i64> = response.row_errors.iter().map(|e| e.index).collect();
    assert_eq!(indexes, vec![1]);
    assert!(response.row_errors[0].message.contains("column `id`"));
    assert_eq!(
        emu.row_count(TABLE).unwrap(),
        1,
        "the whole request is refused"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_no_rows() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    // an empty first request: answered in-band, its schema still bound
    let response = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![],
        ))
        .await;
    let message = format!("Rows must be specified. Entity: {}", stream.name);
    assert_answer(&response, Code::InvalidArgument, None, &message);
    // no proto_rows at all
    let response = conn
        .append(AppendRowsRequest {
            offset: Some(0),
            ..Default::default()
        })
        .await;
    assert_answer(&response, Code::InvalidArgument, None, &message);
    let response = conn
        .append(append_request("", Some(0), None, vec![seed_row(1, "a")]))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_request_too_large() {
    let (emu, mut client) = seeded_with(Emulator::builder().max_request_bytes(4096)).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    let request = append_request(
        &stream.name,
        Some(0),
        Some(seed_descriptor()),
        vec![seed_row(1, &"x".repeat(5000))],
    );
    let size = prost::Message::encoded_len(&request);
    let response = conn.append(request).await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        &format!(
            "AppendRows request too large: {size} limit 4096 Entity: {}",
            stream.name
        ),
    );
    let response = conn
        .append(append_request("", Some(0), None, vec![seed_row(1, "a")]))
        .await;
    assert_eq!(
        ok_offset(&response),
        Some(0),
        "the refused request's schema is bound"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_stream_finalized() {
    let (emu, mut client) = seeded().await;
    let (stream, mut conn) = open_stream(&mut client, write_stream::Type::Committed).await;
    bounded(
        "finalize",
        client.finalize_write_stream(FinalizeWriteStreamRequest {
            name: stream.name.clone(),
        }),
    )
    .await
    .unwrap();
    let response = conn
        .append(append_request("", Some(1), None, vec![seed_row(2, "b")]))
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        Some(StorageErrorCode::StreamFinalized),
        &format!(
            "Stream has been finalized and cannot be appended. Entity: {}",
            stream.name
        ),
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_stream_already_committed() {
    let (emu, mut client) = seeded().await;
    let (stream, mut conn) = open_stream(&mut client, write_stream::Type::Pending).await;
    bounded(
        "finalize",
        client.finalize_write_stream(FinalizeWriteStreamRequest {
            name: stream.name.clone(),
        }),
    )
    .await
    .unwrap();
    bounded(
        "commit",
        client.batch_commit_write_streams(BatchCommitWriteStreamsRequest {
            parent: TABLE.into(),
            write_streams: vec![stream.name.clone()],
        }),
    )
    .await
    .unwrap();
    let response = conn
        .append(append_request("", Some(1), None, vec![seed_row(2, "b")]))
        .await;
    assert_answer(
        &response,
        Code::FailedPrecondition,
        Some(StorageErrorCode::StreamAlreadyCommitted),
        &format!("Stream is already committed: {}", stream.name),
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_second_connection_to_an_application_stream() {
    let (emu, mut client) = seeded().await;
    let (stream, _first) = open_stream(&mut client, write_stream::Type::Committed).await;
    let mut second = Conn::open(&mut client).await;
    let response = second
        .append(append_request(
            &stream.name,
            Some(1),
            Some(seed_descriptor()),
            vec![seed_row(2, "b")],
        ))
        .await;
    assert_in_band(&response, Code::FailedPrecondition, None);
    assert!(in_band_error(&response).message.starts_with(&format!(
        "stream {} already has an active AppendRows connection",
        stream.name
    )));
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_first_request_without_write_stream() {
    let (emu, mut client) = seeded().await;
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(append_request(
            "",
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        "the first request of an AppendRows connection must set write_stream",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_first_request_without_writer_schema() {
    let (emu, mut client) = seeded().await;
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(append_request(
            &default_stream(),
            None,
            None,
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        "the first request of an AppendRows connection must carry proto_rows.writer_schema",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_writer_schema_without_a_descriptor() {
    let (emu, mut client) = seeded().await;
    let mut conn = Conn::open(&mut client).await;
    let mut request = append_request(&default_stream(), None, None, vec![seed_row(1, "a")]);
    if let Some(Rows::ProtoRows(data)) = &mut request.rows {
        data.writer_schema = Some(Default::default());
    }
    let response = conn.append(request).await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        "proto_rows.writer_schema has no proto_descriptor",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_arrow_rows() {
    let (emu, mut client) = seeded().await;
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(AppendRowsRequest {
            write_stream: default_stream(),
            rows: Some(Rows::ArrowRows(ArrowData::default())),
            ..Default::default()
        })
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        "arrow_rows are not supported by the emulator; send proto_rows",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_bad_missing_value_interpretations() {
    let (emu, mut client) = seeded().await;
    let mut conn = Conn::open(&mut client).await;
    for (column, value, message) in [
        (
            "nope",
            2,
            "missing_value_interpretations names \"nope\", which is not a column of the table",
        ),
        (
            "name",
            0,
            "missing_value_interpretations[\"name\"] is MISSING_VALUE_INTERPRETATION_UNSPECIFIED; use NULL_VALUE or DEFAULT_VALUE",
        ),
    ] {
        let mut request = append_request(
            &default_stream(),
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        );
        request
            .missing_value_interpretations
            .insert(column.into(), value);
        let response = conn.append(request).await;
        assert_answer(&response, Code::InvalidArgument, None, message);
    }
    let mut request = append_request(
        &default_stream(),
        None,
        Some(seed_descriptor()),
        vec![seed_row(1, "a")],
    );
    request.default_missing_value_interpretation = 9;
    let response = conn.append(request).await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        "default_missing_value_interpretation has the unknown value 9",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_a_later_request_naming_another_stream() {
    let (emu, mut client) = seeded().await;
    let (stream, mut conn) = open_stream(&mut client, write_stream::Type::Committed).await;
    let response = conn
        .append(append_request(
            &default_stream(),
            None,
            None,
            vec![seed_row(2, "b")],
        ))
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        &format!(
            "this connection writes to {}; a request names {}: only `_default` streams may share \
             an AppendRows connection, open a new connection per application-created stream",
            stream.name,
            default_stream()
        ),
    );
    // and the other way: a connection carrying `_default` refuses an explicit stream
    let mut conn = Conn::open(&mut client).await;
    ok_offset(
        &conn
            .append(append_request(
                &default_stream(),
                None,
                Some(seed_descriptor()),
                vec![seed_row(2, "b")],
            ))
            .await,
    );
    let response = conn
        .append(append_request(
            &stream.name,
            Some(1),
            None,
            vec![seed_row(3, "c")],
        ))
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        &format!(
            "this connection writes to {}; a request names {}: only `_default` streams may share \
             an AppendRows connection, open a new connection per application-created stream",
            default_stream(),
            stream.name,
        ),
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_write_location_of_another_project() {
    let (emu, mut client) = seeded().await;
    let mut conn = Conn::open_at_location(&mut client, "other-project", "US").await;
    let response = conn
        .append(append_request(
            &default_stream(),
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        &format!(
            "x-goog-request-params routes to location projects/other-project/locations/US but \
             the request names \"{}\" of another project",
            default_stream()
        ),
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_routing_header_naming_another_stream() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open_with_header(&mut client, Some(&default_stream())).await;
    let response = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_answer(
        &response,
        Code::InvalidArgument,
        None,
        &format!(
            "x-goog-request-params routes to {:?} but the request names {:?}",
            default_stream(),
            stream.name
        ),
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_unknown_stream_table_or_name() {
    let (emu, mut client) = seeded().await;
    let cases = [
        (
            format!("{TABLE}/streams/nope"),
            Code::NotFound,
            Some(StorageErrorCode::StreamNotFound),
            format!("Stream not found: {TABLE}/streams/nope"),
        ),
        (
            "projects/test-project/datasets/d/tables/gone/streams/_default".to_string(),
            Code::NotFound,
            Some(StorageErrorCode::TableNotFound),
            "Table not found: projects/test-project/datasets/d/tables/gone".to_string(),
        ),
        (
            "not/a/stream".to_string(),
            Code::InvalidArgument,
            None,
            "invalid stream name \"not/a/stream\": expected projects/{project}/datasets/{dataset}/tables/{table}/streams/{id}".to_string(),
        ),
    ];
    for (name, code, storage, message) in cases {
        let mut conn = Conn::open(&mut client).await;
        let response = conn
            .append(append_request(
                &name,
                None,
                Some(seed_descriptor()),
                vec![seed_row(1, "a")],
            ))
            .await;
        assert_answer(&response, code, storage, &message);
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn in_band_invalid_writer_schema() {
    let (emu, mut client) = seeded().await;
    let mut conn = Conn::open(&mut client).await;
    let wrong_type = message(
        "SeedRow",
        vec![
            field("id", 1, PType::String, Label::Required),
            field("name", 2, PType::String, Label::Optional),
        ],
    );
    let response = conn
        .append(append_request(
            &default_stream(),
            None,
            Some(wrong_type),
            vec![],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(
        in_band_error(&response).message.starts_with(&format!(
            "invalid writer_schema for table {TABLE}: column `id` is INT64"
        )),
        "{:?}",
        in_band_error(&response)
    );
    emu.shutdown().await;
}
