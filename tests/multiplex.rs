//! Many tables over a bounded pool: `_default` writers made from one client
//! share at most `max_connections` AppendRows connections, each request
//! naming its table; answers go back to the writer that sent the request,
//! one table's failure stays its own, and cut connections lose nothing that
//! was acknowledged.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use std::future::Future;

use bqwrite::{BqRow, Client, RetryPolicy, Table, Writer, WriterOptions};
use support::{Env, bounded};

/// Runs `work` on every item at once, each in a task of its own; the
/// outputs in order.
async fn concurrently<W, R, F, Fut>(items: Vec<W>, work: F) -> Vec<R>
where
    F: Fn(usize, W) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let tasks: Vec<_> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| tokio::spawn(work(i, item)))
        .collect();
    let mut outputs = Vec::with_capacity(tasks.len());
    for task in tasks {
        outputs.push(task.await.expect("task"));
    }
    outputs
}

#[derive(Debug, Clone, BqRow)]
struct Event {
    table: i64,
    n: i64,
}

#[derive(Debug, Clone, BqRow)]
struct Reading {
    sensor: String,
    celsius: f64,
}

fn events(table: i64, range: std::ops::Range<i64>) -> Vec<Event> {
    range.map(|n| Event { table, n }).collect()
}

/// A client of `env`'s emulator sharing at most `max` connections.
async fn pooled_client(env: &Env, max: usize) -> Client {
    env.pooled_client(max).await
}

/// `count` tables for `Event`, as seen by `client`.
fn event_tables(env: &Env, client: &Client, count: usize) -> Vec<Table> {
    (0..count)
        .map(|i| {
            env.table_for::<Event>(&format!("t{i}"));
            client
                .table_from_path(&Env::path(&format!("t{i}")))
                .unwrap()
        })
        .collect()
}

/// The `n` column of `table`'s rows, in order.
fn ns(env: &Env, table: &str) -> Vec<i64> {
    env.cells(table)
        .iter()
        .map(|row| row[1].as_str().unwrap().parse().unwrap())
        .collect()
}

fn fast_retries() -> WriterOptions {
    WriterOptions::default()
        .max_rows_per_request(5)
        .max_inflight_requests(4)
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(50)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(20)),
        )
}

