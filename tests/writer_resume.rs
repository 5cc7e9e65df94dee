//! Resuming an explicit stream from a checkpoint `(stream, next)`, as a new
//! process does after a crash: the checkpoint may lag the stream, requests
//! may straddle its real end, and every row must still land exactly once.

mod support;

use std::ops::Range;
use std::time::Duration;

use bqwrite::{BqRow, Buffered, Committed, ErrorKind, RetryPolicy, Writer, WriterOptions};
use support::{Env, bounded};

#[derive(Debug, Clone, BqRow)]
struct Numbered {
    n: i64,
    label: String,
}

fn numbered(range: Range<i64>) -> Vec<Numbered> {
    range
        .map(|n| Numbered {
            n,
            label: format!("row {n}"),
        })
        .collect()
}

fn options(rows_per_request: usize) -> WriterOptions {
    WriterOptions::default()
        .max_rows_per_request(rows_per_request)
        .max_inflight_requests(4)
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(20)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(20)),
        )
}

/// The `n` column of every visible row, in order.
fn visible(env: &Env, table: &str) -> Vec<i64> {
    env.cells(table)
        .iter()
        .map(|row| row[0].as_str().unwrap().parse().unwrap())
        .collect()
}

/// (rows the crashed writer wrote, the checkpoint's `next`, rows per request
/// of the resumed writer, total rows): the end falls at a request's start,
/// inside one, at its last row, at the checkpoint itself, and at 0.
const CASES: [(i64, i64, usize, i64); 8] = [
    (0, 0, 10, 20),
    (95, 37, 10, 120),
    (95, 37, 58, 120),
    (95, 37, 59, 120),
    (95, 95, 7, 120),
    (95, 0, 13, 120),
    (50, 45, 100, 200),
    (10, 0, 1, 30),
];

