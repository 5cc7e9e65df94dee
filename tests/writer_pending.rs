//! The PENDING lifecycle through the typed writer, against the emulator.

mod support;

use bqwrite::{BqRow, ErrorKind, FieldSchema, FieldType, Mode, TableSchema, Writer, WriterOptions};
use serde_json::json;
use support::{Env, bounded};

#[derive(Debug, Clone, BqRow)]
struct CustomerRecord {
    row_num: i64,
    customer_name: Option<String>,
}

fn record(row_num: i64, name: &str) -> CustomerRecord {
    CustomerRecord {
        row_num,
        customer_name: Some(name.to_owned()),
    }
}

#[tokio::test]
async fn the_seed_flow_commits_three_rows_atomically() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<CustomerRecord>("customers");
        let mut writer = Writer::<CustomerRecord>::pending(&table).await.unwrap();
        let first = writer
            .append([record(1, "Alice"), record(2, "Bob")])
            .await
            .unwrap();
        assert_eq!(first, 0..2);
        let second = writer.append([record(3, "Charles")]).await.unwrap();
        assert_eq!(second, 2..3);
        assert_eq!(writer.acknowledged_rows(), 3);
        assert!(env.cells("customers").is_empty(), "visible before commit");

        let finalized = writer.finalize().await.unwrap();
        assert_eq!(finalized.row_count(), 3);
        assert!(env.cells("customers").is_empty(), "visible before commit");
        let commit = finalized.commit().await.unwrap();
        assert_eq!(commit.rows(), 3);
        assert_eq!(commit.streams().len(), 1);
        assert_eq!(
            env.cells("customers"),
            [
                vec![json!("1"), json!("Alice")],
                vec![json!("2"), json!("Bob")],
                vec![json!("3"), json!("Charles")],
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn every_call_carries_the_routing_header() {
    bounded(60, async {
        // This emulator refuses any call without `x-goog-request-params`.
        let env =
            Env::start_with(bqwrite_emulator::Emulator::builder().require_routing_header(true))
                .await;
        let table = env.table_for::<CustomerRecord>("routed");
        let mut writer = Writer::<CustomerRecord>::pending(&table).await.unwrap();
        writer.append([record(1, "Alice")]).await.unwrap();
        writer.append([record(2, "Bob")]).await.unwrap();
        writer.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(env.cells("routed").len(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_million_rows_through_one_writer_land_exactly_once() {
    bounded(600, async {
        let env = Env::start().await;
        let table = env.table_for::<CustomerRecord>("million");
        // Small requests so the million rows cross many requests and the
        // in-flight window is exercised.
        let options = WriterOptions::default()
            .max_rows_per_request(20_000)
            .max_inflight_requests(4);
        let mut writer = Writer::<CustomerRecord>::pending_with(&table, options)
            .await
            .unwrap();
        const N: i64 = 1_000_000;
        let offsets = writer
            .append((0..N).map(|i| CustomerRecord {
                row_num: i,
                customer_name: (i % 3 != 0).then(|| format!("customer {i}")),
            }))
            .await
            .unwrap();
        assert_eq!(offsets, 0..N);
        writer.finalize().await.unwrap().commit().await.unwrap();

        let cells = env.cells("million");
        assert_eq!(cells.len(), N as usize);
        let mut seen = vec![false; N as usize];
        for row in &cells {
            let n: usize = row[0].as_str().unwrap().parse().unwrap();
            assert!(!seen[n], "row {n} is there twice");
            seen[n] = true;
            let expected = if n.is_multiple_of(3) {
                serde_json::Value::Null
            } else {
                json!(format!("customer {n}"))
            };
            assert_eq!(row[1], expected, "row {n}");
        }
        assert!(seen.iter().all(|s| *s), "a row is missing");
    })
    .await;
}

#[tokio::test]
async fn append_stream_writes_an_async_stream() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<CustomerRecord>("streamed");
        let mut writer = Writer::<CustomerRecord>::pending_with(
            &table,
            WriterOptions::default().max_rows_per_request(7),
        )
        .await
        .unwrap();
        let rows = tokio_stream::iter((0..100).map(|i| record(i, "s")));
        assert_eq!(writer.append_stream(rows).await.unwrap(), 0..100);
        writer.finalize().await.unwrap().commit().await.unwrap();
        let nums: Vec<String> = env
            .cells("streamed")
            .iter()
            .map(|r| r[0].as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        assert_eq!(nums, expected);
    })
    .await;
}

#[tokio::test]
async fn several_streams_commit_atomically() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<CustomerRecord>("multi");
        let mut a = Writer::<CustomerRecord>::pending(&table).await.unwrap();
        let mut b = Writer::<CustomerRecord>::pending(&table).await.unwrap();
        a.append([record(1, "a1"), record(2, "a2")]).await.unwrap();
        b.append([record(10, "b1")]).await.unwrap();
        let a = a.finalize().await.unwrap();
        let b = b.finalize().await.unwrap();
        assert!(env.cells("multi").is_empty());

        // A commit that cannot succeed for one stream commits neither.
        let committed_alone = b.clone().commit().await.unwrap();
        assert_eq!(committed_alone.rows(), 1);
        let err = table.commit([a.clone(), b]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CommitFailed, "{err}");
        assert_eq!(
            err.storage_error(),
            Some(bqwrite::proto::storage::storage_error::StorageErrorCode::StreamAlreadyCommitted)
        );
        assert_eq!(
            env.cells("multi").len(),
            1,
            "a was committed by a failed commit"
        );

        let mut c = Writer::<CustomerRecord>::pending(&table).await.unwrap();
        c.append([record(20, "c1")]).await.unwrap();
        let c = c.finalize().await.unwrap();
        let commit = table.commit([a, c]).await.unwrap();
        assert_eq!(commit.rows(), 3);
        assert_eq!(commit.streams().len(), 2);
        let mut nums: Vec<String> = env
            .cells("multi")
            .iter()
            .map(|r| r[0].as_str().unwrap().to_owned())
            .collect();
        nums.sort();
        assert_eq!(nums, ["1", "10", "2", "20"]);
    })
    .await;
}

#[derive(Debug, Clone, BqRow)]
struct Mismatched {
    row_num: Option<i64>,
    customer_name: i64,
    not_in_table: bool,
}

#[tokio::test]
async fn schema_mismatches_are_listed_before_any_row_is_sent() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_with(
            "strict",
            TableSchema {
                fields: vec![
                    FieldSchema::new("row_num", FieldType::Int64, Mode::Required),
                    FieldSchema::new("customer_name", FieldType::String, Mode::Nullable),
                    FieldSchema::new("signup", FieldType::Date, Mode::Required),
                ],
            },
        );
        let err = Writer::<Mismatched>::pending(&table).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
        let listed: Vec<String> = err
            .schema_mismatches()
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(
            listed,
            [
                "column `row_num` is REQUIRED but the struct's field is optional",
                "column `customer_name` is STRING, the struct writes INT64",
                "field `not_in_table` has no column in the table",
                "REQUIRED column `signup` has no field in the struct",
            ]
        );
        let text = err.to_string();
        assert!(
            text.contains("cannot write to `projects/test-project"),
            "{text}"
        );
    })
    .await;
}

