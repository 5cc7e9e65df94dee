//! Each stream type's front end, end to end against the emulator: when rows
//! become visible, and that they land exactly once (explicit streams) or at
//! least once (`_default`) through connection cuts, lost and late answers,
//! and a server restart.

mod support;

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use bqwrite::{BqRow, Client, ErrorKind, RetryPolicy, Table, Writer, WriterOptions};
use support::proxy::{chaos_seed, start_proxy};
use support::{Env, bounded};
use tonic::Code;

/// A numbered row whose JSON column the emulator checks: a body that is not
/// JSON is a row error.
#[derive(Debug, Clone, BqRow)]
struct Doc {
    n: i64,
    #[bq(type = "JSON")]
    body: String,
}

fn doc(n: i64) -> Doc {
    Doc {
        n,
        body: format!("{{\"n\":{n}}}"),
    }
}

fn bad(n: i64) -> Doc {
    Doc {
        n,
        body: "{not json".to_owned(),
    }
}

fn docs(range: Range<i64>) -> Vec<Doc> {
    range.map(doc).collect()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(50)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(20))
}

fn options() -> WriterOptions {
    WriterOptions::default()
        .max_rows_per_request(10)
        .max_inflight_requests(4)
        .response_timeout(Duration::from_millis(400))
        .retry_policy(fast_retries())
}

/// The `n` column of every visible row, in order.
fn visible(env: &Env, table: &str) -> Vec<i64> {
    env.cells(table)
        .iter()
        .map(|row| row[0].as_str().unwrap().parse().unwrap())
        .collect()
}

fn upto(n: i64) -> Vec<i64> {
    (0..n).collect()
}

/// The faults injected, one per group of rounds: a drain, lost answers
/// (one after a response, one at once), a late answer past the response
/// timeout, transient in-band errors, and a server restart.
const FAULTS: usize = 6;
const ROUNDS_PER_FAULT: i64 = 3;

async fn inject(env: &mut Env, fault: usize) {
    let faults = env.emulator.faults();
    match fault {
        0 => {
            faults.close_after_responses(2);
        }
        1 => {
            faults.lose_ack_after_responses(1);
        }
        2 => {
            faults.delay_next_responses(1, Duration::from_millis(1_000));
        }
        3 => {
            faults.fail_next_requests(2, Code::Unavailable, "injected");
        }
        4 => env.emulator.restart().await.unwrap(),
        _ => {
            faults.lose_ack_after_responses(0);
        }
    }
}

#[tokio::test]
async fn committed_rows_are_visible_when_append_returns() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("committed");
        let mut writer = Writer::<Doc>::committed_with(&table, options())
            .await
            .unwrap();
        assert_eq!(writer.append(docs(0..25)).await.unwrap(), 0..25);
        assert_eq!(visible(&env, "committed"), upto(25));
        let ticket = writer.send(docs(25..40)).await.unwrap();
        assert_eq!(ticket.await.unwrap(), 25..40);
        assert_eq!(
            visible(&env, "committed"),
            upto(40),
            "visible when the ticket resolves"
        );
        writer.flush().await.unwrap();
        assert_eq!(writer.finalize().await.unwrap(), 40);
        assert_eq!(visible(&env, "committed"), upto(40));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_rows_land_exactly_once_through_faults() {
    bounded(120, async {
        let mut env = Env::start().await;
        let table = env.table_for::<Doc>("committed_faults");
        let mut writer = Writer::<Doc>::committed_with(&table, options())
            .await
            .unwrap();
        let mut rounds = 0;
        for fault in 0..FAULTS {
            inject(&mut env, fault).await;
            for _ in 0..ROUNDS_PER_FAULT {
                let rows = docs(rounds * 50..(rounds + 1) * 50);
                let offsets = writer.append(rows).await.unwrap();
                assert_eq!(offsets, rounds * 50..(rounds + 1) * 50);
                rounds += 1;
            }
        }
        env.emulator.faults().clear();
        assert_eq!(visible(&env, "committed_faults"), upto(rounds * 50));
        let stats = writer.stats();
        assert!(stats.reconnects >= 4, "{stats:?}");
        assert!(stats.rows_already_written >= 10, "{stats:?}");
        assert_eq!(writer.finalize().await.unwrap(), rounds * 50);
    })
    .await;
}

