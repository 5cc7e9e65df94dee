//! Exactly-once under faults: the emulator injects them, the writer must end
//! with every row present once and in order.

mod support;

use std::time::Duration;

use bqwrite::{BqRow, ErrorKind, RetryPolicy, Writer, WriterOptions};
use support::{Env, bounded};
use tonic::Code;

#[derive(Debug, Clone, BqRow)]
struct Numbered {
    n: i64,
    label: String,
}

fn numbered(range: std::ops::Range<i64>) -> Vec<Numbered> {
    range
        .map(|n| Numbered {
            n,
            label: format!("row {n}"),
        })
        .collect()
}

/// Fast retries: the tests inject hundreds of faults.
fn options() -> WriterOptions {
    WriterOptions::default()
        .max_rows_per_request(10)
        .max_inflight_requests(4)
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(20)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(20)),
        )
}

/// Asserts the table holds exactly rows 0..n, once each, in order.
fn assert_exactly_once(env: &Env, table: &str, n: i64) {
    let got: Vec<i64> = env
        .cells(table)
        .iter()
        .map(|row| row[0].as_str().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<i64> = (0..n).collect();
    assert_eq!(got.len(), expected.len(), "row count");
    assert_eq!(got, expected);
}

#[tokio::test]
async fn connections_closed_every_few_responses_lose_and_duplicate_nothing() {
    bounded(120, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("closed");
        let mut writer = Writer::<Numbered>::pending_with(&table, options())
            .await
            .unwrap();
        for round in 0..20 {
            // The connection closes, without applying it, at the request
            // after the next 3 responses: mid-window, with requests in flight.
            env.emulator.faults().close_after_responses(3);
            let rows = numbered(round * 100..(round + 1) * 100);
            assert_eq!(
                writer.append(&rows).await.unwrap(),
                round * 100..(round + 1) * 100
            );
        }
        assert!(writer.reconnects() >= 20, "{}", writer.reconnects());
        writer.finalize().await.unwrap().commit().await.unwrap();
        assert_exactly_once(&env, "closed", 2_000);
    })
    .await;
}

#[tokio::test]
async fn a_lost_acknowledgement_is_resent_and_counted_once() {
    bounded(120, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("lost_ack");
        let mut writer = Writer::<Numbered>::pending_with(&table, options())
            .await
            .unwrap();
        for round in 0..20i64 {
            // The request is applied but its answer never comes: the resend
            // must get ALREADY_EXISTS and count the rows once.
            env.emulator
                .faults()
                .lose_ack_after_responses(round as usize % 5);
            let rows = numbered(round * 50..(round + 1) * 50);
            writer.append(&rows).await.unwrap();
        }
        assert_eq!(writer.acknowledged_rows(), 1_000);
        let finalized = writer.finalize().await.unwrap();
        assert_eq!(finalized.row_count(), 1_000);
        finalized.commit().await.unwrap();
        assert_exactly_once(&env, "lost_ack", 1_000);
    })
    .await;
}

#[tokio::test]
async fn transient_in_band_errors_are_retried() {
    bounded(120, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("transient");
        let mut writer = Writer::<Numbered>::pending_with(&table, options())
            .await
            .unwrap();
        for (round, code) in [
            Code::Unavailable,
            Code::Internal,
            Code::Aborted,
            Code::ResourceExhausted,
            Code::Cancelled,
            Code::DeadlineExceeded,
        ]
        .into_iter()
        .enumerate()
        {
            let round = round as i64;
            env.emulator
                .faults()
                .fail_next_requests(2, code, "injected transient failure");
            writer
                .append(&numbered(round * 40..(round + 1) * 40))
                .await
                .unwrap();
        }
        writer.finalize().await.unwrap().commit().await.unwrap();
        assert_exactly_once(&env, "transient", 240);
    })
    .await;
}

