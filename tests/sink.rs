//! `Sink`: one row per `send`, from many tasks, batched for the caller;
//! through the emulator, read back.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bqwrite::{BqRow, ErrorKind, FieldSchema, FieldType, Mode, Sink, SinkOptions, TableSchema};
use support::{Env, bounded};

#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    name: Option<String>,
}

/// A sink is shared by tasks on any thread.
const _: fn() = || {
    fn shareable<S: Send + Sync + Clone + 'static>() {}
    shareable::<Sink<Event>>();
};

fn event(id: i64) -> Event {
    Event {
        id,
        name: Some(format!("event {id}")),
    }
}

/// The ids of `table`'s visible rows, checked to be `0..n` each at most once;
/// returns how many are there.
fn distinct_ids(env: &Env, table: &str, n: usize) -> usize {
    let mut seen = vec![false; n];
    let mut count = 0;
    for row in env.cells(table) {
        let id: usize = row[0].as_str().unwrap().parse().unwrap();
        assert!(!seen[id], "row {id} is there twice");
        assert_eq!(row[1].as_str(), Some(format!("event {id}").as_str()));
        seen[id] = true;
        count += 1;
    }
    count
}

/// `n` tasks, each sending one row; every `send` must resolve, `Ok`.
async fn one_row_per_task(sink: &Sink<Event>, n: i64) {
    let tasks: Vec<_> = (0..n)
        .map(|id| {
            let sink = sink.clone();
            tokio::spawn(async move { sink.send(event(id)).await })
        })
        .collect();
    for (id, task) in tasks.into_iter().enumerate() {
        task.await
            .expect("task")
            .unwrap_or_else(|e| panic!("row {id}: {e}"));
    }
}

const TASKS: i64 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_tasks_land_exactly_once_on_a_committed_stream() {
    bounded(300, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("exactly_once");
        // A budget far below the number of tasks: most wait for room.
        let options = SinkOptions::exactly_once().max_buffered_rows(5_000);
        let sink = env
            .client
            .sink_with::<Event>(&table, options)
            .await
            .unwrap();
        assert!(sink.is_exactly_once());
        assert!(!sink.stream_name().ends_with("/_default"));
        // Acks lost on the way: the writer resends, offsets keep it exactly once.
        env.emulator.faults().lose_ack_after_responses(5);
        one_row_per_task(&sink, TASKS).await;
        sink.close().await.unwrap();

        assert_eq!(
            distinct_ids(&env, "exactly_once", TASKS as usize),
            TASKS as usize
        );
        let stats = sink.stats();
        assert_eq!(stats.rows_acknowledged, TASKS as u64);
        assert!(stats.reconnects >= 1, "{stats:?}");
        assert!(
            stats.requests_sent < TASKS as u64 / 10,
            "rows were not batched: {stats:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_tasks_land_on_the_default_stream() {
    bounded(300, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("at_least_once");
        let sink = env.client.sink::<Event>(&table).await.unwrap();
        assert!(sink.stream_name().ends_with("/_default"));
        one_row_per_task(&sink, TASKS).await;
        sink.flush().await.unwrap();
        // No faults: at least once is exactly once.
        assert_eq!(
            distinct_ids(&env, "at_least_once", TASKS as usize),
            TASKS as usize
        );
        sink.close().await.unwrap();
    })
    .await;
}

/// 1,000 tasks each sending rows one at a time, the next once the last is
/// acknowledged: the tasks an answer wakes go in one request together
/// (more than a worker's local run queue holds), not a few hundred at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tasks_an_answer_wakes_send_their_next_rows_together() {
    bounded(120, async {
        const SENDERS: i64 = 1_000;
        const EACH: i64 = 10;
        let env = Env::start().await;
        let table = env.table_for::<Event>("gathered");
        // No linger cut on a busy machine: only the batching policy counts.
        let options = SinkOptions::default().linger(Duration::from_secs(5));
        let sink = env
            .client
            .sink_with::<Event>(&table, options)
            .await
            .unwrap();
        // Every sender starts at once, as after an answer: tasks that
        // started one by one would send their first rows in small groups,
        // and each group's answer wakes only that group from then on.
        let start = Arc::new(tokio::sync::Barrier::new(SENDERS as usize + 1));
        let tasks: Vec<_> = (0..SENDERS)
            .map(|task| {
                let sink = sink.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    for i in 0..EACH {
                        sink.send(event(i * SENDERS + task)).await.unwrap();
                    }
                })
            })
            .collect();
        start.wait().await;
        for task in tasks {
            task.await.unwrap();
        }
        sink.close().await.unwrap();
        let n = (SENDERS * EACH) as usize;
        assert_eq!(distinct_ids(&env, "gathered", n), n);
        let stats = sink.stats();
        // A request per round gathers every sender; a scheduler turn's
        // worth at a time (about 200) would take 5 per round. A busy
        // machine may split a round's senders in two groups (each group's
        // answer then wakes only its own), rarely three.
        assert!(
            stats.requests_acknowledged <= 3 * EACH as u64,
            "{} requests for {EACH} rounds: {stats:?}",
            stats.requests_acknowledged
        );
    })
    .await;
}

