//! The REST subset: datasets.insert/get/delete, tables.insert/get/list/delete
//! and tabledata.list paging, with BigQuery's error shapes.

mod common;

use bqwrite::proto::storage::table_field_schema::{Mode, Type};
use bqwrite_emulator::Value;
use common::*;
use serde_json::json;

const BASE: &str = "/bigquery/v2/projects/test-project";

#[tokio::test]
async fn datasets_insert_get_and_conflicts() {
    let emu = start().await;
    let body = json!({"datasetReference": {"projectId": "test-project", "datasetId": "sales"}});
    let (status, created) = http(&emu, "POST", &format!("{BASE}/datasets"), Some(&body)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["id"], json!("test-project:sales"));
    assert_eq!(created["datasetReference"]["datasetId"], json!("sales"));
    let (status, again) = http(&emu, "POST", &format!("{BASE}/datasets"), Some(&body)).await;
    assert_eq!(status, 409);
    assert_eq!(again["error"]["code"], json!(409));
    assert_eq!(again["error"]["errors"][0]["reason"], json!("duplicate"));
    let (status, _) = http(&emu, "GET", &format!("{BASE}/datasets/sales"), None).await;
    assert_eq!(status, 200);
    let (status, missing) = http(&emu, "GET", &format!("{BASE}/datasets/nope"), None).await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["status"], json!("NOT_FOUND"));
    let (status, bad) = http(
        &emu,
        "POST",
        &format!("{BASE}/datasets"),
        Some(&json!({"nope": 1})),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    emu.shutdown().await;
}

#[tokio::test]
async fn tables_insert_get_list_delete() {
    let emu = start().await;
    emu.create_dataset("test-project", "d").unwrap();
    let table = json!({
        "tableReference": {"projectId": "test-project", "datasetId": "d", "tableId": "events"},
        "schema": {"fields": [
            {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
            {"name": "tags", "type": "STRING", "mode": "REPEATED"},
            {"name": "who", "type": "RECORD", "fields": [
                {"name": "name", "type": "STRING"},
                {"name": "age", "type": "INT64"}
            ]},
            {"name": "during", "type": "RANGE", "rangeElementType": {"type": "TIMESTAMP"}}
        ]}
    });
    let (status, created) = http(
        &emu,
        "POST",
        &format!("{BASE}/datasets/d/tables"),
        Some(&table),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["id"], json!("test-project:d.events"));
    assert_eq!(created["numRows"], json!("0"));
    let (status, dup) = http(
        &emu,
        "POST",
        &format!("{BASE}/datasets/d/tables"),
        Some(&table),
    )
    .await;
    assert_eq!(status, 409, "{dup}");

    let (status, got) = http(
        &emu,
        "GET",
        &format!("{BASE}/datasets/d/tables/events"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        got["schema"],
        json!({"fields": [
            {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
            {"name": "tags", "type": "STRING", "mode": "REPEATED"},
            {"name": "who", "type": "RECORD", "mode": "NULLABLE", "fields": [
                {"name": "name", "type": "STRING", "mode": "NULLABLE"},
                {"name": "age", "type": "INTEGER", "mode": "NULLABLE"}
            ]},
            {"name": "during", "type": "RANGE", "mode": "NULLABLE", "rangeElementType": {"type": "TIMESTAMP"}}
        ]})
    );
    // the schema is the one the gRPC side sees
    let schema = emu.table_schema("d.events").unwrap();
    assert_eq!(schema.fields[0].r#type, Type::Int64 as i32);
    assert_eq!(schema.fields[0].mode, Mode::Required as i32);
    assert_eq!(schema.fields[2].fields.len(), 2);

    let (status, list) = http(&emu, "GET", &format!("{BASE}/datasets/d/tables"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list["tables"][0]["tableReference"]["tableId"],
        json!("events")
    );

    let (status, _) = http(
        &emu,
        "DELETE",
        &format!("{BASE}/datasets/d/tables/events"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, gone) = http(
        &emu,
        "GET",
        &format!("{BASE}/datasets/d/tables/events"),
        None,
    )
    .await;
    assert_eq!(status, 404, "{gone}");
    let (status, _) = http(
        &emu,
        "DELETE",
        &format!("{BASE}/datasets/d/tables/events"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = http(
        &emu,
        "GET",
        &format!("{BASE}/datasets/d/tables/events/data"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    emu.shutdown().await;
}

#[tokio::test]
async fn tables_insert_needs_the_dataset_and_a_valid_schema() {
    let emu = start().await;
    let table = |fields: serde_json::Value| {
        json!({
            "tableReference": {"projectId": "test-project", "datasetId": "d", "tableId": "t"},
            "schema": {"fields": fields}
        })
    };
    let (status, _) = http(
        &emu,
        "POST",
        &format!("{BASE}/datasets/d/tables"),
        Some(&table(json!([{"name": "a", "type": "STRING"}]))),
    )
    .await;
    assert_eq!(status, 404, "the dataset does not exist");
    emu.create_dataset("test-project", "d").unwrap();
    let (status, body) = http(
        &emu,
        "POST",
        &format!("{BASE}/datasets/d/tables"),
        Some(&table(json!([{"name": "a", "type": "WHATEVER"}]))),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("WHATEVER")
    );
    let (status, body) = http(
        &emu,
        "POST",
        &format!("{BASE}/datasets/d/tables"),
        Some(&table(json!([{"name": "s", "type": "RECORD"}]))),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no sub-fields")
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn tabledata_list_pages_with_max_results_and_page_token() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    let rows = (0..5).map(|i| seed_row(i, "p")).collect();
    ok_offset(
        &conn
            .append(append_request(
                &format!("{TABLE}/streams/_default"),
                None,
                Some(seed_descriptor()),
                rows,
            ))
            .await,
    );
    let path = format!("{BASE}/datasets/d/tables/t/data");
    let (status, page) = http(&emu, "GET", &format!("{path}?maxResults=2"), None).await;
    assert_eq!(status, 200);
    assert_eq!(page["totalRows"], json!("5"));
    assert_eq!(page["rows"].as_array().unwrap().len(), 2);
    assert_eq!(page["pageToken"], json!("2"));
    let (_, page) = http(
        &emu,
        "GET",
        &format!("{path}?maxResults=2&pageToken=4"),
        None,
    )
    .await;
    assert_eq!(page["rows"], json!([{"f": [{"v": "4"}, {"v": "p"}]}]));
    assert!(page.get("pageToken").is_none());
    let (_, page) = http(
        &emu,
        "GET",
        &format!("{path}?startIndex=3&maxResults=1"),
        None,
    )
    .await;
    assert_eq!(page["rows"], json!([{"f": [{"v": "3"}, {"v": "p"}]}]));
    let (status, _) = http(&emu, "GET", &format!("{path}?maxResults=-1"), None).await;
    assert_eq!(status, 400);
    // the same API without the /bigquery/v2 prefix
    let (status, page) = http(
        &emu,
        "GET",
        "/projects/test-project/datasets/d/tables/t/data?maxResults=1",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["rows"][0]["f"][0]["v"], json!("0"));
    assert_eq!(emu.rows("d.t").unwrap()[4]["id"], Value::Int64(4));
    emu.shutdown().await;
}