#[derive(Debug, Clone, BqRow)]
struct Doc {
    id: i64,
    #[bq(type = "JSON")]
    body: String,
}

#[tokio::test]
async fn row_errors_map_to_the_callers_indices() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_with(
            "docs",
            TableSchema {
                fields: vec![
                    FieldSchema::new("id", FieldType::Int64, Mode::Required),
                    FieldSchema::new("body", FieldType::Json, Mode::Nullable),
                ],
            },
        );
        let mut writer =
            Writer::<Doc>::pending_with(&table, WriterOptions::default().max_rows_per_request(4))
                .await
                .unwrap();
        let doc = |id: i64, body: &str| Doc {
            id,
            body: body.to_owned(),
        };
        // Requests of 4 rows: [0..4) lands, [4..8) holds the bad row 6.
        let rows: Vec<Doc> = (0..12)
            .map(|i| {
                if i == 6 {
                    doc(i, "{not json")
                } else {
                    doc(i, &format!("{{\"n\":{i}}}"))
                }
            })
            .collect();
        let err = writer.append(&rows).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
        assert_eq!(err.row_errors().len(), 1);
        let row_error = &err.row_errors()[0];
        assert_eq!(row_error.index, 6);
        assert_eq!(row_error.column.as_deref(), Some("body"), "{row_error:?}");
        assert_eq!(err.acknowledged_rows(), Some(4));
        assert_eq!(writer.acknowledged_rows(), 4);

        // The writer is still usable: fix the row and send the rest.
        let mut rest = rows[4..].to_vec();
        rest[2] = doc(6, "{\"fixed\":true}");
        assert_eq!(writer.append(&rest).await.unwrap(), 4..12);
        writer.finalize().await.unwrap().commit().await.unwrap();
        let ids: Vec<String> = env
            .cells("docs")
            .iter()
            .map(|r| r[0].as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = (0..12).map(|i| i.to_string()).collect();
        assert_eq!(ids, expected);
    })
    .await;
}

