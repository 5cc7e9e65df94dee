//! One active AppendRows connection per application-created stream: a second
//! connection is refused in-band while the first is open, `_default` takes
//! any number, and a connection frees its stream as soon as the server
//! notices it is gone (closed, dropped, broken by a fault, or cut by a
//! shutdown or restart), so a client can reconnect at once.

mod common;

use std::time::{Duration, Instant};

use bqwrite::proto::storage::write_stream;
use bqwrite::proto::storage::{AppendRowsResponse, big_query_write_client::BigQueryWriteClient};
use common::*;
use tonic::Code;
use tonic::transport::Channel;

/// Well under the emulator's grace for a connection being noticed gone (two
/// seconds): a reconnect this fast was not let in by the grace running out.
const PROMPT: Duration = Duration::from_secs(1);

/// Appends one seed row at `offset` as the first request of `conn`.
async fn first_append(conn: &mut Conn, stream: &str, offset: Option<i64>) -> AppendRowsResponse {
    let id = offset.unwrap_or(0);
    conn.append(append_request(
        stream,
        offset,
        Some(seed_descriptor()),
        vec![seed_row(id, "x")],
    ))
    .await
}

/// A new connection's first append at `offset` succeeds, promptly.
async fn reconnect_appends(client: &mut BigQueryWriteClient<Channel>, stream: &str, offset: i64) {
    let started = Instant::now();
    let mut conn = Conn::open(client).await;
    let response = first_append(&mut conn, stream, Some(offset)).await;
    assert_eq!(ok_offset(&response), Some(offset));
    assert!(
        started.elapsed() < PROMPT,
        "the reconnect waited {:?}: the old connection was not noticed gone",
        started.elapsed()
    );
    conn.close().await.unwrap();
}

async fn second_connection_is_refused(kind: write_stream::Type) {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, kind).await;
    let mut first = Conn::open(&mut client).await;
    assert_eq!(
        ok_offset(&first_append(&mut first, &stream.name, Some(0)).await),
        Some(0)
    );

    let mut second = Conn::open(&mut client).await;
    let refused = first_append(&mut second, &stream.name, Some(1)).await;
    assert_in_band(&refused, Code::FailedPrecondition, None);
    let message = &in_band_error(&refused).message;
    assert!(message.contains(&stream.name), "{message}");
    assert!(
        message.contains("active AppendRows connection"),
        "{message}"
    );
    assert_eq!(emu.stream_rows(&stream.name).unwrap(), 1, "nothing applied");

    // the first connection is unaffected
    let more = first
        .append(append_request("", Some(1), None, vec![seed_row(1, "x")]))
        .await;
    assert_eq!(ok_offset(&more), Some(1));

    // once the first connection ends, the refused one may bind the stream
    first.close().await.unwrap();
    let bound = first_append(&mut second, &stream.name, Some(2)).await;
    assert_eq!(ok_offset(&bound), Some(2), "{kind:?}");
    second.close().await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn a_second_connection_to_a_committed_stream_is_refused_while_the_first_is_open() {
    second_connection_is_refused(write_stream::Type::Committed).await;
}

#[tokio::test]
async fn a_second_connection_to_a_pending_stream_is_refused_while_the_first_is_open() {
    second_connection_is_refused(write_stream::Type::Pending).await;
}

#[tokio::test]
async fn a_second_connection_to_a_buffered_stream_is_refused_while_the_first_is_open() {
    second_connection_is_refused(write_stream::Type::Buffered).await;
}

