//! Column defaults at the user's level: `#[bq(default)]` and
//! `#[bq(missing = "default")]` structs written through each kind of writer
//! into the emulator, read back with the defaults the emulator applied.

mod support;

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use bqwrite::{
    BqRow, ErrorKind, FieldSchema, FieldType, Mode, RetryPolicy, TableSchema, Writer, WriterOptions,
};
use bqwrite_emulator::{Row, Value};
use support::{Env, bounded};

/// id INT64 REQUIRED; status STRING DEFAULT 'new'; created TIMESTAMP
/// REQUIRED DEFAULT CURRENT_TIMESTAMP(); uid STRING DEFAULT GENERATE_UUID();
/// note STRING DEFAULT 'none'; score INT64 DEFAULT 10.
fn table_schema() -> TableSchema {
    TableSchema::new(vec![
        FieldSchema::new("id", FieldType::Int64, Mode::Required),
        FieldSchema::new("status", FieldType::String, Mode::Nullable).with_default_value("'new'"),
        FieldSchema::new("created", FieldType::Timestamp, Mode::Required)
            .with_default_value("CURRENT_TIMESTAMP()"),
        FieldSchema::new("uid", FieldType::String, Mode::Nullable)
            .with_default_value("GENERATE_UUID()"),
        FieldSchema::new("note", FieldType::String, Mode::Nullable).with_default_value("'none'"),
        FieldSchema::new("score", FieldType::Int64, Mode::Nullable).with_default_value("10"),
    ])
}

/// Leaves out `created` (REQUIRED, with a default) and `score`.
#[derive(Debug, Clone, BqRow)]
struct Ticket {
    id: i64,
    #[bq(default)]
    status: Option<String>,
    #[bq(default)]
    uid: Option<String>,
    /// No `default`: `None` is NULL.
    note: Option<String>,
}

fn ticket(id: i64) -> Ticket {
    let even = id % 2 == 0;
    Ticket {
        id,
        status: (!even).then(|| format!("s{id}")),
        uid: (!even).then(|| format!("u{id}")),
        note: None,
    }
}

