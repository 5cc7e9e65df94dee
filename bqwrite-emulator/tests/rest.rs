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

#[tokio::test]
async fn datasets_list_pages_and_is_per_project() {
    let emu = start().await;
    for d in ["c", "a", "b"] {
        emu.create_dataset("test-project", d).unwrap();
    }
    emu.create_dataset("other", "x").unwrap();
    let (status, list) = http(&emu, "GET", &format!("{BASE}/datasets"), None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["kind"], json!("bigquery#datasetList"));
    let ids: Vec<&str> = list["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["test-project:a", "test-project:b", "test-project:c"]);
    assert_eq!(list["datasets"][0]["kind"], json!("bigquery#dataset"));
    assert_eq!(
        list["datasets"][0]["datasetReference"],
        json!({"projectId": "test-project", "datasetId": "a"})
    );
    assert!(list.get("nextPageToken").is_none());

    let (_, first) = http(&emu, "GET", &format!("{BASE}/datasets?maxResults=2"), None).await;
    assert_eq!(first["datasets"].as_array().unwrap().len(), 2);
    let token = first["nextPageToken"].as_str().expect("a next page");
    let (_, rest) = http(
        &emu,
        "GET",
        &format!("{BASE}/datasets?maxResults=2&pageToken={token}"),
        None,
    )
    .await;
    assert_eq!(rest["datasets"][0]["id"], json!("test-project:c"));
    assert!(rest.get("nextPageToken").is_none());

    let (status, empty) = http(&emu, "GET", "/bigquery/v2/projects/nobody/datasets", None).await;
    assert_eq!(status, 200);
    assert_eq!(empty["kind"], json!("bigquery#datasetList"));
    assert!(empty.get("datasets").is_none(), "{empty}");
    let (status, bad) = http(&emu, "GET", &format!("{BASE}/datasets?maxResults=x"), None).await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["errors"][0]["reason"], json!("invalid"));
    emu.shutdown().await;
}

#[tokio::test]
async fn tables_list_pages_and_datasets_delete_needs_delete_contents() {
    let emu = start().await;
    for t in ["t3", "t1", "t2"] {
        emu.create_table(&format!("d.{t}"), seed_schema()).unwrap();
    }
    let path = format!("{BASE}/datasets/d/tables");
    let (status, first) = http(&emu, "GET", &format!("{path}?maxResults=2"), None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["kind"], json!("bigquery#tableList"));
    assert_eq!(first["totalItems"], json!(3));
    assert_eq!(first["tables"][0]["id"], json!("test-project:d.t1"));
    assert_eq!(first["tables"][1]["kind"], json!("bigquery#table"));
    let token = first["nextPageToken"].as_str().expect("a next page");
    let (_, rest) = http(&emu, "GET", &format!("{path}?pageToken={token}"), None).await;
    assert_eq!(
        rest["tables"],
        json!([{
            "kind": "bigquery#table",
            "id": "test-project:d.t3",
            "tableReference": {"projectId": "test-project", "datasetId": "d", "tableId": "t3"},
            "type": "TABLE",
            "creationTime": rest["tables"][0]["creationTime"],
        }])
    );
    let (status, missing) = http(&emu, "GET", &format!("{BASE}/datasets/nope/tables"), None).await;
    assert_eq!(status, 404, "{missing}");

    let dataset = format!("{BASE}/datasets/d");
    let (status, in_use) = http(&emu, "DELETE", &dataset, None).await;
    assert_eq!(status, 400, "{in_use}");
    assert_eq!(
        in_use["error"]["errors"][0]["reason"],
        json!("resourceInUse")
    );
    let (status, _) = http(
        &emu,
        "DELETE",
        &format!("{dataset}?deleteContents=true"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = http(&emu, "GET", &dataset, None).await;
    assert_eq!(status, 404);
    assert!(emu.table_schema("d.t1").is_err(), "its tables went with it");
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_get_bigquery_error_bodies() {
    let emu = start().await;
    emu.create_table("d.t", seed_schema()).unwrap();
    for path in [
        "/bigquery/v2/nope",
        "/bigquery/v2/projects/test-project",
        "/bigquery/v2/projects/test-project/datasets/d/tables/t/data/extra",
        "/",
    ] {
        let (status, body) = http(&emu, "GET", path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], json!(404));
        assert_eq!(body["error"]["status"], json!("NOT_FOUND"));
        assert_eq!(body["error"]["errors"][0]["reason"], json!("notFound"));
        assert!(
            body["error"]["message"].as_str().unwrap().contains(path),
            "{body}"
        );
    }
    for (method, path) in [
        ("PUT", format!("{BASE}/datasets")),
        ("DELETE", format!("{BASE}/datasets")),
        ("POST", format!("{BASE}/datasets/d")),
        ("POST", format!("{BASE}/datasets/d/tables/t")),
        ("POST", format!("{BASE}/datasets/d/tables/t/data")),
        ("PUT", "/projects/test-project/datasets".to_owned()),
    ] {
        let (status, body) = http(&emu, method, &path, None).await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], json!(405));
        assert_eq!(
            body["error"]["errors"][0]["reason"],
            json!("methodNotAllowed")
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(method) && message.contains(&path),
            "{body}"
        );
    }
    emu.shutdown().await;
}