/// A linger too long to add to a time (`Duration::MAX`, "never on time
/// alone") still sends: batches go when the sends ready to run have added
/// their rows, or when full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_never_lingers_out_still_sends() {
    bounded(60, async {
        const TASKS: i64 = 2_000;
        let env = Env::start().await;
        let table = env.table_for::<Event>("no_linger_deadline");
        let options = SinkOptions::default().linger(Duration::MAX);
        let sink = env
            .client
            .sink_with::<Event>(&table, options)
            .await
            .unwrap();
        one_row_per_task(&sink, TASKS).await;
        sink.close().await.unwrap();
        let n = TASKS as usize;
        assert_eq!(distinct_ids(&env, "no_linger_deadline", n), n);
    })
    .await;
}

#[derive(Debug, Clone, BqRow)]
struct Doc {
    id: i64,
    #[bq(type = "JSON")]
    body: String,
}

fn doc(id: i64) -> Doc {
    let body = if id % 50 == 7 {
        "{not json".to_owned()
    } else {
        format!("{{\"n\":{id}}}")
    };
    Doc { id, body }
}

/// 200 rows sent at once from one task (so they share one request), rows
/// 7, 57, 107 and 157 rejected by the service.
async fn rejected_rows_fail_alone(options: SinkOptions, table_name: &str) {
    let env = Env::start().await;
    let table = env.table_with(
        table_name,
        TableSchema {
            fields: vec![
                FieldSchema::new("id", FieldType::Int64, Mode::Required),
                FieldSchema::new("body", FieldType::Json, Mode::Nullable),
            ],
        },
    );
    let sink = env.client.sink_with::<Doc>(&table, options).await.unwrap();
    let sends = (0..200).map(|id| {
        let sink = &sink;
        async move { (id, sink.send(doc(id)).await) }
    });
    let outcomes = join_all(sends).await;
    for (id, outcome) in outcomes {
        if id % 50 == 7 {
            let err = outcome.expect_err("a bad row fails its send");
            assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
            assert_eq!(err.row_errors().len(), 1, "{err}");
            assert_eq!(err.row_errors()[0].index, 0);
            assert_eq!(err.row_errors()[0].column.as_deref(), Some("body"));
        } else {
            outcome.unwrap_or_else(|e| panic!("row {id}: {e}"));
        }
    }
    sink.close().await.unwrap();

    let stats = sink.stats();
    assert_eq!(stats.rows_rejected, 4, "{stats:?}");
    assert!(stats.requests_sent < 10, "rows were not batched: {stats:?}");
    let mut ids: Vec<i64> = env
        .cells(table_name)
        .iter()
        .map(|r| r[0].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    let expected: Vec<i64> = (0..200).filter(|id| id % 50 != 7).collect();
    assert_eq!(ids, expected);
}

/// Polls every future in turn from one task, as `join_all` does.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_rejected_row_fails_only_its_own_send_on_the_default_stream() {
    bounded(
        60,
        rejected_rows_fail_alone(SinkOptions::default(), "rejected_default"),
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_rejected_row_fails_only_its_own_send_exactly_once() {
    bounded(
        60,
        rejected_rows_fail_alone(SinkOptions::exactly_once(), "rejected_committed"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_behind_a_rejected_request_are_sent_again_in_order() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_with(
            "unwritten",
            TableSchema {
                fields: vec![
                    FieldSchema::new("id", FieldType::Int64, Mode::Required),
                    FieldSchema::new("body", FieldType::Json, Mode::Nullable),
                ],
            },
        );
        // Requests of 10 rows, all in flight together behind the rejected
        // first one: the sink sends the good rows and those behind again.
        let options = SinkOptions::exactly_once()
            .writer_options(bqwrite::WriterOptions::default().max_rows_per_request(10));
        let sink = env.client.sink_with::<Doc>(&table, options).await.unwrap();
        env.emulator
            .faults()
            .delay_next_responses(1, Duration::from_millis(200));
        let outcomes = join_all((0..100).map(|id| {
            let sink = &sink;
            async move { (id, sink.send(doc(id)).await) }
        }))
        .await;
        let failed: Vec<i64> = outcomes
            .iter()
            .filter(|(_, o)| o.is_err())
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(failed, [7, 57]);
        sink.close().await.unwrap();
        let ids: Vec<i64> = env
            .cells("unwritten")
            .iter()
            .map(|r| r[0].as_str().unwrap().parse().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        let expected: Vec<i64> = (0..100).filter(|id| id % 50 != 7).collect();
        assert_eq!(sorted, expected, "every good row exactly once");
        let stats = sink.stats();
        assert!(stats.rows_unwritten > 0, "{stats:?}");
        // The rows sent again kept their order.
        let resent: Vec<i64> = ids.iter().copied().filter(|id| *id < 10).collect();
        assert!(resent.is_sorted(), "{resent:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_waits_for_rows_whose_send_was_dropped() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("flushed");
        let sink = env.client.sink::<Event>(&table).await.unwrap();
        env.emulator
            .faults()
            .delay_responses(Duration::from_millis(100));
        for id in 0..50 {
            // Polled once: the row is handed on, then the send is dropped.
            let dropped = tokio::time::timeout(Duration::ZERO, sink.send(event(id))).await;
            assert!(dropped.is_err(), "answered at once despite the delay");
        }
        sink.flush().await.unwrap();
        assert_eq!(sink.stats().rows_acknowledged, 50, "flush returned early");
        assert_eq!(distinct_ids(&env, "flushed", 50), 50);
        sink.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_reports_the_failure_of_a_dropped_send() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_with(
            "dropped_bad",
            TableSchema {
                fields: vec![
                    FieldSchema::new("id", FieldType::Int64, Mode::Required),
                    FieldSchema::new("body", FieldType::Json, Mode::Nullable),
                ],
            },
        );
        let sink = env.client.sink::<Doc>(&table).await.unwrap();
        env.emulator
            .faults()
            .delay_responses(Duration::from_millis(50));
        let _ = tokio::time::timeout(Duration::ZERO, sink.send(doc(7))).await;
        let err = sink.flush().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
        assert!(err.to_string().contains("dropped"), "{err}");
        // Reported once.
        sink.flush().await.unwrap();
        sink.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_waits_for_every_row_and_ends_every_clone() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("closed");
        let sink = env
            .client
            .sink_with::<Event>(&table, SinkOptions::exactly_once())
            .await
            .unwrap();
        let other = sink.clone();
        env.emulator
            .faults()
            .delay_responses(Duration::from_millis(50));
        let mut sends: Vec<_> = (0..20).map(|id| Box::pin(sink.send(event(id)))).collect();
        // Poll each once: every row is handed on, none is answered yet.
        std::future::poll_fn(|cx| {
            for send in &mut sends {
                assert!(send.as_mut().poll(cx).is_pending());
            }
            std::task::Poll::Ready(())
        })
        .await;
        sink.close().await.unwrap();
        assert_eq!(distinct_ids(&env, "closed", 20), 20);
        for send in sends {
            send.await.unwrap();
        }
        let err = other.send(event(99)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WriterClosed, "{err}");
        other.close().await.unwrap();
        other.flush().await.unwrap();
        drop(other);
        drop(sink); // closed: no warning
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_cannot_be_sent_fail_in_the_callers_task() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("too_large");
        let options = SinkOptions::default()
            .writer_options(bqwrite::WriterOptions::default().max_request_bytes(2_000));
        let sink = Arc::new(
            env.client
                .sink_with::<Event>(&table, options)
                .await
                .unwrap(),
        );
        let big = Event {
            id: 1,
            name: Some("x".repeat(5_000)),
        };
        let err = sink.send(&big).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowTooLarge, "{err}");
        sink.send(event(2)).await.unwrap();
        sink.close().await.unwrap();
        assert_eq!(env.cells("too_large").len(), 1);
    })
    .await;
}

/// Set in the child process of the drop-warning test.
const DROP_CHILD: &str = "BQWRITE_SINK_DROP_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_clone_without_close_warns() {
    if let Ok(scenario) = std::env::var(DROP_CHILD) {
        // In the child: no tracing subscriber, so the warning goes to stderr.
        let env = Env::start().await;
        let table = env.table_for::<Event>("dropped");
        let sink = env.client.sink::<Event>(&table).await.unwrap();
        sink.send(event(1)).await.unwrap();
        let clone = sink.clone();
        drop(sink);
        eprintln!("MARK: one clone dropped");
        if scenario == "close" {
            clone.close().await.unwrap();
        }
        drop(clone);
        eprintln!("MARK: last clone dropped");
        return;
    }
    let run = |scenario: &str| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "dropping_the_last_clone_without_close_warns",
                "--nocapture",
            ])
            .env(DROP_CHILD, scenario)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    let stderr = run("drop");
    let (before, after) = stderr
        .split_once("MARK: one clone dropped")
        .expect("the child ran");
    assert!(!before.contains("dropped without close"), "{stderr}");
    let (last, _) = after.split_once("MARK: last clone dropped").unwrap();
    assert!(
        last.contains("bqwrite: warning: sink of `projects/test-project/datasets/test_dataset/tables/dropped/streams/_default` dropped without close"),
        "{stderr}"
    );
    let stderr = run("close");
    assert!(!stderr.contains("dropped without close"), "{stderr}");
    assert!(stderr.contains("MARK: last clone dropped"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_send_resolves_when_the_writer_under_the_sink_fails_for_good() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("broken");
        let sink = env.client.sink::<Event>(&table).await.unwrap();
        // A permanent error: the writer under the sink closes.
        env.emulator
            .faults()
            .fail_next_requests(1, tonic::Code::PermissionDenied, "no");
        let tasks: Vec<_> = (0..100)
            .map(|id| {
                let sink = sink.clone();
                tokio::spawn(async move { sink.send(event(id)).await })
            })
            .collect();
        let mut denied = 0;
        for task in tasks {
            if let Err(e) = task.await.unwrap() {
                denied += usize::from(e.kind() == ErrorKind::Auth);
            }
        }
        assert!(denied > 0, "the failing request's rows carry its error");
        let err = sink.flush().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WriterClosed, "{err}");
        let err = sink.send(event(1_000)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WriterClosed, "{err}");
        sink.close().await.unwrap_err();
    })
    .await;
}
