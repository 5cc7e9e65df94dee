//! The simulated wide-area link, seen by a gRPC client: a unary call costs
//! at least one round trip, and pipelined appends flow at about the
//! configured bandwidth.

mod common;

use std::time::{Duration, Instant};

use bqwrite::proto::storage::{GetWriteStreamRequest, write_stream};
use bqwrite_emulator::{Emulator, Error};
use common::*;
use prost::Message;

async fn start_with_link(latency: Duration, mbps: Option<f64>) -> Emulator {
    let mut builder = Emulator::builder().project(PROJECT).latency(latency);
    if let Some(mbps) = mbps {
        builder = builder.connection_mbps(mbps);
    }
    builder.start().await.expect("emulator starts")
}

#[tokio::test]
async fn a_unary_call_takes_at_least_a_round_trip() {
    let latency = Duration::from_millis(15);
    let emu = start_with_link(latency, None).await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let name = format!("{TABLE}/streams/_default");
    let get = GetWriteStreamRequest {
        name: name.clone(),
        view: 0,
    };
    for _ in 0..3 {
        let start = Instant::now();
        let stream = bounded("GetWriteStream", client.get_write_stream(get.clone()))
            .await
            .unwrap()
            .into_inner();
        let rtt = start.elapsed();
        assert_eq!(stream.name, name);
        eprintln!("GetWriteStream through a {latency:?} link: {rtt:?}");
        assert!(rtt >= 2 * latency, "a round trip took {rtt:?}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn pipelined_appends_flow_at_about_the_bandwidth() {
    // 40 Mbit/s = 5 MB/s each way; the latency must not lower the rate
    let rate = 5e6;
    let emu = start_with_link(Duration::from_millis(10), Some(40.0)).await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    let text = "x".repeat(1000);
    let requests: Vec<_> = (0..5)
        .map(|r| {
            let rows = (0..500).map(|i| seed_row(r * 500 + i, &text)).collect();
            let schema = (r == 0).then(seed_descriptor);
            let name = if r == 0 { stream.name.as_str() } else { "" };
            append_request(name, Some(r * 500), schema, rows)
        })
        .collect();
    let bytes: usize = requests.iter().map(Message::encoded_len).sum();
    let start = Instant::now();
    for request in requests {
        conn.send(request).await;
    }
    for r in 0..5 {
        let response = conn.recv().await.unwrap().expect("a response");
        assert_eq!(ok_offset(&response), Some(r * 500));
    }
    let measured = bytes as f64 / start.elapsed().as_secs_f64();
    let ratio = measured / rate;
    eprintln!(
        "{bytes} bytes of appends at {:.2} MB/s: {ratio:.2} of the link",
        measured / 1e6
    );
    assert!(
        (0.5..=1.2).contains(&ratio),
        "{measured} B/s is {ratio:.2}x"
    );
    assert_eq!(emu.stream_rows(&stream.name).unwrap(), 2_500);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_bandwidth_that_is_not_positive_is_refused() {
    for mbps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = Emulator::builder()
            .connection_mbps(mbps)
            .start()
            .await
            .expect_err("an unusable bandwidth");
        assert!(matches!(err, Error::InvalidLink(_)), "{err}");
    }
}

#[tokio::test]
async fn a_restart_breaks_shaped_connections_promptly_and_serves_again() {
    let mut emu = start_with_link(Duration::from_millis(10), Some(100.0)).await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    let first = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(0, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&first), Some(0));
    let start = Instant::now();
    bounded("restart", emu.restart()).await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "the link held the restart up for {:?}",
        start.elapsed()
    );
    let end = conn.recv().await.expect_err("the restart ends the call");
    assert_eq!(end.code(), tonic::Code::Unavailable);
    let mut client = common::client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    let resumed = conn
        .append(append_request(
            &stream.name,
            Some(1),
            Some(seed_descriptor()),
            vec![seed_row(1, "b")],
        ))
        .await;
    assert_eq!(ok_offset(&resumed), Some(1));
    drop(conn);
    emu.shutdown().await;
}
