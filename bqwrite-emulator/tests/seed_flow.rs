//! The seed flow of issue 2: PENDING stream, offset 0 with 2 rows, offset 2
//! with 1 row on the same connection without the stream name, finalize
//! (row_count 3), batch commit, then 3 rows visible, none before.

mod common;

use bqwrite::proto::storage::{
    BatchCommitWriteStreamsRequest, FinalizeWriteStreamRequest, write_stream,
};
use bqwrite_emulator::Value;
use common::*;
use serde_json::json;

#[tokio::test]
async fn pending_stream_seed_flow() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    assert!(stream.name.starts_with(&format!("{TABLE}/streams/")));
    assert_eq!(stream.r#type, write_stream::Type::Pending as i32);

    let mut conn = Conn::open_with_header(&mut client, Some(&stream.name)).await;
    let first = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, "one"), seed_row(2, "two")],
        ))
        .await;
    assert_eq!(ok_offset(&first), Some(0));
    assert_eq!(first.write_stream, stream.name);
    let second = conn
        .append(append_request(
            "",
            Some(2),
            None,
            vec![seed_row(3, "three")],
        ))
        .await;
    assert_eq!(ok_offset(&second), Some(2));
    conn.close().await.expect("the call ends cleanly");

    // nothing visible before the commit
    assert!(emu.rows(TABLE).unwrap().is_empty());
    let (status, body) = http(
        &emu,
        "GET",
        "/bigquery/v2/projects/test-project/datasets/d/tables/t/data",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["totalRows"], json!("0"));
    assert!(body.get("rows").is_none());

    let finalized = bounded(
        "finalize",
        client.finalize_write_stream(FinalizeWriteStreamRequest {
            name: stream.name.clone(),
        }),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(finalized.row_count, 3);
    assert!(emu.rows(TABLE).unwrap().is_empty());

    let committed = bounded(
        "commit",
        client.batch_commit_write_streams(BatchCommitWriteStreamsRequest {
            parent: TABLE.into(),
            write_streams: vec![stream.name.clone()],
        }),
    )
    .await
    .unwrap()
    .into_inner();
    assert!(committed.stream_errors.is_empty());
    assert!(committed.commit_time.is_some());

    let rows = emu.rows(TABLE).unwrap();
    assert_eq!(rows.len(), 3);
    for (row, (id, name)) in rows.iter().zip([(1, "one"), (2, "two"), (3, "three")]) {
        assert_eq!(row["id"], Value::Int64(id));
        assert_eq!(row["name"], Value::String(name.into()));
    }
    let (status, body) = http(
        &emu,
        "GET",
        "/bigquery/v2/projects/test-project/datasets/d/tables/t/data",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "kind": "bigquery#tableDataList",
            "etag": "\"3\"",
            "totalRows": "3",
            "rows": [
                {"f": [{"v": "1"}, {"v": "one"}]},
                {"f": [{"v": "2"}, {"v": "two"}]},
                {"f": [{"v": "3"}, {"v": "three"}]},
            ]
        })
    );
    emu.shutdown().await;
}
