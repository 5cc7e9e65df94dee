//! Bad input, one row of the table each: every case gives its typed error
//! with a clear message, and what was already acknowledged stays intact.

mod support;

use bqwrite::proto::storage::FinalizeWriteStreamRequest;
use bqwrite::proto::storage::big_query_write_client::BigQueryWriteClient;
use bqwrite::proto::storage::storage_error::StorageErrorCode;
use bqwrite::types::{Date, Numeric};
use bqwrite::{
    BqRow, Client, ErrorKind, FieldSchema, FieldType, Mode, TablePath, TableSchema, Writer,
    WriterOptions,
};
use support::{Env, bounded, routed};

#[derive(Debug, Clone, BqRow)]
struct Payment {
    id: i64,
    amount: Option<Numeric>,
    on: Option<Date>,
    #[bq(type = "JSON")]
    meta: Option<String>,
    note: Option<String>,
}

fn payment(id: i64) -> Payment {
    Payment {
        id,
        amount: Some("12.50".parse().unwrap()),
        on: Some(Date::from_ymd(2024, 1, 2).unwrap()),
        meta: Some("{\"ok\":true}".into()),
        note: None,
    }
}

/// A writer with 10 rows acknowledged, to check they survive each failure.
async fn writer_with_ten_rows(env: &Env, table: &str) -> Writer<Payment> {
    let table = env.table_for::<Payment>(table);
    let mut writer =
        Writer::<Payment>::pending_with(&table, WriterOptions::default().max_request_bytes(4_096))
            .await
            .unwrap();
    writer.append((0..10).map(payment)).await.unwrap();
    writer
}

