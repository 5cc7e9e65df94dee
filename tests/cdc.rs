//! Changes by primary key (CDC) through the `_default` writer into the
//! emulator: the merged table must equal the changes applied in memory.

mod support;

use std::time::Duration;

use bqwrite::{BqRow, Change, ChangeSequence, ErrorKind, RetryPolicy, Writer, WriterOptions};
use support::accounts::{Account, keyed_table, merged, model};
use support::{Env, bounded};

const KEYS: u64 = 1_000;
const CHANGES: usize = 100_000;
const BATCH: usize = 10_000;

/// xorshift64*: a seeded, dependency-free generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// `n` random upserts (70%) and deletes over `KEYS` keys, in the order they
/// happened; an upsert's owner is NULL one time in five.
fn random_changes(seed: u64, n: usize) -> Vec<Change<Account>> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let id = (rng.next() % KEYS) as i64;
            let roll = rng.next() % 10;
            let row = Account {
                id,
                owner: (!roll.is_multiple_of(5)).then(|| format!("owner-{}", rng.next() % 97)),
                balance: (rng.next() % 1_000_000) as i64 - 500_000 + i as i64,
            };
            if roll < 3 {
                Change::delete(row)
            } else {
                Change::upsert(row)
            }
        })
        .collect()
}

fn options() -> WriterOptions {
    WriterOptions::default()
        .max_rows_per_request(500)
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(20)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(20)),
        )
}

/// Gives every change its place in `changes` as a two-section sequence,
/// then shuffles them: the arrival order is no longer the order of events.
fn sequenced_and_shuffled(mut changes: Vec<Change<Account>>, seed: u64) -> Vec<Change<Account>> {
    for (i, change) in changes.iter_mut().enumerate() {
        let i = i as u64;
        let seq = ChangeSequence::new([i / 1_000, i % 1_000]).unwrap();
        *change = change.clone().sequence(seq);
    }
    let mut rng = Rng(seed);
    for i in (1..changes.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        changes.swap(i, j);
    }
    changes
}

#[tokio::test]
async fn without_sequences_the_last_arrival_wins() {
    bounded(300, async {
        let env = Env::start().await;
        let table = keyed_table(&env, &env.client, "cdc_arrival");
        let changes = random_changes(0x5eed, CHANGES);
        let mut writer = Writer::<Account>::default_stream_with(&table, options())
            .await
            .unwrap();
        for batch in changes.chunks(BATCH) {
            let written = writer.append_changes(batch).await.unwrap();
            assert_eq!(written, batch.len() as u64);
        }
        let expected = model(&changes);
        assert!(expected.len() > 500, "the run deletes some keys, not all");
        assert_eq!(merged(&env, "cdc_arrival"), expected);
    })
    .await;
}

#[tokio::test]
async fn with_sequences_the_highest_wins_in_any_arrival_order() {
    bounded(300, async {
        let env = Env::start().await;
        let table = keyed_table(&env, &env.client, "cdc_sequenced");
        let changes = random_changes(0xface, CHANGES);
        let expected = model(&changes);
        let shuffled = sequenced_and_shuffled(changes, 7);
        assert_ne!(
            model(&shuffled),
            expected,
            "arrival order alone would be wrong"
        );
        let mut writer = Writer::<Account>::default_stream_with(&table, options())
            .await
            .unwrap();
        for batch in shuffled.chunks(BATCH) {
            writer.append_changes(batch.iter().cloned()).await.unwrap();
        }
        assert_eq!(merged(&env, "cdc_sequenced"), expected);
    })
    .await;
}

#[tokio::test]
async fn with_sequences_changes_replayed_after_cuts_alter_nothing() {
    bounded(300, async {
        let env = Env::start().await;
        let table = keyed_table(&env, &env.client, "cdc_cuts");
        let changes = random_changes(0xc0ffee, CHANGES);
        let expected = model(&changes);
        let shuffled = sequenced_and_shuffled(changes, 11);
        let mut writer = Writer::<Account>::default_stream_with(&table, options())
            .await
            .unwrap();
        for (round, batch) in shuffled.chunks(BATCH).enumerate() {
            // a cut that loses requests, or one that applies a request
            // and loses its answer (the writer sends it again)
            if round % 2 == 0 {
                env.emulator.faults().lose_ack_after_responses(3 + round);
            } else {
                env.emulator.faults().close_after_responses(2 + round);
            }
            writer.append_changes(batch).await.unwrap();
        }
        env.emulator.faults().clear();
        let stats = writer.stats();
        assert!(stats.reconnects >= 5, "{stats:?}");
        assert!(stats.resent_rows > 0, "some changes went twice: {stats:?}");
        assert_eq!(merged(&env, "cdc_cuts"), expected);
    })
    .await;
}