#[tokio::test]
async fn buffered_rows_are_invisible_until_flushed() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("buffered");
        let mut writer = Writer::<Doc>::buffered_with(&table, options())
            .await
            .unwrap();
        assert_eq!(writer.append(docs(0..30)).await.unwrap(), 0..30);
        assert!(visible(&env, "buffered").is_empty(), "visible before flush");
        writer.flush_to(9).await.unwrap();
        assert_eq!(visible(&env, "buffered"), upto(10));
        writer.flush_to(9).await.unwrap();
        assert_eq!(visible(&env, "buffered"), upto(10), "flush_to twice");
        writer.flush().await.unwrap();
        assert_eq!(visible(&env, "buffered"), upto(30));
        writer.flush().await.unwrap();
        assert_eq!(visible(&env, "buffered"), upto(30), "flush is idempotent");

        // Sent and acknowledged, still invisible; an offset not acknowledged
        // cannot be flushed.
        let ticket = writer.send(docs(30..45)).await.unwrap();
        assert_eq!(ticket.await.unwrap(), 30..45);
        assert_eq!(visible(&env, "buffered"), upto(30));
        for offset in [45, 100, -1] {
            let err = writer.flush_to(offset).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        }
        assert_eq!(visible(&env, "buffered"), upto(30));
        // Finalize flushes what is left.
        assert_eq!(writer.finalize().await.unwrap(), 45);
        assert_eq!(visible(&env, "buffered"), upto(45));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_rows_land_exactly_once_through_faults() {
    bounded(120, async {
        let mut env = Env::start().await;
        let table = env.table_for::<Doc>("buffered_faults");
        let mut writer = Writer::<Doc>::buffered_with(&table, options())
            .await
            .unwrap();
        let mut rounds = 0;
        for fault in 0..FAULTS {
            inject(&mut env, fault).await;
            for _ in 0..ROUNDS_PER_FAULT {
                let rows = docs(rounds * 50..(rounds + 1) * 50);
                let ticket = writer.send(rows).await.unwrap();
                if rounds % 4 == 3 {
                    writer.flush().await.unwrap();
                }
                assert_eq!(ticket.await.unwrap(), rounds * 50..(rounds + 1) * 50);
                rounds += 1;
            }
        }
        env.emulator.faults().clear();
        let flushed = visible(&env, "buffered_faults");
        assert_eq!(flushed, upto(flushed.len() as i64), "flushed rows in order");
        // A FlushRows call that fails transiently is retried.
        env.emulator
            .faults()
            .fail_next_requests(1, Code::Unavailable, "injected");
        writer.flush().await.unwrap();
        assert_eq!(visible(&env, "buffered_faults"), upto(rounds * 50));
        let stats = writer.stats();
        assert!(stats.reconnects >= 4, "{stats:?}");
        assert!(stats.rows_already_written >= 10, "{stats:?}");
        assert_eq!(writer.finalize().await.unwrap(), rounds * 50);
    })
    .await;
}

#[tokio::test]
async fn pending_rows_stay_invisible_until_commit() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("pending");
        let mut writer = Writer::<Doc>::pending_with(&table, options())
            .await
            .unwrap();
        let ticket = writer.send(docs(0..25)).await.unwrap();
        assert_eq!(writer.append(docs(25..30)).await.unwrap(), 25..30);
        assert_eq!(ticket.await.unwrap(), 0..25);
        writer.flush().await.unwrap();
        assert!(visible(&env, "pending").is_empty());
        let finalized = writer.finalize().await.unwrap();
        assert_eq!(finalized.row_count(), 30);
        assert!(visible(&env, "pending").is_empty());
        finalized.commit().await.unwrap();
        assert_eq!(visible(&env, "pending"), upto(30));
    })
    .await;
}

