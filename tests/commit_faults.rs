//! Commits and finalizes that never lie: answers lost after the service
//! acted, retries, duplicate and foreign streams, and a coordinator that
//! commits streams other writers finalized.

mod support;

use std::time::Duration;

use bqwrite::proto::storage::storage_error::StorageErrorCode;
use bqwrite::{BqRow, Client, CommitOutcome, ErrorKind, Finalized, RetryPolicy, Table, Writer};
use bqwrite_emulator::UnaryMethod;
use support::{Env, bounded};

#[derive(Debug, Clone, BqRow)]
struct Numbered {
    n: i64,
}

fn numbered(range: std::ops::Range<i64>) -> Vec<Numbered> {
    range.map(|n| Numbered { n }).collect()
}

/// A client of the test's emulator with fast retries (`attempts` of them).
async fn client(env: &Env, attempts: u32) -> Client {
    Client::builder()
        .emulator(env.emulator.grpc_addr().to_string())
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(attempts)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(5)),
        )
        .build()
        .await
        .expect("client")
}

/// Creates `name` and returns it through `client`.
fn table(env: &Env, client: &Client, name: &str) -> Table {
    env.table_for::<Numbered>(name);
    client
        .table_from_path(&Env::path(name))
        .expect("table path")
}

/// Writes `rows` to a new pending stream of `table` and finalizes it.
async fn finalized(table: &Table, rows: std::ops::Range<i64>) -> Finalized {
    let mut writer = Writer::<Numbered>::pending(table).await.unwrap();
    writer.append(numbered(rows)).await.unwrap();
    writer.finalize().await.unwrap()
}

/// Writes `rows` to a new pending stream and leaves it unfinalized.
async fn unfinalized(table: &Table, rows: std::ops::Range<i64>) -> String {
    let mut writer = Writer::<Numbered>::pending(table).await.unwrap();
    writer.append(numbered(rows)).await.unwrap();
    writer.stream_name().to_owned()
}