#[tokio::test]
async fn a_permanent_error_stops_the_writer_and_says_what_was_written() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("permanent");
        let mut writer =
            Writer::<Numbered>::pending_with(&table, options().max_inflight_requests(1))
                .await
                .unwrap();
        writer.append(&numbered(0..30)).await.unwrap();
        env.emulator
            .faults()
            .fail_next_requests(1, Code::PermissionDenied, "injected: no access");
        let err = writer.append(&numbered(30..60)).await.unwrap_err();
        // In-band or as a call status, a code maps to one kind, and the
        // error carries it.
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
        assert!(err.to_string().contains("no access"), "{err}");
        assert_eq!(err.acknowledged_rows(), Some(30), "{err}");
        assert_eq!(writer.reconnects(), 0, "a permanent error is not retried");
        let err = writer.append(&numbered(30..60)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WriterClosed);
    })
    .await;
}

#[tokio::test]
async fn an_exhausted_retry_budget_reports_the_acknowledged_rows() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("exhausted");
        let options = options().retry_policy(
            RetryPolicy::default()
                .max_attempts(3)
                .initial_backoff(Duration::from_millis(1)),
        );
        let mut writer = Writer::<Numbered>::pending_with(&table, options)
            .await
            .unwrap();
        writer.append(&numbered(0..20)).await.unwrap();
        env.emulator
            .faults()
            .fail_next_requests(1_000, Code::Unavailable, "injected outage");
        let err = writer.append(&numbered(20..40)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server, "{err}");
        assert!(err.to_string().contains("gave up after 3 retries"), "{err}");
        assert_eq!(err.acknowledged_rows(), Some(20), "{err}");
        env.emulator.faults().clear();
        // What was acknowledged is intact and committable.
        drop(writer);
        let mut next = Writer::<Numbered>::pending(&table).await.unwrap();
        next.append(&numbered(0..20)).await.unwrap();
        next.finalize().await.unwrap().commit().await.unwrap();
        assert_exactly_once(&env, "exhausted", 20);
    })
    .await;
}

#[tokio::test]
async fn unary_calls_retry_transient_failures() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("unary");
        // The next two calls (CreateWriteStream, then its retry) fail.
        env.emulator
            .faults()
            .fail_next_requests(2, Code::Unavailable, "injected");
        let client = bqwrite::Client::builder()
            .emulator(env.emulator.grpc_addr().to_string())
            .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
            .build()
            .await
            .unwrap();
        let table = client.table_from_path(&table.path().to_string()).unwrap();
        let mut writer = Writer::<Numbered>::pending(&table).await.unwrap();
        writer.append(&numbered(0..5)).await.unwrap();
        env.emulator
            .faults()
            .fail_next_requests(1, Code::Internal, "injected");
        let finalized = writer.finalize().await.unwrap();
        env.emulator
            .faults()
            .fail_next_requests(1, Code::Aborted, "injected");
        finalized.commit().await.unwrap();
        assert_exactly_once(&env, "unary", 5);
    })
    .await;
}

#[tokio::test]
async fn responses_delayed_past_the_timeout_are_resent_not_duplicated() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("delayed");
        let options = options().response_timeout(Duration::from_millis(200));
        let mut writer = Writer::<Numbered>::pending_with(&table, options)
            .await
            .unwrap();
        writer.append(&numbered(0..30)).await.unwrap();
        // The next two answers come after 1.5 s, long past the writer's
        // 200 ms: it must reconnect and resend, and the resent requests (which
        // the server applied) must count once.
        env.emulator
            .faults()
            .delay_next_responses(2, Duration::from_millis(1_500));
        writer.append(&numbered(30..60)).await.unwrap();
        assert!(writer.reconnects() >= 1, "{}", writer.reconnects());
        writer.append(&numbered(60..90)).await.unwrap();
        writer.finalize().await.unwrap().commit().await.unwrap();
        assert_exactly_once(&env, "delayed", 90);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emulator_restart_mid_write_loses_and_duplicates_nothing() {
    bounded(120, async {
        let mut env = Env::start().await;
        let table = env.table_for::<Numbered>("restarted");
        let options = options().max_rows_per_request(100).retry_policy(
            RetryPolicy::default()
                .max_attempts(200)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(50)),
        );
        let mut writer = Writer::<Numbered>::pending_with(&table, options)
            .await
            .unwrap();
        let stream = writer.stream_name().to_owned();
        const N: i64 = 200_000;
        let write = tokio::spawn(async move {
            let result = writer.append(numbered(0..N)).await;
            (writer, result)
        });
        // Restart once rows are flowing: the writer is mid-stream.
        while env.emulator.stream_rows(&stream).unwrap() == 0 {
            tokio::task::yield_now().await;
        }
        env.emulator.restart().await.unwrap();
        let (writer, result) = write.await.unwrap();
        assert_eq!(result.unwrap(), 0..N);
        assert!(writer.reconnects() >= 1, "{}", writer.reconnects());
        writer.finalize().await.unwrap().commit().await.unwrap();
        assert_exactly_once(&env, "restarted", N);
    })
    .await;
}

