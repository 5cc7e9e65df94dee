//! Schema evolution: tables.patch/update and `alter_table` change a table's
//! schema; AppendRows connections hear of it through `updated_schema` once
//! the change reaches the write path; added columns are refused until then;
//! dropped columns' values are discarded; a recreated table answers
//! NOT_FOUND for a while.

mod common;

use std::time::Duration;

use bqwrite::proto::storage::table_field_schema::{Mode, Type};
use bqwrite::proto::storage::{AppendRowsResponse, TableSchema};
use bqwrite_emulator::{Emulator, Value};
use common::*;
use prost_types::field_descriptor_proto::{Label, Type as PType};
use serde_json::json;
use tonic::Code;

const BASE: &str = "/bigquery/v2/projects/test-project/datasets/d/tables/t";
const DEFAULT: &str = "projects/test-project/datasets/d/tables/t/streams/_default";

fn with_note() -> TableSchema {
    let mut schema = seed_schema();
    schema
        .fields
        .push(column("note", Type::String, Mode::Nullable));
    schema
}

fn note_descriptor() -> prost_types::DescriptorProto {
    let mut descriptor = seed_descriptor();
    descriptor
        .field
        .push(field("note", 3, PType::String, Label::Optional));
    descriptor
}

fn note_row(id: i64) -> Vec<u8> {
    Enc::new()
        .int64(1, id)
        .string(2, "n")
        .string(3, &format!("note {id}"))
        .done()
}

fn names(schema: &TableSchema) -> Vec<&str> {
    schema.fields.iter().map(|f| f.name.as_str()).collect()
}

async fn append_seed(conn: &mut Conn, first: bool, id: i64) -> AppendRowsResponse {
    let (stream, schema) = if first {
        (DEFAULT, Some(seed_descriptor()))
    } else {
        ("", None)
    };
    conn.append(append_request(
        stream,
        None,
        schema,
        vec![seed_row(id, "n")],
    ))
    .await
}

#[tokio::test]
async fn tables_patch_adds_and_relaxes_and_update_drops() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let patch = |fields: serde_json::Value| json!({ "schema": { "fields": fields } });
    let added = patch(json!([
        {"name": "id", "type": "INTEGER", "mode": "NULLABLE"},
        {"name": "name", "type": "STRING"},
        {"name": "note", "type": "STRING", "mode": "NULLABLE"}
    ]));
    let (status, table) = http(&emu, "PATCH", BASE, Some(&added)).await;
    assert_eq!(status, 200, "{table}");
    assert_eq!(table["schema"]["fields"][2]["name"], json!("note"));
    assert_eq!(table["schema"]["fields"][0]["mode"], json!("NULLABLE"));
    let (_, got) = http(&emu, "GET", BASE, None).await;
    assert_eq!(got["schema"], table["schema"]);

    let dropped = patch(json!([{"name": "id", "type": "INTEGER"}]));
    let (status, refused) = http(&emu, "PATCH", BASE, Some(&dropped)).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["errors"][0]["reason"], json!("invalid"));
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Field name is missing in new schema"),
        "{message}"
    );

    let retyped = patch(json!([
        {"name": "id", "type": "STRING"},
        {"name": "name", "type": "STRING"},
        {"name": "note", "type": "STRING"}
    ]));
    let (status, refused) = http(&emu, "PATCH", BASE, Some(&retyped)).await;
    assert_eq!(status, 400, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("Field id has changed type"), "{message}");

    let (status, table) = http(&emu, "PUT", BASE, Some(&dropped)).await;
    assert_eq!(status, 200, "{table}");
    assert_eq!(emu.table_schema(TABLE).unwrap().fields.len(), 1);

    let missing = "/bigquery/v2/projects/test-project/datasets/d/tables/nope";
    let (status, _) = http(&emu, "PATCH", missing, Some(&added)).await;
    assert_eq!(status, 404);
    emu.shutdown().await;
}

