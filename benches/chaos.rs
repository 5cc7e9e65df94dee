//! The throughput cost of faults: the chaos test's 500,000-row pending write
//! through a loopback TCP proxy, once with no cut (the baseline) and once
//! with 1,000 connections cut at random points, in the same run.
//!
//! `cargo bench --bench chaos` (`-- --quick` for 100,000 rows and 200 cuts).

#[path = "../tests/support/proxy.rs"]
mod proxy;

use std::time::{Duration, Instant};

use bqwrite::{BqRow, Client, RetryPolicy, Writer, WriterOptions};
use bqwrite_emulator::Emulator;

#[derive(Debug, Clone, BqRow)]
struct Numbered {
    n: i64,
    label: String,
}

async fn run(emulator: &Emulator, table: &str, rows: i64, cuts: u64, seed: u64) -> (Duration, u64) {
    let path = format!("projects/bench/datasets/bench/tables/{table}");
    emulator
        .create_table(&path, Numbered::table_schema())
        .unwrap();
    let proxy = proxy::start_proxy(emulator.grpc_addr(), seed, 8 * 1024, cuts).await;
    let retry = RetryPolicy::default()
        .max_attempts(50)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(10));
    let client = Client::builder()
        .emulator(proxy.addr.to_string())
        .retry_policy(retry.clone())
        .build()
        .await
        .unwrap();
    let table = client.table_from_path(&path).unwrap();
    let options = WriterOptions::default()
        .max_request_bytes(2 * 1024)
        .max_inflight_requests(2)
        .response_timeout(Duration::from_secs(10))
        .retry_policy(retry);
    let start = Instant::now();
    let mut writer = Writer::<Numbered>::pending_with(&table, options)
        .await
        .unwrap();
    writer
        .append((0..rows).map(|n| Numbered {
            n,
            label: format!("row {n}"),
        }))
        .await
        .unwrap();
    writer.finalize().await.unwrap().commit().await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(emulator.row_count(&path).unwrap() as i64, rows);
    emulator.delete_table(&path).unwrap();
    (elapsed, proxy.cuts())
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rows, cuts) = if quick {
        (100_000, 200)
    } else {
        (500_000, 1_000)
    };
    let emulator = Emulator::builder()
        .project("bench")
        .require_routing_header(true)
        .start()
        .await
        .unwrap();
    emulator.create_dataset("bench", "bench").unwrap();
    let (clean, _) = run(&emulator, "clean", rows, 0, 1).await;
    let (chaos, survived) = run(&emulator, "chaos", rows, cuts, 0x5eed).await;
    let rate = |d: Duration| rows as f64 / d.as_secs_f64();
    println!("| rows | faults | fault-free | with faults | chaos/fault-free throughput |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {rows} | {survived} cuts | {:.0} rows/s ({:.2} s) | {:.0} rows/s ({:.2} s) | {:.2} |",
        rate(clean),
        clean.as_secs_f64(),
        rate(chaos),
        chaos.as_secs_f64(),
        clean.as_secs_f64() / chaos.as_secs_f64()
    );
    emulator.shutdown().await;
}