#[tokio::test]
async fn an_outage_holds_the_source_back_instead_of_buffering_it() {
    bounded(120, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("outage");
        // A window of 2 requests of 10 rows, plus the batch being filled.
        let options = options()
            .max_rows_per_request(10)
            .max_inflight_requests(2)
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(100)
                    .initial_backoff(Duration::from_millis(1))
                    .max_backoff(Duration::from_millis(2)),
            );
        let mut writer = Writer::<Numbered>::pending_with(&table, options)
            .await
            .unwrap();
        let stream = writer.stream_name().to_owned();
        // 60 failed answers in a row: an outage the writer rides out.
        env.emulator
            .faults()
            .fail_next_requests(60, Code::Unavailable, "injected outage");
        let pulled = std::cell::Cell::new(0i64);
        let most_ahead = std::cell::Cell::new(0i64);
        const N: i64 = 2_000;
        let rows = tokio_stream::StreamExt::map(tokio_stream::iter(0..N), |n| {
            // Rows taken from the source but not yet stored by the service:
            // what the writer holds in memory.
            pulled.set(pulled.get() + 1);
            let stored = env.emulator.stream_rows(&stream).unwrap();
            most_ahead.set(most_ahead.get().max(pulled.get() - stored));
            Numbered {
                n,
                label: format!("row {n}"),
            }
        });
        assert_eq!(writer.append_stream(rows).await.unwrap(), 0..N);
        assert!(writer.reconnects() >= 30, "{}", writer.reconnects());
        assert!(
            most_ahead.get() <= 2 * 10 + 10 + 1,
            "the writer held {} rows ahead of the service",
            most_ahead.get()
        );
        writer.finalize().await.unwrap().commit().await.unwrap();
        assert_exactly_once(&env, "outage", N);
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_append_leaves_the_offsets_exact() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("cancelled");
        let mut writer = Writer::<Numbered>::pending_with(&table, options())
            .await
            .unwrap();
        // The first answer is slow, so the call is cancelled (its future
        // dropped) with a window of requests sent and unanswered.
        env.emulator
            .faults()
            .delay_next_responses(1, Duration::from_millis(300));
        let first = numbered(0..1_000);
        let cancelled =
            tokio::time::timeout(Duration::from_millis(50), writer.append(&first)).await;
        assert!(cancelled.is_err(), "the call was meant to be cancelled");

        // The next call reads the answers the cancelled one left, then writes
        // its own rows right after the ones that landed.
        let second: Vec<Numbered> = numbered(5_000..5_100);
        let offsets = writer.append(&second).await.unwrap();
        let landed = offsets.start;
        assert!(landed > 0, "the cancelled call had sent requests");
        assert_eq!(offsets.end, landed + 100);
        writer.finalize().await.unwrap().commit().await.unwrap();

        let got: Vec<i64> = env
            .cells("cancelled")
            .iter()
            .map(|row| row[0].as_str().unwrap().parse().unwrap())
            .collect();
        let expected: Vec<i64> = (0..landed).chain(5_000..5_100).collect();
        assert_eq!(got, expected);
    })
    .await;
}