fn visible(env: &Env, table: &str) -> Vec<i64> {
    env.cells(table)
        .iter()
        .map(|row| row[0].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn a_commit_whose_answer_was_lost_is_reported_as_committed_after_the_retry() {
    bounded(60, async {
        let env = Env::start().await;
        let client = client(&env, 5).await;
        let table = table(&env, &client, "lost_commit");
        let a = finalized(&table, 0..10).await;
        let b = finalized(&table, 10..25).await;
        env.emulator
            .faults()
            .drop_next_unary_answer(UnaryMethod::BatchCommitWriteStreams);
        // the retry is refused (both streams already committed): the
        // streams' commit times say the first attempt did it
        let commit = table.commit([a, b]).await.expect("committed");
        assert_eq!(commit.rows(), 25);
        assert_eq!(commit.streams().len(), 2);
        assert_eq!(visible(&env, "lost_commit"), (0..25).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn a_lost_answer_without_retries_is_settled_from_the_streams() {
    bounded(60, async {
        let env = Env::start().await;
        let client = client(&env, 0).await;
        let table = table(&env, &client, "no_retry");
        let a = finalized(&table, 0..5).await;
        env.emulator
            .faults()
            .drop_next_unary_answer(UnaryMethod::BatchCommitWriteStreams);
        let commit = a.commit().await.expect("committed by the only attempt");
        assert_eq!(commit.rows(), 5);
        assert_eq!(visible(&env, "no_retry"), (0..5).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn every_answer_lost_still_reports_the_first_commit() {
    bounded(60, async {
        let env = Env::start().await;
        let client = client(&env, 3).await;
        let table = table(&env, &client, "all_lost");
        let a = finalized(&table, 0..7).await;
        env.emulator
            .faults()
            .drop_next_unary_answers(UnaryMethod::BatchCommitWriteStreams, 100);
        let commit = a.commit().await.expect("committed by the first attempt");
        assert_eq!(commit.rows(), 7);
        assert_eq!(visible(&env, "all_lost").len(), 7);
    })
    .await;
}

#[tokio::test]
async fn an_outcome_that_cannot_be_established_is_unknown_never_a_guess() {
    bounded(60, async {
        let env = Env::start().await;
        let client = client(&env, 1).await;
        let table = table(&env, &client, "unknown");
        let a = finalized(&table, 0..3).await;
        let faults = env.emulator.faults();
        faults.drop_next_unary_answers(UnaryMethod::BatchCommitWriteStreams, 100);
        faults.drop_next_unary_answers(UnaryMethod::GetWriteStream, 100);
        let err = a
            .clone()
            .commit()
            .await
            .expect_err("nothing can be established");
        assert_eq!(err.commit_outcome(), Some(CommitOutcome::Unknown), "{err}");
        assert!(err.to_string().contains("outcome: unknown"), "{err}");
        // it did commit; asking again once the service answers says so
        faults.clear();
        let err = a.commit().await.expect_err("committed before this call");
        assert_eq!(err.kind(), ErrorKind::CommitFailed);
        assert_eq!(
            err.commit_outcome(),
            Some(CommitOutcome::Committed),
            "{err}"
        );
        assert_eq!(
            err.storage_error(),
            Some(StorageErrorCode::StreamAlreadyCommitted)
        );
        assert!(err.to_string().contains("outcome: committed"), "{err}");
        assert_eq!(visible(&env, "unknown").len(), 3, "committed once");
    })
    .await;
}

#[tokio::test]
async fn a_refusal_after_a_retry_is_checked_and_reported_as_not_committed() {
    bounded(60, async {
        let env = Env::start().await;
        let client = client(&env, 3).await;
        let table = table(&env, &client, "refused");
        let done = finalized(&table, 0..4).await;
        // a stream that is not finalized: the commit is refused
        let open = unfinalized(&table, 4..6).await;
        let open = Finalized::from_parts(&table, open, 2).unwrap();
        // the first attempt is lost (not applied); the retry is refused
        env.emulator
            .faults()
            .fail_next_requests(1, tonic::Code::Unavailable, "connection reset");
        let err = table.commit([done, open]).await.expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::CommitFailed);
        assert_eq!(
            err.commit_outcome(),
            Some(CommitOutcome::NotCommitted),
            "{err}"
        );
        assert_eq!(
            err.storage_error(),
            Some(StorageErrorCode::InvalidStreamState)
        );
        assert!(err.to_string().contains("outcome: not committed"), "{err}");
        assert!(visible(&env, "refused").is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_refused_first_attempt_is_not_committed() {
    bounded(60, async {
        let env = Env::start().await;
        let client = client(&env, 3).await;
        let table = table(&env, &client, "refused_once");
        let open = unfinalized(&table, 0..2).await;
        let open = Finalized::from_parts(&table, open, 2).unwrap();
        let err = open.commit().await.expect_err("not finalized");
        assert_eq!(err.kind(), ErrorKind::CommitFailed);
        assert_eq!(err.commit_outcome(), Some(CommitOutcome::NotCommitted));
        assert!(err.to_string().contains("outcome: not committed"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn the_same_stream_twice_is_refused_before_anything_is_sent() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("twice");
        let a = finalized(&table, 0..3).await;
        let err = table
            .commit([a.clone(), a.clone()])
            .await
            .expect_err("duplicate");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.commit_outcome(), Some(CommitOutcome::NotCommitted));
        assert!(err.to_string().contains("twice"), "{err}");
        assert!(visible(&env, "twice").is_empty());
        let err = table.commit([]).await.expect_err("nothing to commit");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.commit_outcome(), Some(CommitOutcome::NotCommitted));
        let commit = table.commit([a]).await.unwrap();
        assert_eq!(commit.rows(), 3);
    })
    .await;
}

#[tokio::test]
async fn finalizing_survives_a_lost_answer_in_the_writer_and_by_name() {
    bounded(60, async {
        let env = Env::start().await;
        let client = client(&env, 3).await;
        let table = table(&env, &client, "finalize");
        let faults = env.emulator.faults();

        let mut writer = Writer::<Numbered>::pending(&table).await.unwrap();
        writer.append(numbered(0..6)).await.unwrap();
        faults.drop_next_unary_answer(UnaryMethod::FinalizeWriteStream);
        let by_writer = writer.finalize().await.expect("finalized on the retry");
        assert_eq!(by_writer.row_count(), 6);

        // a stream whose writer is gone, finalized by name
        let orphan = unfinalized(&table, 6..10).await;
        faults.drop_next_unary_answer(UnaryMethod::FinalizeWriteStream);
        let by_name = table.finalize_stream(&orphan).await.expect("finalized");
        assert_eq!(by_name.name(), orphan);
        assert_eq!(by_name.row_count(), 4);
        // finalizing again is harmless and gives the same count
        let again = table.finalize_stream(&orphan).await.unwrap();
        assert_eq!(again.row_count(), 4);

        let commit = table.commit([by_writer, by_name]).await.unwrap();
        assert_eq!(commit.rows(), 10);
        assert_eq!(visible(&env, "finalize"), (0..10).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn finalize_stream_refuses_names_that_are_not_streams_of_the_table() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("names");
        let other = env.table_for::<Numbered>("other");
        let foreign = unfinalized(&other, 0..1).await;
        for bad in [
            foreign.clone(),
            table.path().default_stream(),
            format!("{}/streams/", table.path()),
            "streams/x".to_owned(),
        ] {
            let err = table.finalize_stream(&bad).await.expect_err(&bad);
            assert_eq!(err.kind(), ErrorKind::InvalidPath, "{bad}: {err}");
            let err = Finalized::from_parts(&table, bad.clone(), 1).expect_err(&bad);
            assert_eq!(err.kind(), ErrorKind::InvalidPath, "{bad}: {err}");
        }
        let missing = format!("{}/streams/nope", table.path());
        let err = table.finalize_stream(&missing).await.expect_err("unknown");
        assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
        let err = Finalized::from_parts(&other, foreign, -1).expect_err("negative");
        assert_eq!(err.kind(), ErrorKind::Config);
    })
    .await;
}

#[tokio::test]
async fn a_coordinator_commits_streams_that_workers_finalized() {
    bounded(60, async {
        let env = Env::start().await;
        env.table_for::<Numbered>("coordinated");
        // each worker has its own client, as another process would
        let mut reports = Vec::new();
        for w in 0..3i64 {
            let worker = client(&env, 3).await;
            let table = worker.table_from_path(&Env::path("coordinated")).unwrap();
            let done = finalized(&table, w * 100..w * 100 + 50).await;
            reports.push((done.name().to_owned(), done.row_count()));
        }
        let coordinator = client(&env, 3).await;
        let table = coordinator
            .table_from_path(&Env::path("coordinated"))
            .unwrap();
        let streams: Vec<Finalized> = reports
            .into_iter()
            .map(|(name, rows)| Finalized::from_parts(&table, name, rows).unwrap())
            .collect();
        let commit = table.commit(streams).await.unwrap();
        assert_eq!(commit.rows(), 150);
        assert_eq!(commit.streams().len(), 3);
        assert_eq!(visible(&env, "coordinated").len(), 150);
    })
    .await;
}
