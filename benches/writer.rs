//! Throughput of the writers into the in-process emulator, each next to a
//! baseline measured in the same run. Two patterns:
//!
//! - **bulk**: one `append` of many rows, for each stream type, against a
//!   raw tonic AppendRows loop sending requests encoded before the clock
//!   starts, with the same request size and in-flight window (the ceiling);
//! - **calls**: rows arriving in batches, one call per batch (100 calls of
//!   10,000 rows; 1,000 calls of 100 rows), written with `send` (pipelined
//!   across calls) and with `append` (each call awaited), against a raw
//!   tonic loop that pipelines one pre-encoded request per batch with an
//!   unbounded window. On loopback and over the emulator's simulated
//!   wide-area link (10 ms one way, 200 Mbit/s per connection).
//!
//! `cargo bench --bench writer` (add `-- --quick` for one round of each).

use std::time::{Duration, Instant};

use bqwrite::proto::storage::append_rows_request::{ProtoData, Rows};
use bqwrite::proto::storage::big_query_write_client::BigQueryWriteClient;
use bqwrite::proto::storage::write_stream::Type as StreamType;
use bqwrite::proto::storage::{
    AppendRowsRequest, CreateWriteStreamRequest, ProtoRows, ProtoSchema, WriteStream,
};
use bqwrite::{BqRow, Client, Table, Writer, WriterOptions};
use bqwrite_emulator::{Emulator, EmulatorBuilder};
use bytes::{Bytes, BytesMut};
use tokio_stream::wrappers::UnboundedReceiverStream;

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

/// The requests a perfect client would send for `batches`, encoded ahead of
/// time: each batch split under the request size limit.
fn pre_encode<'a>(
    stream: &str,
    batches: impl Iterator<Item = &'a [Event]>,
) -> Vec<AppendRowsRequest> {
    let mut requests = Vec::new();
    let mut offset = 0i64;
    for batch in batches {
        let mut rows: Vec<Bytes> = Vec::new();
        let mut size = 0;
        for row in batch {
            let mut buf = BytesMut::with_capacity(row.encoded_len());
            row.encode(&mut buf);
            let wire = buf.len() + 3;
            if size + wire > REQUEST_BYTES - 4096 && !rows.is_empty() {
                push_request(
                    &mut requests,
                    stream,
                    &mut offset,
                    std::mem::take(&mut rows),
                );
                size = 0;
            }
            size += wire;
            rows.push(buf.freeze());
        }
        if !rows.is_empty() {
            push_request(&mut requests, stream, &mut offset, rows);
        }
    }
    requests
}

fn push_request(
    requests: &mut Vec<AppendRowsRequest>,
    stream: &str,
    offset: &mut i64,
    rows: Vec<Bytes>,
) {
    let first = *offset == 0;
    let n = rows.len() as i64;
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
                serialized_rows: rows,
            }),
        })),
        ..AppendRowsRequest::default()
    });
    *offset += n;
}

/// A fresh table for one run.
fn table(emulator: &Emulator, client: &Client, name: &str) -> Table {
    let path = format!("projects/{PROJECT}/datasets/{DATASET}/tables/{name}");
    emulator
        .create_table(&path, Event::table_schema())
        .expect("table");
    client.table_from_path(&path).expect("path")
}

/// The ceiling: pre-encoded requests pushed through tonic, at most `window`
/// unanswered, answers read by a task of their own.
async fn raw_loop(
    emulator: &Emulator,
    table: &Table,
    batches: &[&[Event]],
    window: usize,
) -> Duration {
    let mut grpc = BigQueryWriteClient::connect(emulator.grpc_endpoint())
        .await
        .expect("connect");
    let stream = grpc
        .create_write_stream(CreateWriteStreamRequest {
            parent: table.path().to_string(),
            write_stream: Some(WriteStream {
                r#type: StreamType::Pending as i32,
                ..WriteStream::default()
            }),
        })
        .await
        .expect("create")
        .into_inner()
        .name;
    let requests = pre_encode(&stream, batches.iter().copied());
    let count = requests.len();
    let start = Instant::now();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let room = std::sync::Arc::new(tokio::sync::Semaphore::new(window));
    let mut requests = requests.into_iter();
    room.clone().acquire_owned().await.unwrap().forget();
    tx.send(requests.next().expect("one request")).unwrap();
    let mut responses = grpc
        .append_rows(UnboundedReceiverStream::new(rx))
        .await
        .expect("append_rows")
        .into_inner();
    let reader = {
        let room = room.clone();
        tokio::spawn(async move {
            for _ in 0..count {
                let response = responses.message().await.unwrap().expect("response");
                assert!(response.row_errors.is_empty());
                room.add_permits(1);
            }
        })
    };
    for request in requests {
        room.acquire().await.unwrap().forget();
        tx.send(request).unwrap();
    }
    reader.await.unwrap();
    start.elapsed()
}

/// Every batch through `send`, tickets awaited at the end.
async fn send_calls(table: &Table, batches: &[&[Event]]) -> Duration {
    let mut writer = Writer::<Event>::pending(table).await.expect("writer");
    let start = Instant::now();
    let mut tickets = Vec::with_capacity(batches.len());
    for batch in batches {
        tickets.push(writer.send(*batch).await.expect("send"));
    }
    for ticket in tickets {
        ticket.await.expect("ticket");
    }
    let elapsed = start.elapsed();
    drop(writer.finalize().await.expect("finalize"));
    elapsed
}

