//! Stream lifecycles and the unary calls: CreateWriteStream, GetWriteStream,
//! FinalizeWriteStream, BatchCommitWriteStreams, FlushRows, and the stream
//! state errors of AppendRows.

mod common;

use bqwrite::proto::storage::{
    BatchCommitWriteStreamsRequest, CreateWriteStreamRequest, FinalizeWriteStreamRequest,
    FlushRowsRequest, GetWriteStreamRequest, WriteStream, WriteStreamView,
    big_query_write_client::BigQueryWriteClient, storage_error::StorageErrorCode, write_stream,
};
use bqwrite_emulator::Value;
use common::*;
use tonic::Code;
use tonic::transport::Channel;

async fn finalize(
    client: &mut BigQueryWriteClient<Channel>,
    name: &str,
) -> Result<i64, tonic::Status> {
    bounded(
        "finalize",
        client.finalize_write_stream(FinalizeWriteStreamRequest { name: name.into() }),
    )
    .await
    .map(|r| r.into_inner().row_count)
}

async fn commit(
    client: &mut BigQueryWriteClient<Channel>,
    table: &str,
    streams: &[&str],
) -> Result<bqwrite::proto::storage::BatchCommitWriteStreamsResponse, tonic::Status> {
    bounded(
        "commit",
        client.batch_commit_write_streams(BatchCommitWriteStreamsRequest {
            parent: table.into(),
            write_streams: streams.iter().map(|s| s.to_string()).collect(),
        }),
    )
    .await
    .map(|r| r.into_inner())
}

/// Appends `rows` seed rows on a fresh connection at `offset`.
async fn append_seed(
    client: &mut BigQueryWriteClient<Channel>,
    stream: &str,
    offset: Option<i64>,
    ids: &[i64],
) -> bqwrite::proto::storage::AppendRowsResponse {
    let mut conn = Conn::open(client).await;
    let rows = ids.iter().map(|&id| seed_row(id, "x")).collect();
    conn.append(append_request(
        stream,
        offset,
        Some(seed_descriptor()),
        rows,
    ))
    .await
}

#[tokio::test]
async fn create_stream_on_missing_table_is_table_not_found() {
    let (emu, mut client) = seeded().await;
    let err = bounded(
        "create",
        client.create_write_stream(CreateWriteStreamRequest {
            parent: "projects/test-project/datasets/d/tables/missing".into(),
            write_stream: Some(WriteStream {
                r#type: write_stream::Type::Pending as i32,
                ..Default::default()
            }),
        }),
    )
    .await
    .unwrap_err();
    assert_status(&err, Code::NotFound, Some(StorageErrorCode::TableNotFound));
    emu.shutdown().await;
}

