//! `ChangeSink`: changes by primary key (CDC), one per `send`, from many
//! tasks, batched for the caller; through the emulator into a table with a
//! primary key, read back merged and compared with the changes applied in
//! memory.

mod support;

use std::time::Duration;

use bqwrite::{
    BqRow, Change, ChangeSequence, ChangeSink, Client, ErrorKind, RetryPolicy, SinkOptions,
    WriterOptions,
};
use support::accounts::{Account, keyed_table, merged, model};
use support::proxy::{Rng, chaos_seed, start_proxy};
use support::{Env, bounded};

/// A change sink is shared by tasks on any thread.
const _: fn() = || {
    fn shareable<S: Send + Sync + Clone + 'static>() {}
    shareable::<ChangeSink<Account>>();
};

const KEYS: u64 = 100;
const TASKS: usize = 1_000;
/// Changes each task sends, one after the other.
const EACH: usize = 10;

/// `n` random upserts (70%) and deletes over `KEYS` keys, each with its
/// place in the list as its sequence (two sections).
fn random_changes(seed: u64, n: usize) -> Vec<Change<Account>> {
    let mut rng = Rng::new(seed);
    (0..n as u64)
        .map(|i| {
            let id = rng.below(KEYS) as i64;
            let roll = rng.below(10);
            let row = Account {
                id,
                owner: (!roll.is_multiple_of(5)).then(|| format!("owner-{}", rng.below(97))),
                balance: rng.below(1_000_000) as i64 - 500_000,
            };
            let change = if roll < 3 {
                Change::delete(row)
            } else {
                Change::upsert(row)
            };
            change.sequence(ChangeSequence::new([i / 1_000, i % 1_000]).unwrap())
        })
        .collect()
}