#[tokio::test]
async fn an_upsert_replaces_the_whole_row_and_plain_rows_mix_in() {
    bounded(30, async {
        let env = Env::start().await;
        let table = keyed_table(&env, &env.client, "cdc_replace");
        let mut writer = Writer::<Account>::default_stream(&table).await.unwrap();
        let row = |id, owner: Option<&str>, balance| Account {
            id,
            owner: owner.map(str::to_owned),
            balance,
        };
        writer.append([row(1, Some("ada"), 10)]).await.unwrap();
        writer
            .append_changes([
                Change::upsert(row(1, None, 11)),
                Change::upsert(row(2, Some("bob"), 20)),
                Change::delete(row(3, None, 0)),
            ])
            .await
            .unwrap();
        // after the first change, plain rows go with the change schema
        writer.append([row(3, Some("cy"), 30)]).await.unwrap();
        writer
            .append_changes([Change::delete(row(2, None, 0)).sequence(5)])
            .await
            .unwrap();
        let got: Vec<Account> = merged(&env, "cdc_replace").into_values().collect();
        assert_eq!(got, [row(1, None, 11), row(3, Some("cy"), 30)]);
        assert_eq!(writer.acknowledged_rows(), 6);
    })
    .await;
}

#[tokio::test]
async fn a_table_without_primary_key_refuses_changes() {
    bounded(30, async {
        let env = Env::start().await;
        let table = env.table_for::<Account>("cdc_no_key");
        let mut writer = Writer::<Account>::default_stream(&table).await.unwrap();
        let account = Account {
            id: 1,
            owner: None,
            balance: 0,
        };
        let err = writer
            .append_changes([Change::upsert(account)])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SchemaMismatch, "{err}");
        assert!(err.to_string().contains("has none"), "{err}");
        assert!(err.to_string().contains("cdc_no_key"), "{err}");
        let account = Account {
            id: 2,
            owner: None,
            balance: 0,
        };
        let closed = writer.append([account]).await.unwrap_err();
        assert_eq!(closed.kind(), ErrorKind::WriterClosed, "{closed}");
        assert_eq!(env.emulator.row_count(&Env::path("cdc_no_key")).unwrap(), 0);
    })
    .await;
}

#[derive(Debug, Clone, BqRow)]
struct Regional {
    id: i64,
    region: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Clone, BqRow)]
struct NoRegion {
    id: i64,
    name: Option<String>,
}

#[tokio::test]
async fn a_row_type_without_every_key_column_is_refused() {
    bounded(30, async {
        let env = Env::start().await;
        let path = Env::path("cdc_regional");
        env.emulator
            .create_table_with_primary_key(&path, Regional::table_schema(), ["id", "region"])
            .unwrap();
        assert_eq!(env.emulator.primary_key(&path).unwrap(), ["id", "region"]);
        let table = env.client.table_from_path(&path).unwrap();
        let mut writer = Writer::<NoRegion>::default_stream(&table).await.unwrap();
        let err = writer
            .append_changes([Change::upsert(NoRegion { id: 1, name: None })])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SchemaMismatch, "{err}");
        assert!(err.to_string().contains("`region`"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn primary_keys_are_checked_when_tables_are_made() {
    bounded(30, async {
        let env = Env::start().await;
        let path = |t: &str| Env::path(t);
        let schema = Regional::table_schema;
        let err = |key: Vec<&str>, t: &str| {
            env.emulator
                .create_table_with_primary_key(&path(t), schema(), key)
                .unwrap_err()
                .to_string()
        };
        assert!(err(vec!["nope"], "k1").contains("`nope` is not a column"));
        assert!(err(vec!["id", "ID"], "k2").contains("listed twice"));
        assert!(err(vec![], "k3").contains("at least one column"));
        assert!(err(vec!["id"; 17], "k4").contains("at most 16"));
    })
    .await;
}