#[tokio::test]
async fn create_stream_needs_a_type() {
    let (emu, mut client) = seeded().await;
    let err = bounded(
        "create",
        client.create_write_stream(CreateWriteStreamRequest {
            parent: TABLE.into(),
            write_stream: Some(WriteStream::default()),
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    emu.shutdown().await;
}

#[tokio::test]
async fn get_write_stream_basic_and_full_views() {
    let (emu, mut client) = seeded().await;
    let created = create_stream(&mut client, TABLE, write_stream::Type::Buffered).await;
    assert!(created.create_time.is_some());
    for (view, with_schema) in [
        (WriteStreamView::Unspecified, false),
        (WriteStreamView::Basic, false),
        (WriteStreamView::Full, true),
    ] {
        let got = bounded(
            "get",
            client.get_write_stream(GetWriteStreamRequest {
                name: created.name.clone(),
                view: view as i32,
            }),
        )
        .await
        .unwrap()
        .into_inner();
        assert_eq!(got.name, created.name);
        assert_eq!(got.r#type, write_stream::Type::Buffered as i32);
        assert_eq!(got.table_schema.is_some(), with_schema, "view {view:?}");
        if with_schema {
            assert_eq!(got.table_schema.unwrap(), seed_schema());
        }
    }
    // the default stream always exists, with committed semantics
    let default = bounded(
        "get default",
        client.get_write_stream(GetWriteStreamRequest {
            name: format!("{TABLE}/streams/_default"),
            view: WriteStreamView::Basic as i32,
        }),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(default.r#type, write_stream::Type::Committed as i32);
    // as BigQuery reports it: no create_time, no commit_time
    assert_eq!((default.create_time, default.commit_time), (None, None));
    emu.shutdown().await;
}

async fn get_stream(client: &mut BigQueryWriteClient<Channel>, name: &str) -> WriteStream {
    bounded(
        "get",
        client.get_write_stream(GetWriteStreamRequest {
            name: name.into(),
            view: WriteStreamView::Basic as i32,
        }),
    )
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn a_committed_stream_reports_its_create_time_as_its_commit_time() {
    let (emu, mut client) = seeded().await;
    let created = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    assert!(created.create_time.is_some());
    assert_eq!(created.commit_time, created.create_time);
    ok_offset(&append_seed(&mut client, &created.name, Some(0), &[1]).await);
    let got = get_stream(&mut client, &created.name).await;
    assert_eq!(got.create_time, created.create_time);
    assert_eq!(got.commit_time, created.create_time);
    // PENDING and BUFFERED streams have none until they are committed
    for ty in [write_stream::Type::Pending, write_stream::Type::Buffered] {
        let created = create_stream(&mut client, TABLE, ty).await;
        let got = get_stream(&mut client, &created.name).await;
        assert!(got.create_time.is_some(), "{ty:?}");
        assert_eq!(got.commit_time, None, "{ty:?}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_stream_is_stream_not_found_and_unknown_table_is_table_not_found() {
    let (emu, mut client) = seeded().await;
    let err = bounded(
        "get",
        client.get_write_stream(GetWriteStreamRequest {
            name: format!("{TABLE}/streams/nope"),
            view: 0,
        }),
    )
    .await
    .unwrap_err();
    assert_status(&err, Code::NotFound, Some(StorageErrorCode::StreamNotFound));
    let err = finalize(
        &mut client,
        "projects/test-project/datasets/d/tables/gone/streams/s",
    )
    .await
    .unwrap_err();
    assert_status(&err, Code::NotFound, Some(StorageErrorCode::TableNotFound));
    // in-band on AppendRows, and the connection stays usable
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(append_request(
            &format!("{TABLE}/streams/nope"),
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(
        &response,
        Code::NotFound,
        Some(StorageErrorCode::StreamNotFound),
    );
    let default = format!("{TABLE}/streams/_default");
    let response = conn
        .append(append_request(
            &default,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), None);
    emu.shutdown().await;
}

#[tokio::test]
async fn finalize_returns_row_count_and_is_idempotent() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    ok_offset(&append_seed(&mut client, &stream.name, Some(0), &[1, 2, 3, 4]).await);
    assert_eq!(finalize(&mut client, &stream.name).await.unwrap(), 4);
    assert_eq!(finalize(&mut client, &stream.name).await.unwrap(), 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn append_to_finalized_stream_is_stream_finalized() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    ok_offset(&append_seed(&mut client, &stream.name, Some(0), &[1]).await);
    finalize(&mut client, &stream.name).await.unwrap();
    let response = append_seed(&mut client, &stream.name, Some(1), &[2]).await;
    assert_in_band(
        &response,
        Code::InvalidArgument,
        Some(StorageErrorCode::StreamFinalized),
    );
    assert_eq!(
        in_band_error(&response).message,
        format!(
            "Stream has been finalized and cannot be appended. Entity: {}",
            stream.name
        )
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn append_to_committed_stream_is_stream_already_committed() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    ok_offset(&append_seed(&mut client, &stream.name, Some(0), &[1]).await);
    finalize(&mut client, &stream.name).await.unwrap();
    assert!(
        commit(&mut client, TABLE, &[&stream.name])
            .await
            .unwrap()
            .stream_errors
            .is_empty()
    );
    let response = append_seed(&mut client, &stream.name, Some(1), &[2]).await;
    assert_in_band(
        &response,
        Code::FailedPrecondition,
        Some(StorageErrorCode::StreamAlreadyCommitted),
    );
    // committing again reports it per stream
    let again = commit(&mut client, TABLE, &[&stream.name]).await.unwrap();
    assert_eq!(again.stream_errors.len(), 1);
    assert_eq!(
        again.stream_errors[0].code,
        StorageErrorCode::StreamAlreadyCommitted as i32
    );
    assert!(again.commit_time.is_none());
    let got = bounded(
        "get",
        client.get_write_stream(GetWriteStreamRequest {
            name: stream.name.clone(),
            view: 0,
        }),
    )
    .await
    .unwrap()
    .into_inner();
    assert!(got.commit_time.is_some());
    emu.shutdown().await;
}

#[tokio::test]
async fn batch_commit_is_all_or_nothing() {
    let (emu, mut client) = seeded().await;
    let ready = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let open = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    ok_offset(&append_seed(&mut client, &ready.name, Some(0), &[1, 2]).await);
    ok_offset(&append_seed(&mut client, &open.name, Some(0), &[3]).await);
    finalize(&mut client, &ready.name).await.unwrap();

    let response = commit(&mut client, TABLE, &[&ready.name, &open.name])
        .await
        .unwrap();
    assert!(response.commit_time.is_none());
    assert_eq!(response.stream_errors.len(), 1);
    assert_eq!(response.stream_errors[0].entity, open.name);
    assert_eq!(
        response.stream_errors[0].code,
        StorageErrorCode::InvalidStreamState as i32
    );
    assert_eq!(emu.row_count(TABLE).unwrap(), 0, "nothing was committed");

    finalize(&mut client, &open.name).await.unwrap();
    let response = commit(&mut client, TABLE, &[&ready.name, &open.name])
        .await
        .unwrap();
    assert!(response.stream_errors.is_empty());
    assert!(response.commit_time.is_some());
    let ids: Vec<Value> = emu
        .rows(TABLE)
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, vec![Value::Int64(1), Value::Int64(2), Value::Int64(3)]);
    emu.shutdown().await;
}

#[tokio::test]
async fn batch_commit_checks_type_table_and_existence() {
    let (emu, mut client) = seeded().await;
    let other_table = "projects/test-project/datasets/d/tables/other";
    emu.create_table(other_table, seed_schema()).unwrap();
    let committed = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let foreign = create_stream(&mut client, other_table, write_stream::Type::Pending).await;
    finalize(&mut client, &committed.name).await.unwrap();
    finalize(&mut client, &foreign.name).await.unwrap();
    let missing = format!("{TABLE}/streams/missing");
    let response = commit(
        &mut client,
        TABLE,
        &[&committed.name, &foreign.name, &missing],
    )
    .await
    .unwrap();
    assert!(response.commit_time.is_none());
    let mut codes: Vec<(String, i32)> = response
        .stream_errors
        .iter()
        .map(|e| (e.entity.clone(), e.code))
        .collect();
    codes.sort();
    let mut expected = vec![
        (
            committed.name.clone(),
            StorageErrorCode::InvalidStreamType as i32,
        ),
        (
            foreign.name.clone(),
            StorageErrorCode::StreamNotFound as i32,
        ),
        (missing.clone(), StorageErrorCode::StreamNotFound as i32),
    ];
    expected.sort();
    assert_eq!(codes, expected);

    let err = commit(
        &mut client,
        "projects/test-project/datasets/d/tables/nope",
        &[&missing],
    )
    .await
    .unwrap_err();
    assert_status(&err, Code::NotFound, Some(StorageErrorCode::TableNotFound));
    emu.shutdown().await;
}

#[tokio::test]
async fn committed_stream_rows_are_visible_at_once() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let response = append_seed(&mut client, &stream.name, Some(0), &[7, 8]).await;
    assert_eq!(ok_offset(&response), Some(0));
    assert_eq!(emu.row_count(TABLE).unwrap(), 2);
    let response = append_seed(&mut client, &stream.name, None, &[9]).await;
    assert_eq!(
        ok_offset(&response),
        Some(2),
        "an append without offset reports where it landed"
    );
    assert_eq!(emu.row_count(TABLE).unwrap(), 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn default_stream_is_committed_without_offsets_or_finalize() {
    let (emu, mut client) = seeded().await;
    let default = format!("{TABLE}/streams/_default");
    let response = append_seed(&mut client, &default, None, &[1, 2]).await;
    assert_eq!(ok_offset(&response), None);
    assert_eq!(emu.row_count(TABLE).unwrap(), 2);
    let response = append_seed(&mut client, &default, Some(2), &[3]).await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert_eq!(emu.row_count(TABLE).unwrap(), 2);
    let err = finalize(&mut client, &default).await.unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        Some(StorageErrorCode::InvalidStreamType),
    );
    emu.shutdown().await;
}

async fn flush(
    client: &mut BigQueryWriteClient<Channel>,
    stream: &str,
    offset: i64,
) -> Result<i64, tonic::Status> {
    bounded(
        "flush",
        client.flush_rows(FlushRowsRequest {
            write_stream: stream.into(),
            offset: Some(offset),
        }),
    )
    .await
    .map(|r| r.into_inner().offset)
}

#[tokio::test]
async fn flush_rows_makes_rows_visible_up_to_and_including_the_offset() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Buffered).await;
    ok_offset(&append_seed(&mut client, &stream.name, Some(0), &[10, 11, 12]).await);
    ok_offset(&append_seed(&mut client, &stream.name, Some(3), &[13, 14]).await);
    assert_eq!(emu.row_count(TABLE).unwrap(), 0);
    assert_eq!(flush(&mut client, &stream.name, 0).await.unwrap(), 0);
    assert_eq!(
        emu.row_count(TABLE).unwrap(),
        1,
        "offset 0 itself is flushed"
    );
    assert_eq!(flush(&mut client, &stream.name, 3).await.unwrap(), 3);
    assert_eq!(emu.row_count(TABLE).unwrap(), 4);
    // flushing an earlier offset again changes nothing
    assert_eq!(flush(&mut client, &stream.name, 1).await.unwrap(), 1);
    assert_eq!(emu.row_count(TABLE).unwrap(), 4);
    let err = flush(&mut client, &stream.name, 5).await.unwrap_err();
    assert_status(
        &err,
        Code::OutOfRange,
        Some(StorageErrorCode::OffsetOutOfRange),
    );
    assert_eq!(flush(&mut client, &stream.name, 4).await.unwrap(), 4);
    let ids: Vec<Value> = emu
        .rows(TABLE)
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, (10..=14).map(Value::Int64).collect::<Vec<_>>());
    emu.shutdown().await;
}

#[tokio::test]
async fn flush_rows_needs_a_buffered_stream() {
    let (emu, mut client) = seeded().await;
    for ty in [write_stream::Type::Pending, write_stream::Type::Committed] {
        let stream = create_stream(&mut client, TABLE, ty).await;
        ok_offset(&append_seed(&mut client, &stream.name, Some(0), &[1]).await);
        let err = flush(&mut client, &stream.name, 0).await.unwrap_err();
        assert_status(
            &err,
            Code::InvalidArgument,
            Some(StorageErrorCode::InvalidStreamType),
        );
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn deleting_a_table_ends_its_streams() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    ok_offset(
        &conn
            .append(append_request(
                &stream.name,
                Some(0),
                Some(seed_descriptor()),
                vec![seed_row(1, "a")],
            ))
            .await,
    );
    emu.delete_table(TABLE).unwrap();
    let response = conn
        .append(append_request("", Some(1), None, vec![seed_row(2, "b")]))
        .await;
    assert_in_band(
        &response,
        Code::NotFound,
        Some(StorageErrorCode::TableNotFound),
    );
    emu.shutdown().await;
}