/// `TASKS` tasks, task `t` sending changes `t`, `t + TASKS`, ... one
/// after the other: arrival order is the scheduler's, sequences put it
/// right. Every `send` must resolve `Ok`.
async fn send_from_many_tasks(sink: &ChangeSink<Account>, changes: &[Change<Account>]) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let sink = sink.clone();
            let mine: Vec<_> = changes.iter().skip(t).step_by(TASKS).cloned().collect();
            tokio::spawn(async move {
                for change in mine {
                    sink.send(change).await?;
                }
                Ok::<_, bqwrite::Error>(())
            })
        })
        .collect();
    for (t, task) in tasks.into_iter().enumerate() {
        let sent = task.await.expect("task");
        sent.unwrap_or_else(|e| panic!("task {t}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_of_upserts_and_deletes_leave_the_table_the_model_says() {
    bounded(120, async {
        let env = Env::start().await;
        let table = keyed_table(&env, &env.client, "many_tasks");
        let changes = random_changes(0x5eed, TASKS * EACH);
        let expected = model(&changes);
        assert!(
            expected.len() > 20 && expected.len() < KEYS as usize,
            "the run deletes some keys, not all: {}",
            expected.len()
        );
        let sink = env.client.change_sink::<Account>(&table).await.unwrap();
        assert!(sink.stream_name().ends_with("/_default"));
        assert!(!sink.is_exactly_once());
        send_from_many_tasks(&sink, &changes).await;
        sink.close().await.unwrap();

        assert_eq!(merged(&env, "many_tasks"), expected);
        let stats = sink.stats();
        assert_eq!(stats.rows_acknowledged, (TASKS * EACH) as u64, "{stats:?}");
        assert!(
            stats.requests_sent < (TASKS * EACH) as u64 / 10,
            "changes were not batched: {stats:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_replayed_after_cut_connections_alter_nothing() {
    bounded(300, async {
        let seed = chaos_seed("change_sink_cuts");
        let env = Env::start().await;
        // Cuts after ~4 KB of requests on average, 30 at most: the run
        // sends about 400 KB, so every cut happens mid-run.
        let proxy = start_proxy(env.emulator.grpc_addr(), seed, 4 * 1024, 30).await;
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
        let table = keyed_table(&env, &client, "cuts");
        let changes = random_changes(seed, TASKS * EACH);
        let writer = WriterOptions::default()
            .max_request_bytes(8 * 1024)
            .response_timeout(Duration::from_secs(10))
            .retry_policy(retry);
        let options = SinkOptions::at_least_once().writer_options(writer);
        let sink = client
            .change_sink_with::<Account>(&table, options)
            .await
            .unwrap();
        send_from_many_tasks(&sink, &changes).await;
        sink.close().await.unwrap();

        assert_eq!(proxy.cuts(), 30, "the run ended before every cut was made");
        let stats = sink.stats();
        assert!(stats.reconnects > 0, "{stats:?}");
        assert!(stats.resent_rows > 0, "some changes went twice: {stats:?}");
        assert_eq!(merged(&env, "cuts"), model(&changes));
    })
    .await;
}

#[derive(Debug, Clone, BqRow)]
struct Doc {
    id: i64,
    #[bq(type = "JSON")]
    body: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_change_fails_only_its_own_send() {
    bounded(60, async {
        let env = Env::start().await;
        let path = Env::path("bad_change");
        env.emulator
            .create_table_with_primary_key(&path, Doc::table_schema(), ["id"])
            .unwrap();
        let table = env.client.table_from_path(&path).unwrap();
        let sink = env.client.change_sink::<Doc>(&table).await.unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|id| {
                let sink = sink.clone();
                let body = if id % 50 == 7 {
                    "{not json".to_owned()
                } else {
                    format!("{{\"n\":{id}}}")
                };
                let change = Change::upsert(Doc { id, body }).sequence(id as u64);
                tokio::spawn(async move { (id, sink.send(change).await) })
            })
            .collect();
        let mut failed = Vec::new();
        for task in tasks {
            let (id, outcome) = task.await.expect("task");
            match outcome {
                Ok(()) => {}
                Err(err) => {
                    assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
                    assert_eq!(err.row_errors().len(), 1, "{err}");
                    assert_eq!(err.row_errors()[0].index, 0);
                    assert_eq!(err.row_errors()[0].column.as_deref(), Some("body"));
                    failed.push(id);
                }
            }
        }
        assert_eq!(failed, [7, 57, 107, 157]);
        sink.close().await.unwrap();
        assert_eq!(sink.stats().rows_rejected, 4, "{:?}", sink.stats());
        let mut ids: Vec<i64> = env
            .cells("bad_change")
            .iter()
            .map(|r| r[0].as_str().unwrap().parse().unwrap())
            .collect();
        ids.sort_unstable();
        let expected: Vec<i64> = (0..200).filter(|id| id % 50 != 7).collect();
        assert_eq!(ids, expected);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_without_a_primary_key_fails_the_sends_with_the_services_reason() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Account>("no_key");
        let sink = env.client.change_sink::<Account>(&table).await.unwrap();
        let tasks: Vec<_> = (0..100)
            .map(|id| {
                let sink = sink.clone();
                let row = Account {
                    id,
                    owner: None,
                    balance: 0,
                };
                tokio::spawn(async move { sink.send(Change::upsert(row)).await })
            })
            .collect();
        let mut refused = 0;
        for task in tasks {
            let err = task.await.expect("task").expect_err("no change is taken");
            assert!(err.to_string().contains("has none"), "{err}");
            match err.kind() {
                ErrorKind::SchemaMismatch => {
                    assert!(err.to_string().contains("no_key"), "{err}");
                    refused += 1;
                }
                ErrorKind::WriterClosed => {}
                other => panic!("{other:?}: {err}"),
            }
        }
        assert!(refused >= 1, "the first changes say why");
        let closed = sink.close().await.unwrap_err();
        assert_eq!(closed.kind(), ErrorKind::WriterClosed, "{closed}");
        assert_eq!(env.emulator.row_count(&Env::path("no_key")).unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn an_exactly_once_change_sink_is_refused_before_anything_is_sent() {
    bounded(30, async {
        let env = Env::start().await;
        let table = keyed_table(&env, &env.client, "exactly_once");
        let err = env
            .client
            .change_sink_with::<Account>(&table, SinkOptions::exactly_once())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.to_string().contains("`_default`"), "{err}");
        assert!(err.to_string().contains("exactly once"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn a_change_sink_takes_references_and_flushes() {
    bounded(30, async {
        let env = Env::start().await;
        let table = keyed_table(&env, &env.client, "by_ref");
        let sink = env.client.change_sink::<Account>(&table).await.unwrap();
        let ada = Account {
            id: 1,
            owner: Some("ada".into()),
            balance: 10,
        };
        let upsert = Change::upsert(&ada).sequence(1);
        sink.send(&upsert).await.unwrap();
        sink.send(Change::upsert(Box::new(ada.clone())).sequence(2))
            .await
            .unwrap();
        sink.send(Change::delete(&ada).sequence(3)).await.unwrap();
        sink.flush().await.unwrap();
        assert!(merged(&env, "by_ref").is_empty(), "deleted last");
        sink.send(Change::upsert(ada.clone()).sequence(4))
            .await
            .unwrap();
        sink.close().await.unwrap();
        assert_eq!(
            merged(&env, "by_ref").into_values().collect::<Vec<_>>(),
            std::slice::from_ref(&ada)
        );
        let closed = sink.send(Change::upsert(&ada)).await.unwrap_err();
        assert_eq!(closed.kind(), ErrorKind::WriterClosed);
        assert!(format!("{sink:?}").contains("changes"), "{sink:?}");
    })
    .await;
}
