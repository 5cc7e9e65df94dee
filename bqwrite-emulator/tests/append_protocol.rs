//! The AppendRows protocol: offsets, the first request's duties, one response
//! per request in order, many connections, the request size limit, the
//! routing header and shutdown. The writer schema checks are in
//! `writer_schema.rs`.
mod common;

use bqwrite::proto::storage::{
    CreateWriteStreamRequest, FinalizeWriteStreamRequest, WriteStream,
    big_query_write_client::BigQueryWriteClient, storage_error::StorageErrorCode, write_stream,
};
use bqwrite_emulator::Emulator;
use common::*;
use tonic::Code;

#[tokio::test]
async fn offsets_already_written_or_beyond_the_end_are_in_band_and_the_connection_survives() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    let rows = || vec![seed_row(1, "a"), seed_row(2, "b")];
    let first = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            rows(),
        ))
        .await;
    assert_eq!(ok_offset(&first), Some(0));

    let again = conn.append(append_request("", Some(0), None, rows())).await;
    assert_in_band(
        &again,
        Code::AlreadyExists,
        Some(StorageErrorCode::OffsetAlreadyExists),
    );
    let inside = conn.append(append_request("", Some(1), None, rows())).await;
    assert_in_band(
        &inside,
        Code::AlreadyExists,
        Some(StorageErrorCode::OffsetAlreadyExists),
    );
    let beyond = conn.append(append_request("", Some(3), None, rows())).await;
    assert_in_band(
        &beyond,
        Code::OutOfRange,
        Some(StorageErrorCode::OffsetOutOfRange),
    );
    let storage = unpack_storage_error(in_band_error(&beyond)).unwrap();
    assert_eq!(storage.entity, stream.name);

    let next = conn.append(append_request("", Some(2), None, rows())).await;
    assert_eq!(ok_offset(&next), Some(2));
    conn.close().await.unwrap();
    let count = bounded(
        "finalize",
        client.finalize_write_stream(FinalizeWriteStreamRequest {
            name: stream.name.clone(),
        }),
    )
    .await
    .unwrap()
    .into_inner()
    .row_count;
    assert_eq!(count, 4, "rejected requests wrote nothing");
    emu.shutdown().await;
}

