//! Change data capture at the protocol level: primary keys through REST,
//! `_CHANGE_TYPE` / `_CHANGE_SEQUENCE_NUMBER` rows on `_default`, what is
//! refused, and the merged table in tabledata.list.

mod common;

use bqwrite::proto::storage::write_stream;
use common::*;
use prost_types::field_descriptor_proto::{Label, Type as PType};
use serde_json::json;
use tonic::Code;

const BASE: &str = "/bigquery/v2/projects/test-project";
const TABLE: &str = "projects/test-project/datasets/d/tables/keyed";

/// `optional int64 id = 1; optional string name = 2;` and the pseudo-columns.
fn change_descriptor() -> prost_types::DescriptorProto {
    message(
        "Change",
        vec![
            field("id", 1, PType::Int64, Label::Optional),
            field("name", 2, PType::String, Label::Optional),
            field("_CHANGE_TYPE", 3, PType::String, Label::Optional),
            field("_change_sequence_number", 4, PType::String, Label::Optional),
        ],
    )
}

fn change(id: i64, name: &str, kind: &str, seq: Option<&str>) -> Vec<u8> {
    let mut enc = Enc::new().int64(1, id).string(2, name).string(3, kind);
    if let Some(seq) = seq {
        enc = enc.string(4, seq);
    }
    enc.done()
}

async fn keyed_table(emu: &bqwrite_emulator::Emulator) {
    emu.create_dataset("test-project", "d").unwrap();
    let body = json!({
        "tableReference": {"projectId": "test-project", "datasetId": "d", "tableId": "keyed"},
        "schema": {"fields": [
            {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
            {"name": "name", "type": "STRING"}
        ]},
        "tableConstraints": {"primaryKey": {"columns": ["ID"]}}
    });
    let (status, created) = http(
        emu,
        "POST",
        &format!("{BASE}/datasets/d/tables"),
        Some(&body),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["tableConstraints"]["primaryKey"]["columns"],
        json!(["id"])
    );
}

#[tokio::test]
async fn primary_keys_through_rest() {
    let emu = start().await;
    keyed_table(&emu).await;
    let (status, got) = http(
        &emu,
        "GET",
        &format!("{BASE}/datasets/d/tables/keyed"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        got["tableConstraints"]["primaryKey"]["columns"],
        json!(["id"])
    );
    assert_eq!(emu.primary_key(TABLE).unwrap(), ["id"]);
    for (key, why) in [
        (json!(["nope"]), "`nope` is not a column"),
        (json!("id"), "must be an array"),
        (json!([1]), "not a column name"),
    ] {
        let body = json!({
            "tableReference": {"projectId": "test-project", "datasetId": "d", "tableId": "bad"},
            "schema": {"fields": [{"name": "id", "type": "INTEGER"}]},
            "tableConstraints": {"primaryKey": {"columns": key}}
        });
        let (status, err) = http(
            &emu,
            "POST",
            &format!("{BASE}/datasets/d/tables"),
            Some(&body),
        )
        .await;
        assert_eq!(status, 400, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(why),
            "{err}"
        );
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn changes_merge_by_key_in_tabledata_list() {
    let emu = start().await;
    keyed_table(&emu).await;
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    let stream = format!("{TABLE}/streams/_default");
    let rows = vec![
        change(1, "a", "UPSERT", Some("1/0")),
        change(2, "b", "UPSERT", None),
        change(1, "stale", "UPSERT", Some("0/ffff")), // lower: ignored
        change(3, "c", "upsert", None),
        change(2, "", "DELETE", None),
        change(3, "c2", "UPSERT", None),        // later arrival wins
        change(1, "a2", "UPSERT", Some("1/0")), // equal: later arrival wins
    ];
    let first = append_request(&stream, None, Some(change_descriptor()), rows);
    let response = conn.append(first).await;
    assert!(ok_offset(&response).is_none(), "_default has no offsets");
    let (status, data) = http(
        &emu,
        "GET",
        &format!("{BASE}/datasets/d/tables/keyed/data"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(data["totalRows"], json!("2"));
    let cells: Vec<(String, String)> = data["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v = |i: usize| r["f"][i]["v"].as_str().unwrap().to_owned();
            (v(0), v(1))
        })
        .collect();
    assert_eq!(
        cells,
        [("3".into(), "c2".into()), ("1".into(), "a2".into())]
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_values_are_row_errors_naming_the_pseudo_column() {
    let emu = start().await;
    keyed_table(&emu).await;
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    let stream = format!("{TABLE}/streams/_default");
    let rows = vec![
        change(1, "a", "UPSERT", None),
        change(2, "b", "INSERT", None),
        change(3, "c", "UPSERT", Some("1/2/3/4/5")),
        change(4, "d", "DELETE", Some("xyz")),
    ];
    let response = conn
        .append(append_request(
            &stream,
            None,
            Some(change_descriptor()),
            rows,
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    let errors: Vec<(i64, &str)> = response
        .row_errors
        .iter()
        .map(|e| (e.index, e.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0].0, 1);
    assert!(errors[0].1.contains("`_CHANGE_TYPE`"), "{errors:?}");
    assert!(
        errors[1].1.contains("`_CHANGE_SEQUENCE_NUMBER`"),
        "{errors:?}"
    );
    assert_eq!(
        emu.row_count(TABLE).unwrap(),
        0,
        "a rejected request writes nothing"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn pseudo_columns_are_refused_without_key_on_other_streams_and_without_key_fields() {
    let emu = start().await;
    keyed_table(&emu).await;
    emu.create_table("d.plain", seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let plain = "projects/test-project/datasets/d/tables/plain";
    let message = refused(
        &client,
        format!("{plain}/streams/_default"),
        change_descriptor(),
    )
    .await;
    assert!(message.contains("primary key"), "{message}");

    let committed = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let message = refused(&client, committed.name, change_descriptor()).await;
    assert!(message.contains("_default stream"), "{message}");

    let mut no_id = change_descriptor();
    no_id.field.remove(0);
    let message = refused(&client, format!("{TABLE}/streams/_default"), no_id).await;
    assert!(message.contains("primary key column `id`"), "{message}");
    emu.shutdown().await;
}

/// The in-band refusal of a first request with `schema`: its message.
async fn refused(
    client: &bqwrite::proto::storage::big_query_write_client::BigQueryWriteClient<
        tonic::transport::Channel,
    >,
    stream: String,
    schema: prost_types::DescriptorProto,
) -> String {
    let mut client = client.clone();
    let mut conn = Conn::open(&mut client).await;
    let rows = vec![change(1, "a", "UPSERT", None)];
    let response = conn
        .append(append_request(&stream, None, Some(schema), rows))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    in_band_error(&response).message.clone()
}