#[tokio::test]
async fn a_pending_stream_resumed_from_a_lagging_checkpoint_holds_every_row_once() {
    bounded(120, async {
        let env = Env::start().await;
        for (case, (written, next, size, total)) in CASES.into_iter().enumerate() {
            let name = format!("pending_{case}");
            let table = env.table_for::<Numbered>(&name);
            let mut first = Writer::<Numbered>::pending_with(&table, options(10))
                .await
                .unwrap();
            first.append(numbered(0..written)).await.unwrap();
            first.flush().await.unwrap();
            let stream = first.stream_name().to_owned();
            // The "crash": the writer is gone, the checkpoint says `next`.
            drop(first);
            assert_eq!(env.emulator.stream_rows(&stream).unwrap(), written);

            let mut resumed = Writer::<Numbered>::resume_with(&table, &stream, next, options(size))
                .await
                .unwrap();
            assert_eq!(resumed.acknowledged_rows(), next);
            let offsets = resumed.append(numbered(next..total)).await.unwrap();
            assert_eq!(offsets, next..total, "case {case}");
            let stats = resumed.stats();
            assert_eq!(
                stats.rows_already_written,
                (written - next) as u64,
                "case {case}: {stats:?}"
            );
            let finalized = resumed.finalize().await.unwrap();
            assert_eq!(finalized.row_count(), total, "case {case}");
            assert!(env.cells(&name).is_empty(), "visible before commit");
            finalized.commit().await.unwrap();
            assert_eq!(
                visible(&env, &name),
                (0..total).collect::<Vec<_>>(),
                "case {case}: ({written}, {next}, {size}, {total})"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_committed_stream_resumed_from_a_lagging_checkpoint_holds_every_row_once() {
    bounded(120, async {
        let env = Env::start().await;
        for (case, (written, next, size, total)) in CASES.into_iter().enumerate() {
            let name = format!("committed_{case}");
            let table = env.table_for::<Numbered>(&name);
            let mut first = Writer::<Numbered>::committed_with(&table, options(10))
                .await
                .unwrap();
            first.append(numbered(0..written)).await.unwrap();
            let stream = first.stream_name().to_owned();
            drop(first);

            let mut resumed =
                Writer::<Numbered, Committed>::resume_with(&table, &stream, next, options(size))
                    .await
                    .unwrap();
            // Pipelined, as a real resumer would: the first request finds
            // the end, the others queue behind it.
            let mut tickets = Vec::new();
            for chunk in numbered(next..total).chunks(size.max(3) / 3 + 1) {
                tickets.push(resumed.send(chunk).await.unwrap());
            }
            let mut end = next;
            for ticket in tickets {
                let offsets = ticket.await.unwrap();
                assert_eq!(offsets.start, end, "case {case}");
                end = offsets.end;
            }
            assert_eq!(end, total, "case {case}");
            assert_eq!(
                resumed.stats().rows_already_written,
                (written - next) as u64,
                "case {case}"
            );
            // Visible without finalize: COMMITTED.
            assert_eq!(
                visible(&env, &name),
                (0..total).collect::<Vec<_>>(),
                "case {case}"
            );
            assert_eq!(resumed.finalize().await.unwrap(), total);
        }
    })
    .await;
}

#[tokio::test]
async fn a_buffered_stream_resumes_and_flushes() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("buffered");
        let mut first = Writer::<Numbered>::buffered_with(&table, options(10))
            .await
            .unwrap();
        first.append(numbered(0..40)).await.unwrap();
        first.flush_to(19).await.unwrap();
        let stream = first.stream_name().to_owned();
        drop(first);
        assert_eq!(visible(&env, "buffered"), (0..20).collect::<Vec<_>>());
        let mut resumed =
            Writer::<Numbered, Buffered>::resume_with(&table, &stream, 25, options(8))
                .await
                .unwrap();
        assert_eq!(resumed.append(numbered(25..60)).await.unwrap(), 25..60);
        resumed.flush().await.unwrap();
        assert_eq!(visible(&env, "buffered"), (0..60).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn a_writer_broken_by_a_lost_answer_tells_a_new_process_where_to_resume() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("lost");
        // No retries: a lost answer breaks the writer, as a crash would.
        let brittle = options(10).retry_policy(RetryPolicy::none());
        let mut writer = Writer::<Numbered>::pending_with(&table, brittle)
            .await
            .unwrap();
        writer.append(numbered(0..30)).await.unwrap();
        // The next request is applied and its answer lost; the requests
        // behind it may or may not have been.
        env.emulator.faults().lose_ack_after_responses(0);
        let err = writer.append(numbered(30..100)).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Transport | ErrorKind::Server),
            "{err}"
        );
        let next = err
            .acknowledged_rows()
            .expect("the error says what is acknowledged");
        let stream = err.stream().expect("the error names the stream").to_owned();
        assert_eq!(next, 30, "{err}");
        assert_eq!(stream, writer.stream_name());
        let later = writer.append(numbered(100..110)).await.unwrap_err();
        assert_eq!(later.kind(), ErrorKind::WriterClosed, "{later}");
        drop(writer);
        assert!(
            env.emulator.stream_rows(&stream).unwrap() > next,
            "the lost request landed"
        );

        // The new process: resume from what the error said, send the rest.
        let mut resumed = Writer::<Numbered>::resume_with(&table, &stream, next, options(10))
            .await
            .unwrap();
        assert_eq!(
            resumed.append(numbered(next..100)).await.unwrap(),
            next..100
        );
        assert!(resumed.stats().rows_already_written >= 10);
        resumed.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(visible(&env, "lost"), (0..100).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn faults_while_the_end_is_searched_write_nothing_twice() {
    bounded(60, async {
        let env = Env::start().await;
        for (case, lose_after) in (0..10).enumerate() {
            let name = format!("probe_faults_{case}");
            let table = env.table_for::<Numbered>(&name);
            let mut first = Writer::<Numbered>::pending_with(&table, options(10))
                .await
                .unwrap();
            first.append(numbered(0..47)).await.unwrap();
            let stream = first.stream_name().to_owned();
            drop(first);
            // The first request (20..40) answers ALREADY_EXISTS, then the
            // probes and the write past the end run; one answer is lost.
            env.emulator.faults().lose_ack_after_responses(lose_after);
            let mut resumed = Writer::<Numbered>::resume_with(&table, &stream, 20, options(20))
                .await
                .unwrap();
            assert_eq!(resumed.append(numbered(20..90)).await.unwrap(), 20..90);
            env.emulator.faults().clear();
            assert!(resumed.reconnects() >= 1, "case {case}");
            resumed.finalize().await.unwrap().commit().await.unwrap();
            assert_eq!(
                visible(&env, &name),
                (0..90).collect::<Vec<_>>(),
                "case {case}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_the_end_is_searched_writes_nothing_twice() {
    bounded(60, async {
        let mut env = Env::start().await;
        let table = env.table_for::<Numbered>("restart");
        let mut first = Writer::<Numbered>::pending_with(&table, options(10))
            .await
            .unwrap();
        first.append(numbered(0..500)).await.unwrap();
        let stream = first.stream_name().to_owned();
        drop(first);
        // A checkpoint 400 rows behind: a dozen requests of 33 rows answer
        // ALREADY_EXISTS and are probed, one straddles the end.
        let mut resumed = Writer::<Numbered>::resume_with(&table, &stream, 100, options(33))
            .await
            .unwrap();
        let write = tokio::spawn(async move {
            let offsets = resumed.append(numbered(100..1_000)).await;
            (resumed, offsets)
        });
        while env.emulator.stream_rows(&stream).unwrap() == 500 && !write.is_finished() {
            tokio::task::yield_now().await;
        }
        env.emulator.restart().await.unwrap();
        let (resumed, offsets) = write.await.unwrap();
        assert_eq!(offsets.unwrap(), 100..1_000);
        // 400 rows were there before; rows the resumed writer wrote itself
        // and whose answer the restart lost are found there too, only
        // within what it resent.
        let stats = resumed.stats();
        let found = stats.rows_already_written;
        assert!(
            found >= 400 && found <= 400 + stats.resent_rows,
            "{stats:?}"
        );
        resumed.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(visible(&env, "restart"), (0..1_000).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn a_checkpoint_past_the_end_is_an_offset_mismatch() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("past");
        let mut first = Writer::<Numbered>::pending(&table).await.unwrap();
        first.append(numbered(0..10)).await.unwrap();
        let stream = first.stream_name().to_owned();
        drop(first);
        let mut resumed = Writer::<Numbered>::resume(&table, &stream, 15)
            .await
            .unwrap();
        let err = resumed.append(numbered(15..20)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OffsetMismatch, "{err}");
        assert_eq!(err.stream(), Some(stream.as_str()));
        assert_eq!(env.emulator.stream_rows(&stream).unwrap(), 10);
    })
    .await;
}

#[tokio::test]
async fn resuming_the_wrong_stream_is_refused_before_anything_is_sent() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("mine");
        let other = env.table_for::<Numbered>("other");
        let mut pending = Writer::<Numbered>::pending(&table).await.unwrap();
        pending.append(numbered(0..5)).await.unwrap();
        let stream = pending.stream_name().to_owned();

        // The wrong stream type marker.
        let err = Writer::<Numbered, Committed>::resume(&table, &stream, 5)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.to_string().contains("PENDING"), "{err}");
        let err = Writer::<Numbered, Buffered>::resume(&table, &stream, 5)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        let committed = Writer::<Numbered>::committed(&table).await.unwrap();
        let err = Writer::<Numbered>::resume(&table, committed.stream_name(), 0)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.to_string().contains("Committed"), "{err}");

        // Another table's stream, `_default`, and a name that is no stream.
        for name in [
            stream.clone(),
            other.path().default_stream(),
            table.path().default_stream(),
            format!("{}/streams/", table.path()),
            "projects/p/datasets/d/tables/t/streams/s".to_owned(),
        ] {
            let on = if name == stream { &other } else { &table };
            let err = Writer::<Numbered>::resume(on, &name, 0).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidPath, "{name}: {err}");
        }
        let err = Writer::<Numbered>::resume(&table, &stream, -1)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");

        // A committed PENDING stream can take nothing more.
        let finalized = pending.finalize().await.unwrap();
        finalized.commit().await.unwrap();
        let err = Writer::<Numbered>::resume(&table, &stream, 5)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.to_string().contains("committed"), "{err}");
        assert_eq!(visible(&env, "mine"), (0..5).collect::<Vec<_>>());
    })
    .await;
}