#[tokio::test]
async fn two_hundred_tables_share_at_most_four_connections() {
    bounded(120, async {
        let env = Env::start().await;
        let client = pooled_client(&env, 4).await;
        let tables = event_tables(&env, &client, 200);
        let mut writers = concurrently(tables, |_, table| async move {
            Writer::<Event>::default_stream(&table).await.unwrap()
        })
        .await;
        for round in 0..3 {
            writers = concurrently(writers, move |i, mut w| async move {
                let rows = events(i as i64, round * 10..round * 10 + 10);
                assert_eq!(w.append(rows).await.unwrap(), 10);
                w
            })
            .await;
        }
        for (i, writer) in writers.iter().enumerate() {
            assert_eq!(
                ns(&env, &format!("t{i}")),
                (0..30).collect::<Vec<_>>(),
                "t{i}"
            );
            assert_eq!(
                writer.stats().open_connections,
                1,
                "a lease counts as the writer's connection"
            );
        }
        let stats = env.emulator.append_rows_connections();
        assert!(stats.peak <= 4, "{stats:?}");
        assert!(
            stats.total <= 4,
            "no connection was lost, none reopened: {stats:?}"
        );
        drop(writers);
        env.emulator.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_dropped_table_fails_only_its_own_writer() {
    bounded(60, async {
        let env = Env::start().await;
        let client = pooled_client(&env, 2).await;
        let tables = event_tables(&env, &client, 10);
        // a table that answers NOT_FOUND may be one being recreated: the
        // writer waits `schema_wait` for it before it gives up
        let options = WriterOptions::default().schema_wait(Duration::from_millis(300));
        let mut writers = Vec::new();
        for table in &tables {
            let writer = Writer::<Event>::default_stream_with(table, options.clone());
            writers.push(writer.await.unwrap());
        }
        for (i, w) in writers.iter_mut().enumerate() {
            w.append(events(i as i64, 0..5)).await.unwrap();
        }
        env.emulator.delete_table(&Env::path("t3")).unwrap();
        let outcomes = concurrently(writers, |i, mut w| async move {
            let sent = w.append(events(i as i64, 5..10)).await;
            let flushed = w.flush().await;
            (w, sent, flushed)
        })
        .await;
        let mut writers = Vec::new();
        for (i, (w, sent, flushed)) in outcomes.into_iter().enumerate() {
            writers.push(w);
            if i == 3 {
                let err = sent.unwrap_err();
                assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
                assert!(
                    flushed.is_err(),
                    "the writer of the dropped table is closed"
                );
            } else {
                assert_eq!(sent.unwrap(), 5, "t{i}");
                flushed.unwrap();
                assert_eq!(
                    ns(&env, &format!("t{i}")),
                    (0..10).collect::<Vec<_>>(),
                    "t{i}"
                );
            }
        }
        // the others go on writing on the same connections
        for (i, w) in writers.iter_mut().enumerate().filter(|(i, _)| *i != 3) {
            w.append(events(i as i64, 10..12)).await.unwrap();
        }
        assert!(env.emulator.append_rows_connections().peak <= 2);
        env.emulator.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn connection_cuts_while_multiplexing_lose_nothing_acknowledged() {
    bounded(120, async {
        let env = Env::start().await;
        let client = pooled_client(&env, 2).await;
        let tables = event_tables(&env, &client, 20);
        let mut writers = Vec::new();
        for table in &tables {
            writers.push(
                Writer::<Event>::default_stream_with(table, fast_retries())
                    .await
                    .unwrap(),
            );
        }
        for round in 0..10i64 {
            // every few answers a connection breaks: with requests unapplied,
            // or with the last one applied and its answer lost
            if round % 2 == 0 {
                env.emulator.faults().close_after_responses(7);
            } else {
                env.emulator.faults().lose_ack_after_responses(5);
            }
            writers = concurrently(writers, move |i, mut w| async move {
                let rows = events(i as i64, round * 20..round * 20 + 20);
                assert_eq!(w.append(rows).await.unwrap(), 20);
                w
            })
            .await;
        }
        env.emulator.faults().clear();
        let mut reconnects = 0;
        for (i, writer) in writers.iter().enumerate() {
            let got = ns(&env, &format!("t{i}"));
            let mut counts: HashMap<i64, u64> = HashMap::new();
            for n in &got {
                *counts.entry(*n).or_default() += 1;
            }
            for n in 0..200 {
                assert!(
                    counts.contains_key(&n),
                    "t{i}: acknowledged row {n} is missing"
                );
            }
            let duplicates = got.len() as u64 - 200;
            let stats = writer.stats();
            assert!(
                duplicates <= stats.resent_rows,
                "t{i}: {duplicates} duplicates but only {} rows resent",
                stats.resent_rows
            );
            reconnects += stats.reconnects;
        }
        assert!(reconnects > 0, "the faults broke connections");
        assert!(env.emulator.append_rows_connections().peak <= 2);
        env.emulator.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn tables_of_different_schemas_share_one_connection_and_explicit_streams_keep_their_own() {
    bounded(60, async {
        let env = Env::start().await;
        let client = pooled_client(&env, 1).await;
        let events_table = event_tables(&env, &client, 1).remove(0);
        env.table_for::<Reading>("readings");
        let readings_table = client.table_from_path(&Env::path("readings")).unwrap();
        let mut a = Writer::<Event>::default_stream(&events_table)
            .await
            .unwrap();
        let mut b = Writer::<Reading>::default_stream(&readings_table)
            .await
            .unwrap();
        for i in 0..5 {
            a.append(events(0, i * 2..i * 2 + 2)).await.unwrap();
            let reading = Reading {
                sensor: format!("s{i}"),
                celsius: f64::from(i as i32) + 0.5,
            };
            b.append([reading]).await.unwrap();
        }
        assert_eq!(ns(&env, "t0"), (0..10).collect::<Vec<_>>());
        let readings = env.cells("readings");
        let sensors: Vec<_> = readings
            .iter()
            .map(|r| r[0].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(sensors, ["s0", "s1", "s2", "s3", "s4"]);
        assert_eq!(readings[4][1].as_str().unwrap(), "4.5");
        assert_eq!(env.emulator.append_rows_connections().peak, 1);

        // a PENDING writer keeps a connection of its own beside the pool's
        let mut pending = Writer::<Event>::pending(&events_table).await.unwrap();
        pending.append(events(0, 100..103)).await.unwrap();
        a.append(events(0, 10..12)).await.unwrap();
        assert_eq!(env.emulator.append_rows_connections().peak, 2);
        pending.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(env.cells("t0").len(), 15);
        env.emulator.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_call_ended_by_one_tables_request_fails_only_that_writer() {
    bounded(60, async {
        let env = Env::start().await;
        let client = pooled_client(&env, 1).await;
        let tables = event_tables(&env, &client, 2);
        let mut a = Writer::<Event>::default_stream(&tables[0]).await.unwrap();
        let mut b = Writer::<Event>::default_stream(&tables[1]).await.unwrap();
        b.append(events(1, 0..2)).await.unwrap();
        // t1 comes back without the `n` column: b's next request switches the
        // shared connection to it with a schema the table lacks a field of,
        // which ends the call (as BigQuery does); b fails, naming the column
        let t1 = Env::path("t1");
        env.emulator.delete_table(&t1).unwrap();
        let mut narrow = Event::table_schema();
        narrow.fields.retain(|f| f.name != "n");
        env.emulator.create_table(&t1, narrow).unwrap();
        a.append(events(0, 0..2)).await.unwrap();
        let refused = b.send(events(1, 2..4)).await.unwrap();
        let others = a.send(events(0, 2..4)).await.unwrap();
        let err = refused.await.unwrap_err();
        // the writer learns that its column `n` is gone from the table
        assert_eq!(err.kind(), bqwrite::ErrorKind::SchemaMismatch, "{err}");
        assert!(err.to_string().contains("`n`"), "{err}");
        assert_eq!(
            others.await.unwrap(),
            2,
            "the other table's rows are resent, not failed"
        );
        a.append(events(0, 4..6)).await.unwrap();
        assert_eq!(ns(&env, "t0"), (0..6).collect::<Vec<_>>());
        assert_eq!(env.emulator.row_count(&t1).unwrap(), 0);
        env.emulator.shutdown().await;
    })
    .await;
}

/// A shared call that stops answering is given up for good: the writer's
/// reconnect after its response timeout opens a new call instead of being
/// leased the stalled one again (where its resend would wait behind the
/// unanswered request until the retry budget ran out).
#[tokio::test]
async fn a_stalled_shared_call_is_abandoned_not_leased_again() {
    bounded(30, async {
        let env = Env::start().await;
        let client = pooled_client(&env, 1).await;
        let tables = event_tables(&env, &client, 2);
        let table = &tables[0];
        // another table's writer keeps the shared call in use
        let mut other = Writer::<Event>::default_stream(&tables[1]).await.unwrap();
        other.append(events(1, 0..1)).await.unwrap();
        let options = WriterOptions::default()
            .response_timeout(Duration::from_millis(300))
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(3)
                    .initial_backoff(Duration::from_millis(10)),
            );
        let mut writer = Writer::<Event>::default_stream_with(table, options)
            .await
            .unwrap();
        writer.append(events(0, 0..2)).await.unwrap();
        env.emulator
            .faults()
            .delay_next_responses(1, Duration::from_secs(20));
        let started = std::time::Instant::now();
        writer.append(events(0, 2..4)).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the resend waited behind the stalled call"
        );
        let stats = writer.stats();
        assert!(stats.reconnects_by_cause.timeout >= 1, "{stats:?}");
        // the stalled call was ended, not leased again
        assert!(env.emulator.append_rows_connections().total >= 2);
        other.append(events(1, 1..2)).await.unwrap();
        assert_eq!(ns(&env, "t1"), [0, 1]);
        // at least once: the stalled request may have landed too
        let mut n = ns(&env, "t0");
        n.sort_unstable();
        n.dedup();
        assert_eq!(n, (0..4).collect::<Vec<_>>());
        env.emulator.shutdown().await;
    })
    .await;
}

/// `Event`'s columns in another field order: another writer schema for
/// the same columns.
#[derive(Debug, Clone, BqRow)]
struct EventSwapped {
    n: i64,
    table: i64,
}

/// The request that switches a shared connection to a table is refused (a
/// transient error) while the next ones for that table are on their way:
/// those must carry the schema too, or the service decodes them with the
/// schema it had, the other table's, and `table` and `n` trade columns.
/// Found by `tests/chaos_scale.rs`.
#[tokio::test]
async fn requests_behind_a_refused_switch_are_not_decoded_with_another_tables_schema() {
    bounded(60, async {
        let env = Env::start().await;
        let client = pooled_client(&env, 1).await;
        let tables = event_tables(&env, &client, 2);
        let mut other = Writer::<EventSwapped>::default_stream(&tables[1])
            .await
            .unwrap();
        other
            .append([EventSwapped { n: 0, table: 1 }])
            .await
            .unwrap();
        let options = WriterOptions::default().max_rows_per_request(10);
        let mut writer = Writer::<Event>::default_stream_with(&tables[0], options)
            .await
            .unwrap();
        env.emulator
            .faults()
            .fail_next_requests(1, tonic::Code::Unavailable, "refused switch");
        // Three requests, back to back: the first switches and is refused.
        assert_eq!(writer.append(events(0, 0..30)).await.unwrap(), 30);
        for row in env.cells("t0") {
            assert_eq!(row[0].as_str(), Some("0"), "columns swapped: {row:?}");
        }
        let mut n = ns(&env, "t0");
        n.sort_unstable();
        assert_eq!(n, (0..30).collect::<Vec<_>>());
        assert_eq!(ns(&env, "t1"), [0]);
        env.emulator.shutdown().await;
    })
    .await;
}