#[tokio::test]
async fn default_stream_rows_are_visible_and_counted() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("default");
        let mut writer = Writer::<Doc>::default_stream_with(&table, options())
            .await
            .unwrap();
        assert!(writer.stream_name().ends_with("/streams/_default"));
        assert_eq!(writer.append(docs(0..25)).await.unwrap(), 25u64);
        assert_eq!(visible(&env, "default"), upto(25));
        let ticket = writer.send(docs(25..40)).await.unwrap();
        assert_eq!(ticket.await.unwrap(), 15u64);
        writer.flush().await.unwrap();
        assert_eq!(writer.acknowledged_rows(), 40);
        let stats = writer.stats();
        assert_eq!(stats.rows_sent, 40, "{stats:?}");
        assert_eq!(stats.rows_acknowledged, 40, "{stats:?}");
        assert_eq!(stats.resent_rows, 0, "{stats:?}");
        assert_eq!(visible(&env, "default"), upto(40));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_stream_rows_land_at_least_once_through_faults() {
    bounded(120, async {
        let mut env = Env::start().await;
        let table = env.table_for::<Doc>("default_faults");
        let mut writer = Writer::<Doc>::default_stream_with(&table, options())
            .await
            .unwrap();
        let mut rounds = 0;
        for fault in 0..FAULTS {
            inject(&mut env, fault).await;
            for _ in 0..ROUNDS_PER_FAULT {
                let rows = docs(rounds * 50..(rounds + 1) * 50);
                assert_eq!(writer.append(rows).await.unwrap(), 50u64);
                rounds += 1;
            }
        }
        env.emulator.faults().clear();
        let stats = writer.stats();
        assert_eq!(writer.acknowledged_rows(), rounds * 50);
        assert!(stats.reconnects >= 4, "{stats:?}");
        let mut seen: HashMap<i64, u64> = HashMap::new();
        for n in visible(&env, "default_faults") {
            *seen.entry(n).or_default() += 1;
        }
        let missing: Vec<i64> = (0..rounds * 50).filter(|n| !seen.contains_key(n)).collect();
        assert!(missing.is_empty(), "rows missing: {missing:?}");
        let extra: u64 = seen.values().map(|c| c - 1).sum();
        assert!(extra <= stats.resent_rows, "{extra} duplicates, {stats:?}");
        assert!(
            extra >= 10,
            "two lost answers wrote their rows twice: {stats:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn default_stream_rejected_rows_are_reported_and_the_good_ones_written() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("default_rejected");
        let options = options().max_rows_per_request(4);
        let mut writer = Writer::<Doc>::default_stream_with(&table, options)
            .await
            .unwrap();
        // Requests [0..4) with two bad rows, [4..8) clean, [8..12) with one.
        let mut rows = docs(0..12);
        for i in [1, 2, 9] {
            rows[i] = bad(i as i64);
        }
        let err = writer.append(&rows).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
        let indices: Vec<usize> = err.row_errors().iter().map(|e| e.index).collect();
        assert_eq!(indices, [1, 2, 9], "{err}");
        assert!(
            err.row_errors()
                .iter()
                .all(|e| e.column.as_deref() == Some("body"))
        );
        let stats = writer.stats();
        assert_eq!(stats.rows_rejected, 3, "{stats:?}");
        assert_eq!(writer.acknowledged_rows(), 9);
        let mut got = visible(&env, "default_rejected");
        got.sort_unstable();
        assert_eq!(got, [0, 3, 4, 5, 6, 7, 8, 10, 11]);
        // The writer goes on.
        assert_eq!(writer.append(docs(12..20)).await.unwrap(), 8u64);
        assert_eq!(visible(&env, "default_rejected").len(), 17);
    })
    .await;
}

/// A client whose traffic goes through a proxy that cuts connections.
async fn chaos_table(env: &Env, name: &str, cuts: u64) -> (Table, support::proxy::Proxy) {
    let table = env.table_for::<Doc>(name);
    let seed = chaos_seed(name);
    let proxy = start_proxy(env.emulator.grpc_addr(), seed, 8 * 1024, cuts).await;
    let client = Client::builder()
        .emulator(proxy.addr.to_string())
        .retry_policy(fast_retries())
        .build()
        .await
        .unwrap();
    let table = client.table_from_path(&table.path().to_string()).unwrap();
    (table, proxy)
}

const CHAOS_ROWS: i64 = 100_000;
const CHAOS_CUTS: u64 = 200;

fn chaos_options() -> WriterOptions {
    WriterOptions::default()
        .max_request_bytes(2 * 1024)
        .max_inflight_requests(2)
        .response_timeout(Duration::from_secs(10))
        .retry_policy(fast_retries())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_a_committed_stream_loses_and_duplicates_nothing() {
    bounded(120, async {
        let env = Env::start().await;
        let (table, proxy) = chaos_table(&env, "chaos_committed", CHAOS_CUTS).await;
        let mut writer = Writer::<Doc>::committed_with(&table, chaos_options())
            .await
            .unwrap();
        let mut tickets = Vec::new();
        for chunk in 0..CHAOS_ROWS / 1_000 {
            let rows = docs(chunk * 1_000..(chunk + 1) * 1_000);
            tickets.push(writer.send(rows).await.unwrap());
        }
        for (chunk, ticket) in tickets.into_iter().enumerate() {
            let chunk = chunk as i64;
            assert_eq!(ticket.await.unwrap(), chunk * 1_000..(chunk + 1) * 1_000);
        }
        println!("{} cuts, {:?}", proxy.cuts(), writer.stats());
        assert!(proxy.cuts() >= CHAOS_CUTS / 2, "only {} cuts", proxy.cuts());
        assert_eq!(visible(&env, "chaos_committed"), upto(CHAOS_ROWS));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_a_buffered_stream_loses_and_duplicates_nothing() {
    bounded(120, async {
        let env = Env::start().await;
        let (table, proxy) = chaos_table(&env, "chaos_buffered", CHAOS_CUTS).await;
        let mut writer = Writer::<Doc>::buffered_with(&table, chaos_options())
            .await
            .unwrap();
        for chunk in 0..CHAOS_ROWS / 1_000 {
            let rows = docs(chunk * 1_000..(chunk + 1) * 1_000);
            drop(writer.send(rows).await.unwrap());
            if chunk % 10 == 9 {
                // FlushRows goes through the cuts too.
                writer.flush().await.unwrap();
                assert_eq!(writer.acknowledged_rows(), (chunk + 1) * 1_000);
            }
        }
        writer.flush().await.unwrap();
        println!("{} cuts, {:?}", proxy.cuts(), writer.stats());
        assert!(proxy.cuts() >= CHAOS_CUTS / 2, "only {} cuts", proxy.cuts());
        assert_eq!(visible(&env, "chaos_buffered"), upto(CHAOS_ROWS));
        assert_eq!(writer.finalize().await.unwrap(), CHAOS_ROWS);
    })
    .await;
}