#[tokio::test]
async fn first_request_must_name_the_stream() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(append_request(
            "",
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(in_band_error(&response).message.contains("write_stream"));
    let response = conn
        .append(append_request(
            &stream.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn first_request_must_carry_the_writer_schema() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(append_request(
            &stream.name,
            None,
            None,
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(in_band_error(&response).message.contains("writer_schema"));
    let response = conn
        .append(append_request(
            "",
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    // later requests may omit both
    let response = conn
        .append(append_request("", None, None, vec![seed_row(2, "b")]))
        .await;
    assert_eq!(ok_offset(&response), Some(1));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_later_request_naming_another_stream_is_rejected() {
    let (emu, mut client) = seeded().await;
    let a = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let b = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    ok_offset(
        &conn
            .append(append_request(
                &a.name,
                None,
                Some(seed_descriptor()),
                vec![seed_row(1, "a")],
            ))
            .await,
    );
    let response = conn
        .append(append_request(&b.name, None, None, vec![seed_row(2, "b")]))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    let response = conn
        .append(append_request(&a.name, None, None, vec![seed_row(3, "c")]))
        .await;
    assert_eq!(
        ok_offset(&response),
        Some(1),
        "naming the same stream again is fine"
    );
    assert_eq!(emu.row_count(TABLE).unwrap(), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn one_response_per_request_in_request_order() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    // pipeline 40 requests without waiting; request 20 repeats offset 19
    let mut expected = Vec::new();
    let mut next = 0i64;
    for i in 0..40i64 {
        let schema = (i == 0).then(seed_descriptor);
        let name = if i == 0 { stream.name.as_str() } else { "" };
        if i == 20 {
            conn.send(append_request(
                name,
                Some(next - 1),
                schema,
                vec![seed_row(i, "dup")],
            ))
            .await;
            expected.push(None);
        } else {
            conn.send(append_request(
                name,
                Some(next),
                schema,
                vec![seed_row(i, "x")],
            ))
            .await;
            expected.push(Some(next));
            next += 1;
        }
    }
    for (i, want) in expected.into_iter().enumerate() {
        let response = conn.recv().await.unwrap().expect("a response per request");
        match want {
            Some(offset) => assert_eq!(ok_offset(&response), Some(offset), "response {i}"),
            None => assert_in_band(
                &response,
                Code::AlreadyExists,
                Some(StorageErrorCode::OffsetAlreadyExists),
            ),
        }
    }
    conn.close().await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn sixty_four_concurrent_connections() {
    let (emu, _client) = seeded().await;
    let mut conns = Vec::new();
    for _ in 0..64 {
        // a connection (and channel) each, all open before anything is sent
        let mut own = BigQueryWriteClient::connect(emu.grpc_endpoint())
            .await
            .unwrap();
        let stream = create_stream(&mut own, TABLE, write_stream::Type::Committed).await;
        let conn = Conn::open(&mut own).await;
        conns.push((own, stream.name, conn));
    }
    let mut tasks = Vec::new();
    for (n, (own, name, mut conn)) in conns.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..10i64 {
                let schema = (i == 0).then(seed_descriptor);
                let row = seed_row(n as i64 * 100 + i, "c");
                let response = conn
                    .append(append_request(&name, Some(i), schema, vec![row]))
                    .await;
                assert_eq!(ok_offset(&response), Some(i));
            }
            conn.close().await.unwrap();
            drop(own);
        }));
    }
    for task in tasks {
        bounded("connection task", task).await.unwrap();
    }
    assert_eq!(emu.row_count(TABLE).unwrap(), 640);
    emu.shutdown().await;
}

#[tokio::test]
async fn an_oversize_first_request_is_refused_in_band_and_its_schema_is_bound() {
    let (emu, mut client) = seeded_with(Emulator::builder().max_request_bytes(64 * 1024)).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    let big = "x".repeat(70 * 1024);
    let response = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, &big)],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    let message = &in_band_error(&response).message;
    assert!(
        message.starts_with("AppendRows request too large: ")
            && message.ends_with(&format!(" limit 65536 Entity: {}", stream.name)),
        "{message}"
    );
    // the next request goes without a schema, as a client that sends it on
    // a connection's first request only (Go's managedwriter) sends it
    let response = conn
        .append(append_request(
            "",
            Some(0),
            None,
            vec![seed_row(1, "small")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn the_default_limit_is_ten_mebibytes_and_answered_in_band() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    let chunk = "y".repeat(1024 * 1024);
    let rows: Vec<Vec<u8>> = (0..11).map(|i| seed_row(i, &chunk)).collect();
    let response = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            rows,
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    let rows: Vec<Vec<u8>> = (0..9).map(|i| seed_row(i, &chunk)).collect();
    let response = conn
        .append(append_request("", Some(0), Some(seed_descriptor()), rows))
        .await;
    assert_eq!(ok_offset(&response), Some(0), "9 MiB fits");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_routing_header_naming_another_stream_is_rejected() {
    let (emu, mut client) = seeded().await;
    let a = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let b = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open_with_header(&mut client, Some(&b.name)).await;
    let response = conn
        .append(append_request(
            &a.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(
        in_band_error(&response)
            .message
            .contains("x-goog-request-params")
    );
    let response = conn
        .append(append_request(
            &b.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn strict_routing_mode_requires_the_header() {
    let (emu, mut client) = seeded_with(Emulator::builder().require_routing_header(true)).await;
    let request = || CreateWriteStreamRequest {
        parent: TABLE.into(),
        write_stream: Some(WriteStream {
            r#type: write_stream::Type::Committed as i32,
            ..Default::default()
        }),
    };
    let err = bounded("create", client.create_write_stream(request()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("x-goog-request-params"));
    let mut with_header = tonic::Request::new(request());
    with_header.metadata_mut().insert(
        "x-goog-request-params",
        format!("parent={}", TABLE.replace('/', "%2F"))
            .parse()
            .unwrap(),
    );
    let stream = bounded("create", client.create_write_stream(with_header))
        .await
        .unwrap()
        .into_inner();

    let err = Conn::try_open(&mut client, None)
        .await
        .err()
        .expect("AppendRows without the header fails");
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut conn = Conn::open_with_header(&mut client, Some(&stream.name)).await;
    let response = conn
        .append(append_request(
            &stream.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_connections_with_unavailable() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    ok_offset(
        &conn
            .append(append_request(
                &stream.name,
                None,
                Some(seed_descriptor()),
                vec![seed_row(1, "a")],
            ))
            .await,
    );
    let shutdown = tokio::spawn(emu.shutdown());
    let end = conn.recv().await.expect_err("the call ends with a status");
    assert_eq!(end.code(), Code::Unavailable);
    bounded("shutdown", shutdown).await.unwrap();
}
