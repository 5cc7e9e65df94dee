//! Column default values on the wire: table creation checks
//! `defaultValueExpression` (REST and Rust API), and appends apply defaults
//! as `missing_value_interpretations` (one request) and
//! `default_missing_value_interpretation` (the rest of the connection) say.

mod common;

use bqwrite::proto::storage::append_rows_request::MissingValueInterpretation as Mvi;
use bqwrite::proto::storage::table_field_schema::{Mode, Type};
use bqwrite::proto::storage::{AppendRowsRequest, TableSchema};
use bqwrite_emulator::{Error, Value};
use common::*;
use prost_types::field_descriptor_proto::{Label, Type as PType};
use serde_json::json;
use tonic::Code;

const BASE: &str = "/bigquery/v2/projects/test-project";

/// `id INT64 REQUIRED, tag STRING DEFAULT 'none', n INT64 REQUIRED DEFAULT 7`.
fn schema() -> TableSchema {
    let mut tag = column("tag", Type::String, Mode::Nullable);
    tag.default_value_expression = "'none'".into();
    let mut n = column("n", Type::Int64, Mode::Required);
    n.default_value_expression = "7".into();
    TableSchema {
        fields: vec![column("id", Type::Int64, Mode::Required), tag, n],
    }
}

/// A writer schema with `id` and an optional `tag`; `n` is left out.
fn request(stream: &str, first: bool, rows: Vec<Vec<u8>>) -> AppendRowsRequest {
    let descriptor = message(
        "Row",
        vec![
            field("id", 1, PType::Int64, Label::Required),
            field("tag", 2, PType::String, Label::Optional),
        ],
    );
    append_request(
        if first { stream } else { "" },
        None,
        first.then_some(descriptor),
        rows,
    )
}

fn row(id: i64, tag: Option<&str>) -> Vec<u8> {
    let enc = Enc::new().int64(1, id);
    match tag {
        Some(tag) => enc.string(2, tag).done(),
        None => enc.done(),
    }
}

fn with_map(mut request: AppendRowsRequest, pairs: &[(&str, Mvi)]) -> AppendRowsRequest {
    request.missing_value_interpretations = pairs
        .iter()
        .map(|(column, v)| ((*column).to_owned(), *v as i32))
        .collect();
    request
}

async fn setup() -> (bqwrite_emulator::Emulator, String) {
    let emu = start().await;
    emu.create_dataset(PROJECT, "d").unwrap();
    emu.create_table(TABLE, schema()).unwrap();
    (emu, format!("{TABLE}/streams/_default"))
}

/// `(id, tag, n)` of every row, in order.
fn rows(emu: &bqwrite_emulator::Emulator) -> Vec<(Value, Value, Value)> {
    emu.rows(TABLE)
        .unwrap()
        .into_iter()
        .map(|r| (r["id"].clone(), r["tag"].clone(), r["n"].clone()))
        .collect()
}

fn s(text: &str) -> Value {
    Value::String(text.into())
}