#[tokio::test]
async fn the_default_stream_takes_any_number_of_connections() {
    let (emu, mut client) = seeded().await;
    let default = format!("{TABLE}/streams/_default");
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut conn = Conn::open(&mut client).await;
        let response = first_append(&mut conn, &default, None).await;
        assert_eq!(ok_offset(&response), None);
        conns.push(conn);
    }
    for conn in conns {
        conn.close().await.unwrap();
    }
    assert_eq!(emu.row_count(TABLE).unwrap(), 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_failed_first_request_still_holds_the_stream() {
    // the connection is bound by its first request, whatever its fate
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut first = Conn::open(&mut client).await;
    let beyond = first_append(&mut first, &stream.name, Some(5)).await;
    assert_in_band(
        &beyond,
        Code::OutOfRange,
        Some(bqwrite::proto::storage::storage_error::StorageErrorCode::OffsetOutOfRange),
    );
    let mut second = Conn::open(&mut client).await;
    let refused = first_append(&mut second, &stream.name, Some(0)).await;
    assert_in_band(&refused, Code::FailedPrecondition, None);
    drop(first);
    drop(second);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_half_closed_connection_frees_the_stream() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    for offset in 0..5 {
        let mut conn = Conn::open(&mut client).await;
        assert_eq!(
            ok_offset(&first_append(&mut conn, &stream.name, Some(offset)).await),
            Some(offset)
        );
        conn.close().await.unwrap();
    }
    reconnect_appends(&mut client, &stream.name, 5).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_frees_the_stream_at_once() {
    // as a writer does when it gives up on a connection: both halves dropped
    // and a new connection opened straight away
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    for offset in 0..20 {
        let started = Instant::now();
        let mut conn = Conn::open(&mut client).await;
        assert_eq!(
            ok_offset(&first_append(&mut conn, &stream.name, Some(offset)).await),
            Some(offset)
        );
        assert!(started.elapsed() < PROMPT, "reconnect {offset} waited");
        drop(conn);
    }
    assert_eq!(emu.stream_rows(&stream.name).unwrap(), 20);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_connection_dropped_while_its_answer_is_delayed_frees_the_stream() {
    // a writer whose response timeout ran out while the server held the answer
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    emu.faults().delay_responses(Duration::from_secs(20));
    let conn = Conn::open(&mut client).await;
    conn.send(append_request(
        &stream.name,
        Some(0),
        Some(seed_descriptor()),
        vec![seed_row(0, "x")],
    ))
    .await;
    // the request is applied, its answer held back
    bounded("the request applied", async {
        while emu.stream_rows(&stream.name).unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    drop(conn);
    emu.faults().clear();
    reconnect_appends(&mut client, &stream.name, 1).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn connections_closed_by_faults_free_the_stream() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;

    emu.faults().close_after_responses(0);
    let mut closed = Conn::open(&mut client).await;
    closed
        .send(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(0, "x")],
        ))
        .await;
    let end = closed.recv().await.expect_err("closed by the fault");
    assert_eq!(end.code(), Code::Unavailable);
    // `closed` is still held here: the server ended the call, which is enough
    reconnect_appends(&mut client, &stream.name, 0).await;

    emu.faults().lose_ack_after_responses(0);
    let mut lost = Conn::open(&mut client).await;
    lost.send(append_request(
        &stream.name,
        Some(1),
        Some(seed_descriptor()),
        vec![seed_row(1, "x")],
    ))
    .await;
    let end = lost.recv().await.expect_err("closed by the fault");
    assert_eq!(end.code(), Code::Unavailable);
    reconnect_appends(&mut client, &stream.name, 2).await;

    assert_eq!(emu.stream_rows(&stream.name).unwrap(), 3);
    drop((closed, lost));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_restart_frees_every_stream() {
    let (mut emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    assert_eq!(
        ok_offset(&first_append(&mut conn, &stream.name, Some(0)).await),
        Some(0)
    );
    bounded("restart", emu.restart()).await.unwrap();
    let end = conn.recv().await.expect_err("the restart ends the call");
    assert_eq!(end.code(), Code::Unavailable);
    let mut client = common::client(&emu).await;
    reconnect_appends(&mut client, &stream.name, 1).await;
    drop(conn);
    emu.shutdown().await;
}