/// `_default`, own connection and shared: the first request of a new
/// connection (the one that names the stream and carries the schema) is
/// refused with a transient error while the next ones are on their way.
/// On its own connection the writer sends them without the schema; the
/// service learned it from nothing and refuses them too (INVALID_ARGUMENT):
/// they go again with the schema rather than close the writer. Found by
/// `tests/chaos_scale.rs` (seed 1796134950585830647).
#[tokio::test]
async fn requests_behind_a_refused_first_request_go_again_with_the_schema() {
    bounded(60, async {
        let env = Env::start().await;
        for (name, multiplexing) in [("own", false), ("shared", true)] {
            env.table_for::<Numbered>(name);
            let client = bqwrite::Client::builder()
                .emulator(env.emulator.grpc_addr().to_string())
                .multiplexing(multiplexing)
                .build()
                .await
                .unwrap();
            let table = client.table_from_path(&Env::path(name)).unwrap();
            let mut writer = Writer::<Numbered>::default_stream_with(&table, options())
                .await
                .unwrap();
            env.emulator
                .faults()
                .fail_next_requests(1, Code::Unavailable, "refused first request");
            // Three requests of 10 rows, sent back to back on a new connection.
            let written = writer.append(numbered(0..30)).await;
            assert_eq!(written.unwrap_or_else(|e| panic!("{name}: {e}")), 30);
            writer.flush().await.unwrap();
            let mut got: Vec<i64> = env
                .cells(name)
                .iter()
                .map(|row| row[0].as_str().unwrap().parse().unwrap())
                .collect();
            got.sort_unstable();
            assert_eq!(got, (0..30).collect::<Vec<_>>(), "{name}");
            // Own connection: the two requests behind went without the
            // schema, were refused and went again. Shared: the connection
            // sends the schema until a request of the table is written, so
            // only the refused one goes again.
            let resent = if multiplexing { 10 } else { 30 };
            assert_eq!(
                writer.stats().resent_rows,
                resent,
                "{name}: {:?}",
                writer.stats()
            );
        }
    })
    .await;
}

/// `_default` on its own connection, a full window behind the refused first
/// request: more requests on their way than the retry budget has attempts.
/// Each is refused for want of the schema the refused request carried, not
/// for a failure of its own: going again with it spends no attempt (and no
/// backoff), or the writer gives up ("gave up after 3 retries") on a
/// connection that works.
#[tokio::test]
async fn a_window_behind_a_refused_first_request_does_not_spend_the_retry_budget() {
    bounded(60, async {
        let env = Env::start().await;
        env.table_for::<Numbered>("window");
        let client = bqwrite::Client::builder()
            .emulator(env.emulator.grpc_addr().to_string())
            .multiplexing(false)
            .build()
            .await
            .unwrap();
        let table = client.table_from_path(&Env::path("window")).unwrap();
        let options = WriterOptions::default()
            .max_rows_per_request(10)
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(3)
                    .initial_backoff(Duration::from_millis(1))
                    .max_backoff(Duration::from_millis(5)),
            );
        let mut writer = Writer::<Numbered>::default_stream_with(&table, options)
            .await
            .unwrap();
        env.emulator
            .faults()
            .fail_next_requests(1, Code::Unavailable, "refused first request");
        // Twenty requests of 10 rows, sent back to back on a new connection.
        let written = writer.append(numbered(0..200)).await;
        assert_eq!(written.unwrap_or_else(|e| panic!("{e}")), 200);
        let mut got: Vec<i64> = env
            .cells("window")
            .iter()
            .map(|row| row[0].as_str().unwrap().parse().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..200).collect::<Vec<_>>());
        assert_eq!(writer.stats().resent_rows, 200, "{:?}", writer.stats());
    })
    .await;
}
