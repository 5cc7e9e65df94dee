//! A randomized chaos test: a TCP proxy on loopback between the writer and
//! the emulator cuts connections at random points of the byte stream
//! (mid-request included), 1,000 times over a 500,000-row pending write.
//! After commit the table must hold exactly rows 0..500,000, each once.
//!
//! The seed is printed; set `BQWRITE_CHAOS_SEED` to replay a run.

mod support;

use std::time::Duration;

use bqwrite::{BqRow, Client, RetryPolicy, Writer, WriterOptions};
use support::proxy::{chaos_seed, start_proxy};
use support::{Env, bounded};

#[derive(Debug, Clone, BqRow)]
struct Numbered {
    n: i64,
    label: String,
}

const ROWS: i64 = 500_000;
const CUTS: u64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_cut_connections_lose_and_duplicate_nothing() {
    bounded(900, async {
        let seed = chaos_seed("a_thousand_cut_connections");
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("chaos");
        // About 10 MB of requests: cuts every ~8 KB on average would make
        // far more than 1,000; the proxy stops cutting after 1,000.
        let proxy = start_proxy(env.emulator.grpc_addr(), seed, 8 * 1024, CUTS).await;
        let client = Client::builder()
            .emulator(proxy.addr.to_string())
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(50)
                    .initial_backoff(Duration::from_millis(1))
                    .max_backoff(Duration::from_millis(10)),
            )
            .build()
            .await
            .unwrap();
        let table = client.table_from_path(&table.path().to_string()).unwrap();
        let options = WriterOptions::default()
            .max_request_bytes(2 * 1024)
            .max_inflight_requests(2)
            .response_timeout(Duration::from_secs(10))
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(50)
                    .initial_backoff(Duration::from_millis(1))
                    .max_backoff(Duration::from_millis(10)),
            );
        let mut writer = Writer::<Numbered>::pending_with(&table, options)
            .await
            .unwrap();
        let rows = (0..ROWS).map(|n| Numbered {
            n,
            label: format!("row {n}"),
        });
        let offsets = writer.append(rows).await.unwrap();
        assert_eq!(offsets, 0..ROWS);
        let reconnects = writer.reconnects();
        writer.finalize().await.unwrap().commit().await.unwrap();
        let cuts = proxy.cuts();
        println!("faults survived: {cuts} connection cuts, {reconnects} writer reconnects");
        assert_eq!(cuts, CUTS, "the run ended before {CUTS} cuts were made");

        let got: Vec<i64> = env
            .cells("chaos")
            .iter()
            .map(|row| row[0].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(got.len() as i64, ROWS, "row count");
        assert!(
            got.iter().copied().eq(0..ROWS),
            "rows are not exactly 0..{ROWS} in order"
        );
    })
    .await;
}