/// Finalizes and commits `writer`, then checks the table has rows 0..10.
async fn assert_ten_rows_intact(env: &Env, writer: Writer<Payment>, table: &str) {
    assert_eq!(writer.acknowledged_rows(), 10);
    writer.finalize().await.unwrap().commit().await.unwrap();
    let ids: Vec<String> = env
        .cells(table)
        .iter()
        .map(|r| r[0].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn oversize_row() {
    bounded(60, async {
        let env = Env::start().await;
        let mut writer = writer_with_ten_rows(&env, "oversize").await;
        let mut big = payment(10);
        big.note = Some("n".repeat(10_000));
        let err = writer.append([big]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowTooLarge);
        assert!(err.to_string().contains("row 0 is 10"), "{err}");
        assert_eq!(err.acknowledged_rows(), Some(10));
        assert_ten_rows_intact(&env, writer, "oversize").await;
    })
    .await;
}

#[test]
fn invalid_numeric() {
    let err = "123.4567890123".parse::<Numeric>().unwrap_err();
    assert!(err.to_string().contains("NUMERIC"), "{err}");
    let err = "1e40".parse::<Numeric>().unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    let err = "12,5".parse::<Numeric>().unwrap_err();
    assert!(err.to_string().contains("NUMERIC"), "{err}");
}

#[test]
fn date_out_of_range() {
    let err = Date::from_ymd(10_000, 1, 1).unwrap_err();
    assert!(err.to_string().contains("DATE"), "{err}");
    let err = Date::from_days(2_932_897).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    let err = Date::from_ymd(2023, 2, 29).unwrap_err();
    assert!(err.to_string().contains("DATE"), "{err}");
}

#[tokio::test]
async fn invalid_json() {
    bounded(60, async {
        let env = Env::start().await;
        let mut writer = writer_with_ten_rows(&env, "bad_json").await;
        let mut bad = payment(10);
        bad.meta = Some("{\"unterminated\": ".into());
        let err = writer.append([payment(10), bad]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
        assert_eq!(err.row_errors()[0].index, 1);
        assert_eq!(err.row_errors()[0].column.as_deref(), Some("meta"));
        assert_eq!(err.acknowledged_rows(), Some(10));
        // Client-side, the checked type refuses the text before any request.
        assert!(bqwrite::types::Json::new("{\"unterminated\": ").is_err());
        assert_ten_rows_intact(&env, writer, "bad_json").await;
    })
    .await;
}

#[tokio::test]
async fn required_column_missing_from_the_table() {
    bounded(60, async {
        let env = Env::start().await;
        let mut fields = Payment::table_schema().fields;
        fields.retain(|f| f.name != "note");
        fields.push(FieldSchema::new(
            "region",
            FieldType::String,
            Mode::Required,
        ));
        let table = env.table_with("missing_required", TableSchema { fields });
        let err = Writer::<Payment>::pending(&table).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
        let text = err.to_string();
        assert!(
            text.contains("field `note` has no column in the table"),
            "{text}"
        );
        assert!(
            text.contains("REQUIRED column `region` has no field in the struct"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn table_not_found() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env
            .client
            .table(support::PROJECT, support::DATASET, "no_such_table")
            .unwrap();
        let err = Writer::<Payment>::pending(&table).await.unwrap_err();
        assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
        assert_eq!(
            err.storage_error(),
            Some(StorageErrorCode::TableNotFound),
            "{err}"
        );
        assert!(err.to_string().contains("no_such_table"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn stream_already_finalized() {
    bounded(60, async {
        let env = Env::start().await;
        let mut writer = writer_with_ten_rows(&env, "finalized_elsewhere").await;
        // Someone else finalizes the stream behind the writer's back.
        let mut raw = BigQueryWriteClient::connect(env.emulator.grpc_endpoint())
            .await
            .unwrap();
        let finalized = raw
            .finalize_write_stream(routed(
                "name",
                writer.stream_name(),
                FinalizeWriteStreamRequest {
                    name: writer.stream_name().to_owned(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(finalized.row_count, 10);
        let err = writer.append([payment(10)]).await.unwrap_err();
        assert_eq!(
            err.storage_error(),
            Some(StorageErrorCode::StreamFinalized),
            "{err}"
        );
        assert_eq!(err.acknowledged_rows(), Some(10));
        assert!(
            err.to_string().contains("finalized") || err.to_string().contains("FINALIZED"),
            "{err}"
        );
        // The ten rows are intact: the stream can still be committed.
        let table = writer.table().clone();
        let name = writer.stream_name().to_owned();
        drop(writer);
        let mut raw_commit = raw
            .batch_commit_write_streams(routed(
                "parent",
                &table.path().to_string(),
                bqwrite::proto::storage::BatchCommitWriteStreamsRequest {
                    parent: table.path().to_string(),
                    write_streams: vec![name],
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(raw_commit.stream_errors.is_empty());
        assert!(raw_commit.commit_time.take().is_some());
        assert_eq!(env.cells("finalized_elsewhere").len(), 10);
    })
    .await;
}

#[tokio::test]
async fn malformed_table_path() {
    let client = Client::emulator("127.0.0.1:9").unwrap();
    for bad in [
        "projects/p/datasets/d",
        "projects/p/datasets/d/tables/",
        "p.d.t",
        "projects/p/datasets/my-dataset/tables/t",
    ] {
        let err = client.table_from_path(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidPath, "{bad}");
        assert!(err.to_string().contains("invalid"), "{err}");
    }
    let err = "projects/p/datasets/d/tables/t/extra"
        .parse::<TablePath>()
        .unwrap_err();
    assert!(err.to_string().contains("expected `projects/"), "{err}");
}

#[tokio::test]
async fn wrong_credentials_on_a_real_endpoint_client() {
    let dir = std::env::temp_dir().join(format!("bqwrite-creds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key.json");
    std::fs::write(
        &path,
        "{\"type\": \"service_account\", \"client_email\": 42}",
    )
    .unwrap();
    let err = Client::builder()
        .credentials_file(&path)
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.to_string().contains("key.json"), "{err}");
    assert!(
        err.to_string().contains("not a usable service account key"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