/// Every absent value takes its column's default; `created` is written by
/// an optional field.
#[derive(Debug, Clone, BqRow)]
#[bq(missing = "default")]
struct Loose {
    id: i64,
    note: Option<String>,
    created: Option<SystemTime>,
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

fn string(row: &Row, column: &str) -> Option<String> {
    match &row[column] {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => panic!("`{column}` is {other:?}"),
    }
}

fn is_uuid_v4(text: &str) -> bool {
    let lens: Vec<usize> = text.split('-').map(str::len).collect();
    lens == [8, 4, 4, 4, 12]
        && text.as_bytes()[14] == b'4'
        && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

/// Checks rows written from `ticket(id)` between `before` and `after`.
fn check_tickets(rows: &[Row], ids: std::ops::Range<i64>, before: SystemTime, after: SystemTime) {
    assert_eq!(rows.len() as i64, ids.end - ids.start);
    let mut uids = HashSet::new();
    for (row, id) in rows.iter().zip(ids) {
        assert_eq!(row["id"], Value::Int64(id));
        let Value::Timestamp(created) = row["created"] else {
            panic!("row {id}: `created` is {:?}", row["created"]);
        };
        assert!(
            (micros(before)..=micros(after)).contains(&created),
            "row {id}: CURRENT_TIMESTAMP() is the append time"
        );
        let uid = string(row, "uid").expect("uid");
        if id % 2 == 0 {
            assert_eq!(string(row, "status").as_deref(), Some("new"), "row {id}");
            assert!(is_uuid_v4(&uid), "row {id}: {uid}");
        } else {
            assert_eq!(string(row, "status"), Some(format!("s{id}")));
            assert_eq!(uid, format!("u{id}"));
        }
        assert!(uids.insert(uid), "row {id}: uids are per row");
        assert_eq!(row["note"], Value::Null, "row {id}: no default asked");
        assert_eq!(row["score"], Value::Null, "row {id}: left out, not asked");
    }
}

#[tokio::test]
async fn defaults_through_the_default_stream() {
    bounded(30, async {
        let env = Env::start().await;
        let table = env.table_with("tickets", table_schema());
        let before = SystemTime::now();
        let mut writer = Writer::<Ticket>::default_stream_with(
            &table,
            WriterOptions::default().max_rows_per_request(3),
        )
        .await
        .unwrap();
        writer
            .append((0..10).map(ticket).collect::<Vec<_>>())
            .await
            .unwrap();
        writer.flush().await.unwrap();
        let after = SystemTime::now();
        let rows = env.emulator.rows(&Env::path("tickets")).unwrap();
        check_tickets(&rows, 0..10, before, after);
    })
    .await;
}

#[tokio::test]
async fn defaults_through_pending_and_committed_streams() {
    bounded(30, async {
        let env = Env::start().await;
        let table = env.table_with("tickets", table_schema());
        let before = SystemTime::now();
        let mut pending = Writer::<Ticket>::pending(&table).await.unwrap();
        pending
            .append((0..4).map(ticket).collect::<Vec<_>>())
            .await
            .unwrap();
        let mut committed = Writer::<Ticket>::committed(&table).await.unwrap();
        committed
            .append((4..8).map(ticket).collect::<Vec<_>>())
            .await
            .unwrap();
        committed.finalize().await.unwrap();
        pending.finalize().await.unwrap().commit().await.unwrap();
        let after = SystemTime::now();
        let mut rows = env.emulator.rows(&Env::path("tickets")).unwrap();
        // the committed stream's rows are visible first
        rows.rotate_left(4);
        check_tickets(&rows, 0..8, before, after);
    })
    .await;
}

#[tokio::test]
async fn missing_default_is_sent_again_after_every_reconnect() {
    bounded(30, async {
        let env = Env::start().await;
        let table = env.table_with("loose", table_schema());
        let options = WriterOptions::default()
            .max_rows_per_request(2)
            .max_inflight_requests(1)
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(20)
                    .initial_backoff(Duration::from_millis(1)),
            );
        let mut writer = Writer::<Loose, _>::committed_with(&table, options)
            .await
            .unwrap();
        let fixed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let rows: Vec<Loose> = (0..12)
            .map(|id| Loose {
                id,
                note: (id % 3 == 0).then(|| "given".to_owned()),
                created: (id % 2 == 0).then_some(fixed),
            })
            .collect();
        // the emulator drops the connection after every second answer
        for chunk in rows.chunks(4) {
            env.emulator.faults().close_after_responses(1);
            writer.append(chunk.to_vec()).await.unwrap();
        }
        assert!(writer.stats().reconnects >= 2, "{:?}", writer.stats());
        writer.finalize().await.unwrap();
        let stored = env.emulator.rows(&Env::path("loose")).unwrap();
        assert_eq!(stored.len(), 12);
        for (id, row) in (0..12).zip(&stored) {
            assert_eq!(row["id"], Value::Int64(id));
            let note = if id % 3 == 0 { "given" } else { "none" };
            assert_eq!(string(row, "note").as_deref(), Some(note), "row {id}");
            assert_eq!(row["score"], Value::Int64(10), "row {id}");
            assert_eq!(string(row, "status").as_deref(), Some("new"), "row {id}");
            assert!(is_uuid_v4(&string(row, "uid").unwrap()), "row {id}");
            let Value::Timestamp(created) = row["created"] else {
                panic!("row {id}: {:?}", row["created"]);
            };
            if id % 2 == 0 {
                assert_eq!(created, micros(fixed), "row {id}: Some is kept");
            } else {
                assert!(created > micros(fixed), "row {id}: the append time");
            }
        }
    })
    .await;
}

/// Without `#[bq(default)]` an optional field cannot write a REQUIRED
/// column, default or not; a REQUIRED column without a default must have a
/// field.
#[tokio::test]
async fn the_schema_check_knows_which_columns_have_defaults() {
    #[derive(Debug, BqRow)]
    struct OptionalCreated {
        id: i64,
        created: Option<SystemTime>,
    }
    #[derive(Debug, BqRow)]
    struct NoId {
        #[bq(default)]
        status: Option<String>,
    }
    bounded(30, async {
        let env = Env::start().await;
        let table = env.table_with("tickets", table_schema());
        let err = Writer::<OptionalCreated>::pending(&table)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
        assert!(
            err.to_string()
                .contains("column `created` is REQUIRED but the struct's field is optional"),
            "{err}"
        );
        let err = Writer::<NoId>::pending(&table).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
        let text = err.to_string();
        assert!(text.contains("REQUIRED column `id` has no field"), "{text}");
        assert!(!text.contains("`created`"), "{text}");
    })
    .await;
}

/// BUFFERED rows keep their defaults when a flush splits their request.
#[tokio::test]
async fn defaults_survive_a_partial_flush_of_a_buffered_stream() {
    bounded(30, async {
        let env = Env::start().await;
        let table = env.table_with("tickets", table_schema());
        let before = SystemTime::now();
        let mut writer = Writer::<Ticket>::buffered(&table).await.unwrap();
        writer
            .append((0..6).map(ticket).collect::<Vec<_>>())
            .await
            .unwrap();
        writer.flush_to(2).await.unwrap();
        let path = Env::path("tickets");
        assert_eq!(env.emulator.rows(&path).unwrap().len(), 3);
        writer.flush().await.unwrap();
        let after = SystemTime::now();
        check_tickets(&env.emulator.rows(&path).unwrap(), 0..6, before, after);
    })
    .await;
}

/// The same columns as `Loose`, without asking for defaults.
#[derive(Debug, Clone, BqRow)]
struct Strict {
    id: i64,
    note: Option<String>,
    created: Option<SystemTime>,
}

/// `default_missing_value_interpretation` holds for the rest of a
/// connection: on one connection the client's pool shares between tables,
/// a `missing = "default"` writer's setting must not reach another table's
/// writer that asks for none, in either order.
#[tokio::test]
async fn a_shared_connection_keeps_each_writers_missing_values_its_own() {
    bounded(30, async {
        let env = Env::start().await;
        let client = env.pooled_client(1).await;
        let mut schema = table_schema();
        schema.fields.retain(|f| f.name != "created");
        schema.fields.push(FieldSchema::new(
            "created",
            FieldType::Timestamp,
            Mode::Nullable,
        ));
        let table = |name: &str| env.table_of(&client, name, schema.clone());
        let (loose_table, strict_table) = (table("loose"), table("strict"));
        let mut loose = Writer::<Loose>::default_stream(&loose_table).await.unwrap();
        let mut strict = Writer::<Strict>::default_stream(&strict_table)
            .await
            .unwrap();
        let row = |id| (id, None, None);
        for round in 0..3 {
            let (id, note, created) = row(round);
            loose
                .append([Loose {
                    id,
                    note: note.clone(),
                    created,
                }])
                .await
                .unwrap();
            strict.append([Strict { id, note, created }]).await.unwrap();
        }
        assert_eq!(
            env.emulator.append_rows_connections().peak,
            1,
            "one shared connection"
        );
        for stored in env.emulator.rows(&Env::path("loose")).unwrap() {
            assert_eq!(
                string(&stored, "note").as_deref(),
                Some("none"),
                "loose: {stored:?}"
            );
            assert_eq!(stored["score"], Value::Int64(10));
        }
        for stored in env.emulator.rows(&Env::path("strict")).unwrap() {
            assert_eq!(
                stored["note"],
                Value::Null,
                "strict asks for no default: {stored:?}"
            );
            assert_eq!(stored["score"], Value::Null);
            assert_eq!(stored["status"], Value::Null);
        }
    })
    .await;
}