#[tokio::test]
async fn an_added_column_reaches_the_write_path_after_the_propagation_delay() {
    // Long enough for the checks before it is due, even on a loaded machine.
    let delay = Duration::from_millis(1500);
    let emu = Emulator::builder()
        .project(PROJECT)
        .schema_propagation(delay)
        .start()
        .await
        .unwrap();
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let mut old = Conn::open(&mut client).await;
    let first = append_seed(&mut old, true, 1).await;
    assert!(first.updated_schema.is_none());

    let altered = tokio::time::Instant::now();
    emu.alter_table(TABLE, with_note()).unwrap();
    assert_eq!(
        names(&emu.table_schema(TABLE).unwrap()),
        ["id", "name", "note"]
    );
    let early = append_seed(&mut old, false, 2).await;
    ok_offset(&early);
    assert!(early.updated_schema.is_none(), "not on the write path yet");

    // A writer schema with the new column is refused as naming an unknown field.
    let mut new = Conn::open(&mut client).await;
    new.send(append_request(
        DEFAULT,
        None,
        Some(note_descriptor()),
        vec![note_row(3)],
    ))
    .await;
    let status = new.recv().await.expect_err("the call ends");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("extra fields: 'note'"),
        "{}",
        status.message()
    );

    // The change is timed: wait until it is due, not for readiness.
    tokio::time::sleep_until(altered + delay).await;
    let noticed = append_seed(&mut old, false, 4).await;
    let updated = noticed
        .updated_schema
        .expect("the next answer carries the new schema");
    assert_eq!(names(&updated), ["id", "name", "note"]);
    let again = append_seed(&mut old, false, 5).await;
    assert!(
        again.updated_schema.is_none(),
        "once per change per connection"
    );

    let mut new = Conn::open(&mut client).await;
    let written = new
        .append(append_request(
            DEFAULT,
            None,
            Some(note_descriptor()),
            vec![note_row(6)],
        ))
        .await;
    ok_offset(&written);
    let rows = emu.rows(TABLE).unwrap();
    let notes: Vec<(i64, Value)> = rows
        .iter()
        .map(|r| match r.get("id") {
            Some(Value::Int64(id)) => (*id, r.get("note").cloned().unwrap()),
            other => panic!("id {other:?}"),
        })
        .collect();
    assert_eq!(
        notes,
        [
            (1, Value::Null),
            (2, Value::Null),
            (4, Value::Null),
            (5, Value::Null),
            (6, Value::String("note 6".into()))
        ]
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_dropped_columns_values_are_discarded_and_new_connections_refuse_it() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    ok_offset(&append_seed(&mut conn, true, 1).await);
    let mut without_name = seed_schema();
    without_name.fields.pop();
    emu.alter_table(TABLE, without_name).unwrap();

    let after = append_seed(&mut conn, false, 2).await;
    ok_offset(&after);
    let updated = after.updated_schema.expect("the drop is reported");
    assert_eq!(names(&updated), ["id"]);
    let rows = emu.rows(TABLE).unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(
            row.columns().len(),
            1,
            "the values of `name` are gone: {row:?}"
        );
    }

    let mut fresh = Conn::open(&mut client).await;
    fresh
        .send(append_request(
            DEFAULT,
            None,
            Some(seed_descriptor()),
            vec![seed_row(3, "n")],
        ))
        .await;
    let status = fresh.recv().await.expect_err("the call ends");
    assert!(
        status.message().contains("extra fields: 'name'"),
        "{}",
        status.message()
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_recreated_table_answers_not_found_for_the_window() {
    let window = Duration::from_millis(1000);
    let emu = Emulator::builder()
        .project(PROJECT)
        .recreate_window(window)
        .start()
        .await
        .unwrap();
    emu.create_table(TABLE, seed_schema()).unwrap();
    emu.delete_table(TABLE).unwrap();
    let recreated = tokio::time::Instant::now();
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    let refused = append_seed(&mut conn, true, 1).await;
    let status = in_band_error(&refused);
    assert_eq!(status.code, Code::NotFound as i32, "{status:?}");

    tokio::time::sleep_until(recreated + window).await;
    ok_offset(&append_seed(&mut conn, true, 2).await);
    assert_eq!(emu.row_count(TABLE).unwrap(), 1);
    emu.shutdown().await;
}

/// The emulator keeps a table's primary key and column defaults by column
/// position, so it refuses, saying why, the changes it could not follow:
/// dropping a column of such a table, or adding a default by a change.
#[tokio::test]
async fn changes_the_emulator_cannot_follow_are_refused_with_the_reason() {
    let emu = start().await;
    let keyed = "projects/test-project/datasets/d/tables/keyed";
    let mut schema = seed_schema();
    schema
        .fields
        .push(column("note", Type::String, Mode::Nullable));
    emu.create_table_with_primary_key(keyed, schema, ["id"])
        .unwrap();
    let err = emu.alter_table(keyed, seed_schema()).unwrap_err();
    assert!(
        err.to_string().contains("does not drop columns (note)"),
        "{err}"
    );

    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut defaulted = seed_schema();
    let mut note = column("note", Type::String, Mode::Nullable);
    note.default_value_expression = "'x'".into();
    defaulted.fields.push(note);
    let err = emu.alter_table(TABLE, defaulted).unwrap_err();
    assert!(err.to_string().contains("column note"), "{err}");
    // the same column without a default is an ordinary change
    emu.alter_table(TABLE, with_note()).unwrap();
}