/// Every batch through `append`, each awaited before the next.
async fn append_calls(table: &Table, batches: &[&[Event]]) -> Duration {
    let mut writer = Writer::<Event>::pending(table).await.expect("writer");
    let start = Instant::now();
    for batch in batches {
        writer.append(*batch).await.expect("append");
    }
    let elapsed = start.elapsed();
    drop(writer.finalize().await.expect("finalize"));
    elapsed
}

/// One `append` of every row, on a stream of the given type.
async fn bulk(table: &Table, rows: &[Event], kind: &str) -> Duration {
    let options = WriterOptions::default();
    macro_rules! timed {
        ($writer:expr) => {{
            let mut writer = $writer.await.expect("writer");
            let start = Instant::now();
            writer.append(rows).await.expect("append");
            writer.flush().await.expect("flush");
            let elapsed = start.elapsed();
            (elapsed, writer)
        }};
    }
    match kind {
        "PENDING" => {
            let (elapsed, writer) = timed!(Writer::<Event>::pending_with(table, options));
            drop(writer.finalize().await.expect("finalize"));
            elapsed
        }
        "COMMITTED" => timed!(Writer::<Event>::committed_with(table, options)).0,
        "BUFFERED" => timed!(Writer::<Event>::buffered_with(table, options)).0,
        _ => timed!(Writer::<Event>::default_stream_with(table, options)).0,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rate(rows: usize, bytes: usize, d: Duration) -> String {
    format!(
        "{:.0} rows/s, {:.1} MB/s",
        rows as f64 / d.as_secs_f64(),
        bytes as f64 / 1e6 / d.as_secs_f64()
    )
}

struct Setup {
    emulator: Emulator,
    client: Client,
    tables: usize,
}

impl Setup {
    async fn start(builder: EmulatorBuilder) -> Self {
        let emulator = builder.project(PROJECT).start().await.expect("emulator");
        emulator.create_dataset(PROJECT, DATASET).unwrap();
        let client = Client::emulator(emulator.grpc_addr().to_string()).unwrap();
        Self {
            emulator,
            client,
            tables: 0,
        }
    }

    fn table(&mut self) -> Table {
        self.tables += 1;
        table(&self.emulator, &self.client, &format!("t{}", self.tables))
    }
}

async fn bulk_section(rounds: usize, quick: bool) {
    let mut setup = Setup::start(Emulator::builder()).await;
    println!("\n## bulk: one append call, loopback (median of {rounds})\n");
    println!(
        "| rows | row bytes | ceiling | PENDING | COMMITTED | BUFFERED | _default | PENDING/ceiling | COMMITTED/PENDING | BUFFERED/PENDING | _default/PENDING |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (n, row_bytes) in [
        (if quick { 100_000 } else { 500_000 }, 100),
        (if quick { 20_000 } else { 100_000 }, 1_000),
    ] {
        let data = rows(n, row_bytes);
        let bytes: usize = data.iter().map(BqRow::encoded_len).sum();
        let kinds = ["PENDING", "COMMITTED", "BUFFERED", "_default"];
        let mut raw = Vec::new();
        let mut typed: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
        for _ in 0..rounds {
            let t = setup.table();
            raw.push(raw_loop(&setup.emulator, &t, &[&data], WINDOW).await);
            for (i, kind) in kinds.iter().enumerate() {
                let t = setup.table();
                typed[i].push(bulk(&t, &data, kind).await);
            }
        }
        let raw = median(raw);
        let typed: Vec<Duration> = typed.into_iter().map(median).collect();
        let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
        println!(
            "| {n} | {row_bytes} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            rate(n, bytes, raw),
            rate(n, bytes, typed[0]),
            rate(n, bytes, typed[1]),
            rate(n, bytes, typed[2]),
            rate(n, bytes, typed[3]),
            ratio(typed[0], raw),
            ratio(typed[1], typed[0]),
            ratio(typed[2], typed[0]),
            ratio(typed[3], typed[0]),
        );
    }
    setup.emulator.shutdown().await;
}

async fn calls_section(name: &str, builder: EmulatorBuilder, rounds: usize, quick: bool) {
    let mut setup = Setup::start(builder).await;
    println!("\n## calls: one call per batch, {name} (median of {rounds})\n");
    println!(
        "| calls x rows | ceiling (unbounded window) | send | append | send/ceiling | append/ceiling |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (calls, per_call) in [
        (if quick { 20 } else { 100 }, 10_000),
        (if quick { 200 } else { 1_000 }, 100),
    ] {
        let data = rows(calls * per_call, 100);
        let bytes: usize = data.iter().map(BqRow::encoded_len).sum();
        let batches: Vec<&[Event]> = data.chunks(per_call).collect();
        let (mut raw, mut sent, mut appended) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = setup.table();
            raw.push(raw_loop(&setup.emulator, &t, &batches, usize::MAX >> 4).await);
            let t = setup.table();
            sent.push(send_calls(&t, &batches).await);
            let t = setup.table();
            appended.push(append_calls(&t, &batches).await);
        }
        let (raw, sent, appended) = (median(raw), median(sent), median(appended));
        let n = data.len();
        println!(
            "| {calls} x {per_call} | {} | {} | {} | {:.2} | {:.2} |",
            rate(n, bytes, raw),
            rate(n, bytes, sent),
            rate(n, bytes, appended),
            raw.as_secs_f64() / sent.as_secs_f64(),
            raw.as_secs_f64() / appended.as_secs_f64(),
        );
    }
    setup.emulator.shutdown().await;
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 3 };
    println!("request size {REQUEST_BYTES} B, writer window {WINDOW} requests");
    bulk_section(rounds, quick).await;
    calls_section("loopback", Emulator::builder(), rounds, quick).await;
}
