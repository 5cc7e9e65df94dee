//! How fast the emulator accepts PENDING appends: rows/s and MB/s from 1 and
//! 8 connections through the generated tonic client on 127.0.0.1, for 1 KB
//! rows and for small rows. Client and emulator share the process and the
//! machine's cores, as in the client benchmarks.
//!
//! `cargo bench -p bqwrite-emulator --bench append`; the seconds per case
//! come from `BQWRITE_BENCH_SECS` (default 2).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bqwrite::proto::storage::{
    AppendRowsRequest, CreateWriteStreamRequest, ProtoRows, ProtoSchema, TableFieldSchema,
    TableSchema, WriteStream,
    append_rows_request::{ProtoData, Rows},
    append_rows_response::Response as Outcome,
    big_query_write_client::BigQueryWriteClient,
    table_field_schema::{Mode, Type},
    write_stream,
};
use bqwrite_emulator::Emulator;
use bytes::Bytes;
use prost::encoding;
use prost_types::field_descriptor_proto::{Label, Type as PType};
use prost_types::{DescriptorProto, FieldDescriptorProto};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Requests in flight per connection.
const WINDOW: usize = 8;
/// Stop a case early once this many row bytes are stored (memory bound).
const MAX_BYTES: u64 = 1 << 30;

struct Case {
    name: &'static str,
    connections: usize,
    payload: usize,
    rows_per_request: usize,
}

fn descriptor() -> DescriptorProto {
    let field = |name: &str, number, ty: PType| FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        r#type: Some(ty as i32),
        label: Some(Label::Optional as i32),
        ..Default::default()
    };
    DescriptorProto {
        name: Some("BenchRow".into()),
        field: vec![
            field("id", 1, PType::Int64),
            field("payload", 2, PType::String),
        ],
        ..Default::default()
    }
}

fn row(id: i64, payload: &str) -> Bytes {
    let mut buf = Vec::with_capacity(payload.len() + 16);
    encoding::int64::encode(1, &id, &mut buf);
    encoding::string::encode(2, &payload.to_string(), &mut buf);
    buf.into()
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

async fn run_case(emu: &Emulator, case: &Case, seconds: f64) -> (u64, u64, Duration) {
    let table = format!(
        "projects/bench/datasets/d/tables/{}",
        case.name.replace(' ', "_")
    );
    emu.create_table(
        &table,
        TableSchema {
            fields: vec![
                TableFieldSchema {
                    name: "id".into(),
                    r#type: Type::Int64 as i32,
                    mode: Mode::Required as i32,
                    ..Default::default()
                },
                TableFieldSchema {
                    name: "payload".into(),
                    r#type: Type::String as i32,
                    mode: Mode::Nullable as i32,
                    ..Default::default()
                },
            ],
        },
    )
    .expect("bench table");
    let payload = "p".repeat(case.payload);
    let rows: Vec<Bytes> = (0..case.rows_per_request as i64)
        .map(|i| row(i, &payload))
        .collect();
    let row_bytes: u64 = rows.iter().map(|r| r.len() as u64).sum::<u64>() / rows.len() as u64;
    let acked_rows = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..case.connections {
        let endpoint = emu.grpc_endpoint();
        let table = table.clone();
        let rows = rows.clone();
        let acked_rows = acked_rows.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = BigQueryWriteClient::connect(endpoint)
                .await
                .expect("connect")
                .max_encoding_message_size(64 << 20);
            let stream = client
                .create_write_stream(routed(
                    "parent",
                    &table,
                    CreateWriteStreamRequest {
                        parent: table.clone(),
                        write_stream: Some(WriteStream {
                            r#type: write_stream::Type::Pending as i32,
                            ..Default::default()
                        }),
                    },
                ))
                .await
                .expect("stream")
                .into_inner();
            let (tx, rx) = mpsc::channel(WINDOW);
            let mut responses = client
                .append_rows(routed(
                    "write_stream",
                    &stream.name,
                    ReceiverStream::new(rx),
                ))
                .await
                .expect("append call")
                .into_inner();
            let per_request = rows.len() as i64;
            let mut offset = 0i64;
            let mut in_flight = 0usize;
            let mut done = false;
            loop {
                while !done && in_flight < WINDOW {
                    let first = offset == 0;
                    let request = AppendRowsRequest {
                        write_stream: if first {
                            stream.name.clone()
                        } else {
                            String::new()
                        },
                        offset: Some(offset),
                        rows: Some(Rows::ProtoRows(ProtoData {
                            writer_schema: first.then(|| ProtoSchema {
                                proto_descriptor: Some(descriptor().into()),
                            }),
                            rows: Some(ProtoRows {
                                serialized_rows: rows.clone(),
                            }),
                        })),
                        ..Default::default()
                    };
                    tx.send(request).await.expect("send");
                    offset += per_request;
                    in_flight += 1;
                    let stored = acked_rows.load(Ordering::Relaxed) * row_bytes;
                    done = Instant::now() >= deadline || stored >= MAX_BYTES;
                }
                if in_flight == 0 {
                    break;
                }
                let response = responses.message().await.expect("response").expect("open");
                match response.response {
                    Some(Outcome::AppendResult(_)) => {}
                    other => panic!("append failed: {other:?}"),
                }
                acked_rows.fetch_add(per_request as u64, Ordering::Relaxed);
                in_flight -= 1;
            }
            drop(tx);
        }));
    }
    for task in tasks {
        task.await.expect("connection task");
    }
    let elapsed = started.elapsed();
    emu.delete_table(&table).expect("drop bench table");
    let rows = acked_rows.load(Ordering::Relaxed);
    (rows, rows * row_bytes, elapsed)
}

fn main() {
    let seconds: f64 = std::env::var("BQWRITE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let emu = Emulator::builder()
            .require_routing_header(true)
            .start()
            .await
            .expect("emulator");
        let cases = [
            Case { name: "1KB rows 1 conn", connections: 1, payload: 1000, rows_per_request: 1000 },
            Case { name: "1KB rows 8 conns", connections: 8, payload: 1000, rows_per_request: 1000 },
            Case { name: "small rows 1 conn", connections: 1, payload: 10, rows_per_request: 10_000 },
            Case { name: "small rows 8 conns", connections: 8, payload: 10, rows_per_request: 10_000 },
        ];
        println!("PENDING appends into bqwrite-emulator ({seconds} s per case, {WINDOW} requests in flight per connection)");
        for case in &cases {
            if !filter.is_empty() && !filter.iter().any(|f| case.name.contains(f.as_str())) {
                continue;
            }
            let (rows, bytes, elapsed) = run_case(&emu, case, seconds).await;
            let secs = elapsed.as_secs_f64();
            println!(
                "{:<20} {:>10.0} rows/s {:>9.1} MB/s  ({} rows of {} B in {:.2} s)",
                case.name,
                rows as f64 / secs,
                bytes as f64 / secs / 1e6,
                rows,
                bytes / rows.max(1),
                secs
            );
        }
        emu.shutdown().await;
    });
}
