//! Throughput of `Writer::pending` into the in-process emulator, next to its
//! ceiling measured in the same run: a raw tonic AppendRows loop sending
//! requests encoded before the clock starts, with the same request size and
//! in-flight window.
//!
//! `cargo bench --bench writer` (add `-- --quick` for a short run). Prints
//! rows/s, MB/s and the writer/ceiling ratio for 100-byte and 1 KB rows.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bqwrite::proto::storage::append_rows_request::{ProtoData, Rows};
use bqwrite::proto::storage::big_query_write_client::BigQueryWriteClient;
use bqwrite::proto::storage::write_stream::Type as StreamType;
use bqwrite::proto::storage::{
    AppendRowsRequest, CreateWriteStreamRequest, ProtoRows, ProtoSchema, WriteStream,
};
use bqwrite::{BqRow, Client, Writer, WriterOptions};
use bqwrite_emulator::Emulator;
use bytes::{Bytes, BytesMut};
use tokio_stream::wrappers::ReceiverStream;

#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    kind: i64,
    payload: String,
}

const PROJECT: &str = "bench";
const DATASET: &str = "bench";
const REQUEST_BYTES: usize = bqwrite::writer::DEFAULT_MAX_REQUEST_BYTES;
const WINDOW: usize = bqwrite::writer::DEFAULT_MAX_INFLIGHT_REQUESTS;

fn rows(n: usize, row_bytes: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut e = Event {
                id: i as i64,
                kind: (i % 7) as i64,
                payload: String::new(),
            };
            let fill = row_bytes.saturating_sub(e.encoded_len() + 2);
            e.payload = "x".repeat(fill);
            e
        })
        .collect()
}

/// The requests a perfect client would send, encoded ahead of time.
fn pre_encode(stream: &str, rows: &[Event]) -> Vec<AppendRowsRequest> {
    let mut requests = Vec::new();
    let mut offset = 0i64;
    let mut batch: Vec<Bytes> = Vec::new();
    let mut size = 0;
    let mut flush = |batch: &mut Vec<Bytes>, offset: &mut i64, first: bool| {
        let n = batch.len() as i64;
        requests.push(AppendRowsRequest {
            write_stream: if first {
                stream.to_owned()
            } else {
                String::new()
            },
            offset: Some(*offset),
            rows: Some(Rows::ProtoRows(ProtoData {
                writer_schema: first.then(|| ProtoSchema {
                    proto_descriptor: Some(Event::wire_descriptor().clone()),
                }),
                rows: Some(ProtoRows {
                    serialized_rows: std::mem::take(batch),
                }),
            })),
            ..AppendRowsRequest::default()
        });
        *offset += n;
    };
    for row in rows {
        let mut buf = BytesMut::with_capacity(row.encoded_len());
        row.encode(&mut buf);
        let wire = buf.len() + 3;
        if size + wire > REQUEST_BYTES - 4096 && !batch.is_empty() {
            let first = offset == 0;
            flush(&mut batch, &mut offset, first);
            size = 0;
        }
        size += wire;
        batch.push(buf.freeze());
    }
    if !batch.is_empty() {
        let first = offset == 0;
        flush(&mut batch, &mut offset, first);
    }
    requests
}

async fn setup(emulator: &Emulator, table: &str) -> String {
    let path = format!("projects/{PROJECT}/datasets/{DATASET}/tables/{table}");
    emulator
        .create_table(&path, Event::table_schema())
        .expect("table");
    path
}

/// The ceiling: pre-encoded requests pushed through tonic with a window.
async fn raw_loop(emulator: &Emulator, path: &str, rows: &[Event]) -> Duration {
    let mut grpc = BigQueryWriteClient::connect(emulator.grpc_endpoint())
        .await
        .expect("connect");
    let stream = grpc
        .create_write_stream(routed(
            "parent",
            path,
            CreateWriteStreamRequest {
                parent: path.to_owned(),
                write_stream: Some(WriteStream {
                    r#type: StreamType::Pending as i32,
                    ..WriteStream::default()
                }),
            },
        ))
        .await
        .expect("create")
        .into_inner()
        .name;
    let requests = pre_encode(&stream, rows);
    let start = Instant::now();
    let (tx, rx) = tokio::sync::mpsc::channel(WINDOW + 1);
    let mut requests = requests.into_iter();
    tx.send(requests.next().expect("one request"))
        .await
        .unwrap();
    let mut responses = grpc
        .append_rows(routed("write_stream", &stream, ReceiverStream::new(rx)))
        .await
        .expect("append_rows")
        .into_inner();
    let mut inflight = VecDeque::from([()]);
    for request in requests {
        while inflight.len() >= WINDOW {
            responses.message().await.unwrap().expect("response");
            inflight.pop_front();
        }
        tx.send(request).await.unwrap();
        inflight.push_back(());
    }
    while inflight.pop_front().is_some() {
        let response = responses.message().await.unwrap().expect("response");
        assert!(response.row_errors.is_empty());
    }
    start.elapsed()
}

async fn writer(client: &Client, path: &str, rows: &[Event]) -> Duration {
    let table = client.table_from_path(path).unwrap();
    let mut writer = Writer::<Event>::pending_with(&table, WriterOptions::default())
        .await
        .expect("writer");
    let start = Instant::now();
    writer.append(rows).await.expect("append");
    let elapsed = start.elapsed();
    drop(writer.finalize().await.expect("finalize"));
    elapsed
}

/// `message` with the routing header BigQuery needs (the emulator runs with
/// `require_routing_header`, so this bench is held to it too).
fn routed<T>(key: &str, value: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let header = format!("{key}={}", value.replace('/', "%2F"));
    request.metadata_mut().insert(
        "x-goog-request-params",
        header.parse().expect("an ASCII header"),
    );
    request
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 5 };
    let emulator = Emulator::builder()
        .project(PROJECT)
        .require_routing_header(true)
        .start()
        .await
        .expect("emulator");
    emulator.create_dataset(PROJECT, DATASET).unwrap();
    let client = Client::emulator(emulator.grpc_addr().to_string()).unwrap();

    println!("rounds: {rounds} (median reported), request size {REQUEST_BYTES} B, window {WINDOW}");
    println!("| rows | row bytes | raw tonic loop (ceiling) | Writer::pending | writer/ceiling |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for (n, row_bytes) in [
        (if quick { 100_000 } else { 500_000 }, 100),
        (if quick { 20_000 } else { 100_000 }, 1_000),
    ] {
        let data = rows(n, row_bytes);
        let bytes: usize = data.iter().map(BqRow::encoded_len).sum();
        let (mut raw, mut typed) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let table = format!("raw_{row_bytes}_{round}");
            let path = setup(&emulator, &table).await;
            raw.push(raw_loop(&emulator, &path, &data).await);
            emulator.delete_table(&path).unwrap();
            let table = format!("writer_{row_bytes}_{round}");
            let path = setup(&emulator, &table).await;
            typed.push(writer(&client, &path, &data).await);
            emulator.delete_table(&path).unwrap();
        }
        let (raw, typed) = (median(raw), median(typed));
        let rate = |d: Duration| {
            format!(
                "{:.0} rows/s, {:.1} MB/s",
                n as f64 / d.as_secs_f64(),
                bytes as f64 / 1e6 / d.as_secs_f64()
            )
        };
        println!(
            "| {n} | {row_bytes} | {} | {} | {:.2} |",
            rate(raw),
            rate(typed),
            raw.as_secs_f64() / typed.as_secs_f64()
        );
    }
    emulator.shutdown().await;
}
