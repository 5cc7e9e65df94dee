//! `PendingGroup`: rows spread over several PENDING streams on several
//! connections, made visible by one atomic commit; through the emulator.

mod support;

use std::sync::Arc;

use bqwrite::proto::storage::storage_error::StorageErrorCode;
use bqwrite::{BqRow, ErrorKind, Writer, WriterOptions};
use support::{Env, bounded};

#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    name: Option<String>,
}

fn events(ids: std::ops::Range<i64>) -> Vec<Event> {
    ids.map(|id| Event {
        id,
        name: Some(format!("event {id}")),
    })
    .collect()
}

fn sorted_ids(env: &Env, table: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = env
        .cells(table)
        .iter()
        .map(|r| r[0].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_spreads_rows_over_its_streams_and_commits_them_at_once() {
    bounded(120, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("fanned");
        let group = Arc::new(
            table
                .pending_group_with::<Event>(4, WriterOptions::default().max_rows_per_request(100))
                .await
                .unwrap(),
        );
        assert_eq!(group.len(), 4);
        let names = group.stream_names();
        // 8 tasks, 10 calls of 1,000 rows each.
        let tasks: Vec<_> = (0..8i64)
            .map(|t| {
                let group = group.clone();
                tokio::spawn(async move {
                    for call in 0..10 {
                        let first = (t * 10 + call) * 1_000;
                        let offsets = group.append(events(first..first + 1_000)).await?;
                        assert_eq!(offsets.end - offsets.start, 1_000);
                    }
                    Ok::<(), bqwrite::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        // Calls from a single task go out pipelined, spread too.
        let mut tickets = Vec::new();
        for call in 0..8 {
            let first = 80_000 + call * 1_000;
            tickets.push(group.send(events(first..first + 1_000)).await.unwrap());
        }
        for ticket in tickets {
            ticket.await.unwrap();
        }
        assert_eq!(group.acknowledged_rows(), 88_000);
        assert!(env.cells("fanned").is_empty(), "visible before the commit");
        for name in &names {
            let rows = env.emulator.stream_rows(name).unwrap();
            assert!(rows > 0, "stream {name} got no rows");
        }

        let group = Arc::into_inner(group).expect("every task is done");
        let commit = group.commit().await.unwrap();
        assert_eq!(commit.rows(), 88_000);
        assert_eq!(commit.streams().len(), 4);
        assert_eq!(sorted_ids(&env, "fanned"), (0..88_000).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_of_a_group_is_visible_when_its_commit_fails() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("all_or_nothing");
        let group = table.pending_group::<Event>(3).await.unwrap();
        for call in 0..6 {
            group
                .append(events(call * 10..call * 10 + 10))
                .await
                .unwrap();
        }
        let finalized = group.finalize().await.unwrap();
        assert_eq!(finalized.len(), 3);
        assert_eq!(finalized.iter().map(|f| f.row_count()).sum::<i64>(), 60);

        // A stream committed on its own cannot be committed again: a commit
        // that lists it fails, and commits none of the others.
        let mut other = Writer::<Event>::pending(&table).await.unwrap();
        other.append(events(1_000..1_001)).await.unwrap();
        let other = other.finalize().await.unwrap();
        other.clone().commit().await.unwrap();
        let err = table
            .commit(finalized.iter().cloned().chain([other]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CommitFailed, "{err}");
        assert_eq!(
            err.storage_error(),
            Some(StorageErrorCode::StreamAlreadyCommitted)
        );
        assert_eq!(
            sorted_ids(&env, "all_or_nothing"),
            [1_000],
            "a group stream is visible"
        );

        // The failed commit left the group's streams committable, together.
        let commit = table.commit(finalized).await.unwrap();
        assert_eq!(commit.rows(), 60);
        let mut expected: Vec<i64> = (0..60).collect();
        expected.push(1_000);
        assert_eq!(sorted_ids(&env, "all_or_nothing"), expected);
    })
    .await;
}

#[tokio::test]
async fn a_group_needs_a_stream() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("none");
        let err = table.pending_group::<Event>(0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    })
    .await;
}
