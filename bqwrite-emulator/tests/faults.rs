//! Fault injection: closed connections (with and without the last request
//! applied), injected statuses and delayed responses.

mod common;

use std::time::{Duration, Instant};

use bqwrite::proto::storage::{
    BatchCommitWriteStreamsRequest, FinalizeWriteStreamRequest, GetWriteStreamRequest,
    storage_error::StorageErrorCode, write_stream,
};
use bqwrite_emulator::UnaryMethod;
use common::*;
use tonic::Code;

#[tokio::test]
async fn close_after_responses_drops_the_connection_without_applying_the_next_request() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    emu.faults().close_after_responses(1);
    let mut conn = Conn::open(&mut client).await;
    let first = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&first), Some(0));
    conn.send(append_request("", Some(1), None, vec![seed_row(2, "b")]))
        .await;
    let end = conn.recv().await.expect_err("the connection is closed");
    assert_eq!(end.code(), Code::Unavailable);
    assert_eq!(
        emu.row_count(TABLE).unwrap(),
        1,
        "the request after the close was not applied"
    );
    // a new connection resumes at the same offset
    let mut conn = Conn::open(&mut client).await;
    let resumed = conn
        .append(append_request(
            &stream.name,
            Some(1),
            Some(seed_descriptor()),
            vec![seed_row(2, "b")],
        ))
        .await;
    assert_eq!(ok_offset(&resumed), Some(1));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_lost_ack_is_found_again_as_offset_already_exists() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    emu.faults().lose_ack_after_responses(0);
    let mut conn = Conn::open(&mut client).await;
    conn.send(append_request(
        &stream.name,
        Some(0),
        Some(seed_descriptor()),
        vec![seed_row(1, "a")],
    ))
    .await;
    let end = conn.recv().await.expect_err("the connection is closed");
    assert_eq!(end.code(), Code::Unavailable);
    assert_eq!(emu.row_count(TABLE).unwrap(), 1, "the request was applied");
    let mut conn = Conn::open(&mut client).await;
    let retry = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(
        &retry,
        Code::AlreadyExists,
        Some(StorageErrorCode::OffsetAlreadyExists),
    );
    assert_eq!(emu.row_count(TABLE).unwrap(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn fail_next_requests_answers_unary_and_append_requests_with_the_status() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    emu.faults()
        .fail_next_requests(2, Code::Unavailable, "try again later");
    let get = GetWriteStreamRequest {
        name: stream.name.clone(),
        view: 0,
    };
    let err = bounded("get", client.get_write_stream(get.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(err.message(), "try again later");
    let mut conn = Conn::open(&mut client).await;
    let failed = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(&failed, Code::Unavailable, None);
    assert_eq!(
        emu.row_count(TABLE).unwrap(),
        0,
        "a failed request is not applied"
    );
    // the third request is served normally, on the same connection
    let ok = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&ok), Some(0));
    bounded("get", client.get_write_stream(get)).await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn delay_responses_holds_each_answer_back() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    emu.faults().delay_responses(Duration::from_millis(300));
    let started = Instant::now();
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
    let get = GetWriteStreamRequest {
        name: stream.name.clone(),
        view: 0,
    };
    bounded("get", client.get_write_stream(get.clone()))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    // Cleared, a delay far longer than any answer on a loaded machine holds
    // nothing back: the call returns well before it would run out.
    emu.faults().delay_responses(Duration::from_secs(60));
    emu.faults().clear();
    let answered = tokio::time::timeout(Duration::from_secs(10), client.get_write_stream(get))
        .await
        .expect("clear() lifted the 60 s delay");
    answered.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn a_dropped_unary_answer_fails_the_call_after_applying_it() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    let appended = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, "a"), seed_row(2, "b")],
        ))
        .await;
    assert_eq!(ok_offset(&appended), Some(0));
    drop(conn);

    // the finalize is applied; its answer is lost; a second one repeats the count
    emu.faults()
        .drop_next_unary_answer(UnaryMethod::FinalizeWriteStream);
    let finalize = FinalizeWriteStreamRequest {
        name: stream.name.clone(),
    };
    let lost = bounded("finalize", client.finalize_write_stream(finalize.clone()))
        .await
        .expect_err("the answer is lost");
    assert_eq!(lost.code(), Code::Unavailable);
    let again = bounded("finalize", client.finalize_write_stream(finalize))
        .await
        .expect("finalizing again answers");
    assert_eq!(again.into_inner().row_count, 2);

    // only the aimed-at method loses its answer, and only once
    emu.faults()
        .drop_next_unary_answer(UnaryMethod::BatchCommitWriteStreams);
    let get = GetWriteStreamRequest {
        name: stream.name.clone(),
        view: 0,
    };
    let before = bounded("get", client.get_write_stream(get.clone()))
        .await
        .unwrap();
    assert_eq!(before.into_inner().commit_time, None);
    let commit = BatchCommitWriteStreamsRequest {
        parent: TABLE.into(),
        write_streams: vec![stream.name.clone()],
    };
    let lost = bounded("commit", client.batch_commit_write_streams(commit.clone()))
        .await
        .expect_err("the answer is lost");
    assert_eq!(lost.code(), Code::Unavailable);
    assert_eq!(emu.row_count(TABLE).unwrap(), 2, "the commit was applied");
    let after = bounded("get", client.get_write_stream(get))
        .await
        .unwrap()
        .into_inner();
    assert!(after.commit_time.is_some());
    let retry = bounded("commit", client.batch_commit_write_streams(commit))
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(retry.commit_time, None);
    assert_eq!(
        retry.stream_errors[0].code,
        StorageErrorCode::StreamAlreadyCommitted as i32
    );
    emu.shutdown().await;
}
