//! The table changes under running writers (issue 12): columns added while
//! rows are written, a new row type deployed right after `ALTER TABLE ADD
//! COLUMN` (the column reaches the write path later), a dropped column, a
//! REQUIRED column relaxed, a table deleted and recreated. Every row is
//! read back from the emulator.

mod support;

use std::time::Duration;

use bqwrite::{BqRow, ErrorKind, Mode, Table, Writer, WriterOptions};
use bqwrite_emulator::{Emulator, Value};
use support::{Env, bounded};
use tonic::Code;

/// The row type deployed first.
#[derive(Debug, Clone, BqRow)]
struct EventV1 {
    id: i64,
}

/// The row type deployed after `note` was added.
#[derive(Debug, Clone, BqRow)]
struct EventV2 {
    id: i64,
    note: Option<String>,
}

/// A row type whose `note` column starts REQUIRED.
#[derive(Debug, Clone, BqRow)]
struct Strict {
    id: i64,
    note: String,
}

fn v1(ids: std::ops::Range<i64>) -> Vec<EventV1> {
    ids.map(|id| EventV1 { id }).collect()
}

fn v2(ids: std::ops::Range<i64>) -> Vec<EventV2> {
    ids.map(|id| EventV2 {
        id,
        note: Some(format!("note {id}")),
    })
    .collect()
}

fn options(schema_wait: Duration) -> WriterOptions {
    WriterOptions::default()
        .response_timeout(Duration::from_secs(5))
        .schema_wait(schema_wait)
}

async fn env_with(propagation: Duration, recreate: Duration) -> Env {
    Env::start_with(
        Emulator::builder()
            .schema_propagation(propagation)
            .recreate_window(recreate),
    )
    .await
}

/// `(id, note)` of every visible row, sorted by id.
fn rows(env: &Env, table: &str) -> Vec<(i64, Option<String>)> {
    let mut rows: Vec<(i64, Option<String>)> = env
        .emulator
        .rows(&Env::path(table))
        .expect("rows readable")
        .iter()
        .map(|row| {
            let id = match row.get("id") {
                Some(Value::Int64(id)) => *id,
                other => panic!("id is {other:?}"),
            };
            let note = match row.get("note") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => None,
                other => panic!("note is {other:?}"),
            };
            (id, note)
        })
        .collect();
    rows.sort();
    rows
}

fn column_names(table: &bqwrite::TableSchema) -> Vec<&str> {
    table.fields.iter().map(|f| f.name.as_str()).collect()
}