#[tokio::test]
async fn an_oversize_row_is_a_clear_error_naming_its_index() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<CustomerRecord>("big");
        let mut writer = Writer::<CustomerRecord>::pending_with(
            &table,
            WriterOptions::default().max_request_bytes(2_000),
        )
        .await
        .unwrap();
        let rows = vec![
            record(0, "small"),
            record(1, &"x".repeat(5_000)),
            record(2, "after"),
        ];
        let err = writer.append(&rows).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowTooLarge);
        let text = err.to_string();
        assert!(text.contains("row 1 "), "{text}");
        assert!(text.contains("2000"), "{text}");
        assert!(text.contains("the rows before it are written"), "{text}");
        // Every row before it landed, so the caller can skip it and go on.
        assert_eq!(err.acknowledged_rows(), Some(1));
        assert_eq!(writer.append(&rows[2..]).await.unwrap(), 1..2);
        writer.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(
            env.cells("big"),
            [
                vec![json!("0"), json!("small")],
                vec![json!("2"), json!("after")]
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn an_empty_stream_finalizes_and_commits_nothing() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<CustomerRecord>("empty");
        let writer = Writer::<CustomerRecord>::pending(&table).await.unwrap();
        let finalized = writer.finalize().await.unwrap();
        assert_eq!(finalized.row_count(), 0);
        let commit = finalized.commit().await.unwrap();
        assert_eq!(commit.rows(), 0);
        assert!(env.cells("empty").is_empty());
    })
    .await;
}

#[tokio::test]
async fn dropping_a_writer_without_finalize_commits_nothing() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<CustomerRecord>("dropped");
        let mut writer = Writer::<CustomerRecord>::pending(&table).await.unwrap();
        writer
            .append([record(1, "Alice"), record(2, "Bob")])
            .await
            .unwrap();
        drop(writer);
        assert!(env.cells("dropped").is_empty());

        // The table is unchanged for later writers too.
        let mut next = Writer::<CustomerRecord>::pending(&table).await.unwrap();
        next.append([record(3, "Charles")]).await.unwrap();
        next.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(env.cells("dropped"), [vec![json!("3"), json!("Charles")]]);
    })
    .await;
}

#[tokio::test]
async fn a_missing_table_is_reported() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env
            .client
            .table(support::PROJECT, support::DATASET, "nope")
            .unwrap();
        let err = Writer::<CustomerRecord>::pending(&table).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server, "{err}");
        assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
        assert!(err.to_string().contains("nope"), "{err}");
    })
    .await;
}