#[tokio::test]
async fn the_request_map_applies_to_that_request_only() {
    let (emu, stream) = setup().await;
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    let first = with_map(
        request(&stream, true, vec![row(1, None), row(2, Some("kept"))]),
        &[("TAG", Mvi::DefaultValue), ("n", Mvi::DefaultValue)],
    );
    assert_eq!(ok_offset(&conn.append(first).await), None);
    // the next request has no map: the REQUIRED `n` it leaves out is an error
    let second = conn
        .append(request(&stream, false, vec![row(3, None)]))
        .await;
    assert_in_band(&second, Code::InvalidArgument, None);
    assert!(
        second.row_errors[0]
            .message
            .contains("column `n`: REQUIRED column has no value"),
        "{:?}",
        second.row_errors
    );
    let third = with_map(
        request(&stream, false, vec![row(4, None)]),
        &[("n", Mvi::DefaultValue), ("tag", Mvi::NullValue)],
    );
    conn.append(third).await;
    assert_eq!(
        rows(&emu),
        [
            (Value::Int64(1), s("none"), Value::Int64(7)),
            (Value::Int64(2), s("kept"), Value::Int64(7)),
            (Value::Int64(4), Value::Null, Value::Int64(7)),
        ]
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn the_connection_setting_holds_until_changed_and_the_map_overrides_it() {
    let (emu, stream) = setup().await;
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    let mut first = request(&stream, true, vec![row(1, None)]);
    first.default_missing_value_interpretation = Mvi::DefaultValue as i32;
    conn.append(first).await;
    // unset on later requests: still DEFAULT_VALUE
    conn.append(request(&stream, false, vec![row(2, None)]))
        .await;
    let overridden = with_map(
        request(&stream, false, vec![row(3, None)]),
        &[("tag", Mvi::NullValue)],
    );
    conn.append(overridden).await;
    drop(conn);
    // a new connection starts again from NULL
    let mut conn = Conn::open(&mut client).await;
    let fresh = with_map(
        request(&stream, true, vec![row(4, None)]),
        &[("n", Mvi::DefaultValue)],
    );
    conn.append(fresh).await;
    assert_eq!(
        rows(&emu),
        [
            (Value::Int64(1), s("none"), Value::Int64(7)),
            (Value::Int64(2), s("none"), Value::Int64(7)),
            (Value::Int64(3), Value::Null, Value::Int64(7)),
            (Value::Int64(4), Value::Null, Value::Int64(7)),
        ]
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_maps_are_refused_in_band() {
    let (emu, stream) = setup().await;
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    for (pairs, expected) in [
        (
            vec![("nope", Mvi::DefaultValue)],
            "not a column of the table",
        ),
        (vec![("tag.x", Mvi::DefaultValue)], "top-level columns"),
        (vec![("tag", Mvi::Unspecified)], "UNSPECIFIED"),
    ] {
        let answer = conn
            .append(with_map(
                request(&stream, true, vec![row(1, Some("a"))]),
                &pairs,
            ))
            .await;
        assert_in_band(&answer, Code::InvalidArgument, None);
        let message = &in_band_error(&answer).message;
        assert!(message.contains(expected), "{message}");
    }
    assert!(rows(&emu).is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn unsupported_expressions_are_refused_at_table_creation() {
    let emu = start().await;
    emu.create_dataset(PROJECT, "d").unwrap();
    let mut bad = column("r", Type::Double, Mode::Nullable);
    bad.default_value_expression = "RAND()".into();
    let error = emu
        .create_table(TABLE, TableSchema { fields: vec![bad] })
        .unwrap_err();
    assert!(matches!(error, Error::InvalidSchema(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("`RAND()` of column `r`: the function call `RAND()` is not supported"),
        "{error}"
    );
    let table = |fields: serde_json::Value| {
        json!({
            "tableReference": {"projectId": "test-project", "datasetId": "d", "tableId": "t"},
            "schema": {"fields": fields}
        })
    };
    let url = format!("{BASE}/datasets/d/tables");
    let (status, body) = http(
        &emu,
        "POST",
        &url,
        Some(&table(json!([
            {"name": "n", "type": "INTEGER", "defaultValueExpression": "'abc'"}
        ]))),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`'abc'` of column `n` is not a valid INT64"),
        "{message}"
    );
    let fields = json!([
        {"name": "at", "type": "TIMESTAMP", "mode": "REQUIRED",
         "defaultValueExpression": "CURRENT_TIMESTAMP()"},
        {"name": "id", "type": "STRING", "defaultValueExpression": "GENERATE_UUID()"}
    ]);
    let (status, created) = http(&emu, "POST", &url, Some(&table(fields.clone()))).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["schema"]["fields"][0]["defaultValueExpression"],
        "CURRENT_TIMESTAMP()"
    );
    assert_eq!(
        emu.table_schema(TABLE).unwrap().fields[1].default_value_expression,
        "GENERATE_UUID()"
    );
    emu.shutdown().await;
}