#[tokio::test]
async fn a_column_added_mid_run_is_written_once_it_reaches_the_write_path() {
    // Long enough that the new writer's first request comes before the column
    // lands, even on a loaded machine.
    let env = env_with(Duration::from_millis(1500), Duration::ZERO).await;
    bounded(30, async {
        let table = env.table_for::<EventV1>("added");
        let mut old = Writer::<EventV1>::default_stream_with(&table, options(Duration::ZERO))
            .await
            .expect("v1 writer");
        old.append(v1(0..10))
            .await
            .expect("v1 rows before the change");

        env.emulator
            .alter_table(&Env::path("added"), EventV2::table_schema())
            .expect("ALTER TABLE ADD COLUMN note");
        // The old row type goes on: the new NULLABLE column is none of its business.
        old.append(v1(10..20))
            .await
            .expect("v1 rows after the change");

        // The new row type, deployed at once: its column is in the table's
        // metadata but not yet on the write path.
        let mut new = Writer::<EventV2>::committed_with(&table, options(Duration::from_secs(10)))
            .await
            .expect("v2 writer: the table's metadata has `note`");
        new.append(v2(20..30))
            .await
            .expect("v2 rows once `note` lands");
        let stats = new.stats();
        assert!(
            stats.reconnects_by_cause.schema >= 1,
            "the first request was refused and retried: {stats:?}"
        );
        new.finalize().await.expect("finalize");

        old.append(v1(30..40))
            .await
            .expect("v1 rows after `note` landed");
        old.flush().await.expect("flush");
        let stats = old.stats();
        assert_eq!(stats.reconnects, 0, "{stats:?}");
        let seen = old.table_schema().expect("the table's schema");
        assert_eq!(column_names(&seen), ["id", "note"], "from updated_schema");

        let rows = rows(&env, "added");
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(ids, (0..40).collect::<Vec<_>>(), "every row once");
        for (id, note) in rows {
            let expected = (20..30).contains(&id).then(|| format!("note {id}"));
            assert_eq!(note, expected, "row {id}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_column_that_does_not_land_within_schema_wait_fails_naming_it() {
    let env = env_with(Duration::from_secs(60), Duration::ZERO).await;
    bounded(20, async {
        let table = env.table_for::<EventV1>("slow");
        env.emulator
            .alter_table(&Env::path("slow"), EventV2::table_schema())
            .expect("ALTER TABLE ADD COLUMN note");
        let mut writer =
            Writer::<EventV2>::committed_with(&table, options(Duration::from_millis(300)))
                .await
                .expect("v2 writer");
        let started = std::time::Instant::now();
        let error = writer
            .append(v2(0..3))
            .await
            .expect_err("`note` never lands");
        assert!(started.elapsed() >= Duration::from_millis(100), "it waited");
        assert_eq!(error.kind(), ErrorKind::SchemaMismatch, "{error}");
        assert!(error.to_string().contains("`note`"), "{error}");
        let paths: Vec<&str> = error.schema_mismatches().iter().map(|m| m.path()).collect();
        assert_eq!(paths, ["note"], "{error}");
        assert!(rows(&env, "slow").is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_dropped_column_the_writer_writes_stops_it_loudly() {
    let env = env_with(Duration::ZERO, Duration::ZERO).await;
    bounded(20, async {
        let table = env.table_for::<EventV2>("dropped");
        let mut writer = Writer::<EventV2>::committed_with(&table, options(Duration::ZERO))
            .await
            .expect("writer");
        writer.append(v2(0..5)).await.expect("rows before the drop");

        env.emulator
            .alter_table(&Env::path("dropped"), EventV1::table_schema())
            .expect("ALTER TABLE DROP COLUMN note");
        let error = writer
            .append(v2(5..10))
            .await
            .expect_err("the service would discard `note`");
        assert_eq!(error.kind(), ErrorKind::SchemaMismatch, "{error}");
        assert!(error.to_string().contains("`note`"), "{error}");
        assert_eq!(error.schema_mismatches()[0].path(), "note");
        assert_eq!(error.acknowledged_rows(), Some(5), "{error}");

        let after = writer.append(v2(10..11)).await.expect_err("closed");
        assert_eq!(after.kind(), ErrorKind::WriterClosed, "{after}");
        // What the table holds: the rows, without the dropped column.
        let ids: Vec<i64> = rows(&env, "dropped").iter().map(|r| r.0).collect();
        assert!(ids.starts_with(&[0, 1, 2, 3, 4]), "{ids:?}");
        let schema = env.emulator.table_schema(&Env::path("dropped")).unwrap();
        assert_eq!(schema.fields.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn relaxing_a_required_column_moves_the_writer_to_a_new_connection() {
    let env = env_with(Duration::ZERO, Duration::ZERO).await;
    bounded(20, async {
        let table = env.table_for::<Strict>("relaxed");
        let strict = |ids: std::ops::Range<i64>| -> Vec<Strict> {
            ids.map(|id| Strict {
                id,
                note: format!("note {id}"),
            })
            .collect()
        };
        // Two rows a request: several requests are in flight when the
        // change is noticed; those behind wait for the new connection.
        let options = options(Duration::ZERO).max_rows_per_request(2);
        let mut writer = Writer::<Strict>::committed_with(&table, options)
            .await
            .expect("writer");
        writer.append(strict(0..5)).await.expect("rows before");
        let mut relaxed = Strict::table_schema();
        relaxed.fields[1].mode = Mode::Nullable;
        env.emulator
            .alter_table(&Env::path("relaxed"), relaxed)
            .expect("ALTER COLUMN note DROP NOT NULL");
        writer.append(strict(5..15)).await.expect("rows after");
        writer
            .append(strict(15..20))
            .await
            .expect("rows on the new connection");
        let stats = writer.stats();
        assert_eq!(stats.reconnects_by_cause.schema, 1, "{stats:?}");
        assert_eq!(stats.reconnects, 1, "{stats:?}");
        assert_eq!(
            stats.resent_requests, 0,
            "nothing was sent twice: {stats:?}"
        );
        writer.finalize().await.expect("finalize");
        let ids: Vec<i64> = rows(&env, "relaxed").iter().map(|r| r.0).collect();
        assert_eq!(ids, (0..20).collect::<Vec<_>>());
    })
    .await;
}

fn recreate(env: &Env, name: &str) -> Table {
    let path = Env::path(name);
    env.emulator.delete_table(&path).expect("DROP TABLE");
    env.table_for::<EventV1>(name)
}

#[tokio::test]
async fn a_table_recreated_under_a_running_writer_is_written_once_it_answers() {
    let env = env_with(Duration::ZERO, Duration::from_millis(1000)).await;
    bounded(20, async {
        let table = env.table_for::<EventV1>("recreated");
        let mut writer =
            Writer::<EventV1>::default_stream_with(&table, options(Duration::from_secs(10)))
                .await
                .expect("writer");
        writer
            .append(v1(0..5))
            .await
            .expect("rows in the first table");
        recreate(&env, "recreated");
        writer
            .append(v1(5..10))
            .await
            .expect("rows once the new table answers");
        let stats = writer.stats();
        assert!(
            stats.reconnects_by_cause.schema >= 1,
            "NOT_FOUND was waited out: {stats:?}"
        );
        let ids: Vec<i64> = rows(&env, "recreated").iter().map(|r| r.0).collect();
        assert_eq!(
            ids,
            (5..10).collect::<Vec<_>>(),
            "the first table's rows went with it"
        );
    })
    .await;
}

#[tokio::test]
async fn a_table_that_stays_deleted_fails_with_not_found_after_schema_wait() {
    let env = env_with(Duration::ZERO, Duration::ZERO).await;
    bounded(20, async {
        let table = env.table_for::<EventV1>("gone");
        let mut writer =
            Writer::<EventV1>::default_stream_with(&table, options(Duration::from_millis(300)))
                .await
                .expect("writer");
        writer.append(v1(0..5)).await.expect("rows before");
        env.emulator
            .delete_table(&Env::path("gone"))
            .expect("DROP TABLE");
        let error = writer
            .append(v1(5..10))
            .await
            .expect_err("the table is gone");
        assert_eq!(error.code(), Some(Code::NotFound), "{error}");
        assert!(error.to_string().contains("schema_wait"), "{error}");
    })
    .await;
}

/// On a connection the client's pool shares between tables, each table's
/// schema changes reach its own writer: one table's change told first does
/// not hide another's (a dropped column the second writer writes).
#[tokio::test]
async fn each_table_on_a_shared_connection_hears_of_its_own_changes() {
    let env = env_with(Duration::ZERO, Duration::ZERO).await;
    bounded(20, async {
        let client = env.pooled_client(1).await;
        let table = |name: &str| env.table_of(&client, name, EventV2::table_schema());
        let (a_table, b_table) = (table("a"), table("b"));
        let mut a = Writer::<EventV1>::default_stream_with(&a_table, options(Duration::ZERO))
            .await
            .unwrap();
        let mut b = Writer::<EventV2>::default_stream_with(&b_table, options(Duration::ZERO))
            .await
            .unwrap();
        a.append(v1(0..2)).await.unwrap();
        // `a` drops `note`, which its writer does not write: told, goes on
        env.emulator
            .alter_table(&Env::path("a"), EventV1::table_schema())
            .unwrap();
        a.append(v1(2..4)).await.unwrap();
        b.append(v2(0..2)).await.unwrap();
        // `b` drops `note` too, which its writer writes; b's next request
        // follows its own on the connection (no schema sent, none checked)
        env.emulator
            .alter_table(&Env::path("b"), EventV1::table_schema())
            .unwrap();
        let error = b.append(v2(2..4)).await.expect_err("b writes `note`");
        assert_eq!(error.kind(), ErrorKind::SchemaMismatch, "{error}");
        assert!(error.to_string().contains("`note`"), "{error}");
        assert_eq!(env.emulator.append_rows_connections().peak, 1);
    })
    .await;
}

/// A writer waiting for its new column to reach the write path tries again
/// on a connection of its own: each refused try ends its call, and on the
/// client's shared connection it would end the other tables' writers' call
/// every time.
#[tokio::test]
async fn waiting_for_a_column_does_not_break_the_shared_connection() {
    let env = env_with(Duration::from_millis(600), Duration::ZERO).await;
    bounded(20, async {
        let client = env.pooled_client(1).await;
        let table = |name: &str| env.table_of(&client, name, EventV1::table_schema());
        let (steady_table, new_table) = (table("steady"), table("new"));
        let mut steady = Writer::<EventV1>::default_stream(&steady_table)
            .await
            .unwrap();
        steady.append(v1(0..1)).await.unwrap();
        env.emulator
            .alter_table(&Env::path("new"), EventV2::table_schema())
            .unwrap();
        let mut v2_writer =
            Writer::<EventV2>::default_stream_with(&new_table, options(Duration::from_secs(10)))
                .await
                .unwrap();
        let waiting = tokio::spawn(async move {
            v2_writer.append(v2(0..2)).await.unwrap();
            v2_writer
        });
        // The steady writer writes on the shared connection for as long as
        // the other one waits (at least 20 rows), however slow the machine.
        let mut written = 1;
        while written < 20 || !waiting.is_finished() {
            steady.append(v1(written..written + 1)).await.unwrap();
            written += 1;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        let v2_writer = waiting.await.unwrap();
        assert!(v2_writer.stats().reconnects_by_cause.schema >= 1);
        // the first refused try ends the shared call (nobody can tell the
        // column is not writable yet before trying); the later ones do not
        let reconnects = steady.stats().reconnects;
        assert!(
            reconnects <= 1,
            "the other table's writer reconnected {reconnects} times"
        );
        assert_eq!(rows(&env, "steady").len(), written as usize);
        assert_eq!(rows(&env, "new").len(), 2);
    })
    .await;
}
