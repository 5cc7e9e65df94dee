//! `#[derive(BqRow)]`: the descriptor's shape (built once, self-contained,
//! nested type names unique, field numbers in declaration order) and
//! `table_schema()` in BigQuery's JSON form.

mod derive_support;

use bqwrite::BqRow;
use bqwrite::types::{Date, Interval, Numeric, Range, Timestamp};
use derive_support::check::{Check, encode_and_decode};
use derive_support::rows::{Everything, Inner, Outer, inner_schema};
use serde_json::json;

#[test]
fn descriptor_is_built_once_and_self_contained() {
    let first: *const _ = Everything::descriptor();
    let second: *const _ = Everything::descriptor();
    assert!(std::ptr::eq(first, second), "built once, then shared");

    let descriptor = Outer::descriptor();
    assert_eq!(descriptor.name(), "Outer");
    // Every STRUCT type at any depth is a nested type of the root, once.
    let nested: Vec<&str> = descriptor.nested_type.iter().map(|m| m.name()).collect();
    assert_eq!(nested, ["Inner", "Deeper"]);
    assert!(
        descriptor
            .nested_type
            .iter()
            .all(|m| m.nested_type.is_empty())
    );
    let inner = descriptor
        .field
        .iter()
        .find(|f| f.name() == "inner")
        .expect("column");
    assert_eq!(inner.type_name(), "Inner");
    assert_eq!(
        inner.label(),
        prost_types::field_descriptor_proto::Label::Required
    );
    let many = descriptor
        .field
        .iter()
        .find(|f| f.name() == "many")
        .expect("column");
    assert_eq!(
        many.label(),
        prost_types::field_descriptor_proto::Label::Repeated
    );
    // Field numbers follow declaration order, skipping `#[bq(skip)]`.
    let numbers: Vec<i32> = Everything::descriptor()
        .field
        .iter()
        .map(|f| f.number())
        .collect();
    assert_eq!(numbers, (1..=numbers.len() as i32).collect::<Vec<_>>());
    // Repeated numbers are declared packed, as they are written.
    let scores = &descriptor.nested_type[0].field[2];
    assert_eq!(scores.name(), "scores");
    assert_eq!(scores.options.as_ref().and_then(|o| o.packed), Some(true));
}

mod elsewhere {
    /// Same Rust name as `super::Inner`, different columns.
    #[derive(bqwrite::BqRow, Debug)]
    pub struct Inner {
        pub other: String,
    }
}

/// Nested type names never collide: with each other, with the root's
/// columns, or with the root message.
#[derive(BqRow, Debug)]
struct Collisions {
    #[bq(rename = "Inner")]
    inner: Inner,
    other: elsewhere::Inner,
    again: Inner,
    #[bq(rename = "Collisions")]
    itself: Option<Inner>,
}

#[test]
fn nested_type_names_are_unique() {
    let descriptor = Collisions::descriptor();
    let nested: Vec<&str> = descriptor.nested_type.iter().map(|m| m.name()).collect();
    assert_eq!(nested, ["Inner_2", "Inner_3"]);
    let type_names: Vec<&str> = descriptor.field.iter().map(|f| f.type_name()).collect();
    assert_eq!(type_names, ["Inner_2", "Inner_3", "Inner_2", "Inner_2"]);
    let row = Collisions {
        inner: Inner {
            id: 1,
            label: None,
            scores: vec![],
            day: Date::from_days(0).expect("epoch"),
        },
        other: elsewhere::Inner { other: "x".into() },
        again: Inner {
            id: 2,
            label: Some("b".into()),
            scores: vec![1.0],
            day: Date::from_days(1).expect("epoch + 1"),
        },
        itself: None,
    };
    let message = encode_and_decode(&row);
    let other = message.get_field_by_name("other").expect("column");
    let other = other.as_message().expect("message");
    assert_eq!(
        other.get_field_by_name("other").expect("column").as_str(),
        Some("x")
    );
    row.again.check(
        &message.get_field_by_name("again").expect("column"),
        "again",
    );
}

/// Renamed columns and descriptions, as `bq mk --schema` takes them.
#[derive(BqRow)]
#[bq(rename_all = "camelCase")]
struct Order {
    order_id: i64,
    #[bq(rename = "customer_name", description = "Who ordered")]
    customer: String,
    placed_on: Date,
    total: Option<Numeric>,
    #[bq(type = "JSON")]
    extra_attributes: Option<String>,
    period: Range<Timestamp>,
    line_items: Vec<Inner>,
    r#type: Interval,
    #[bq(skip)]
    #[allow(dead_code)]
    cache: (),
}

#[derive(BqRow)]
#[bq(rename_all = "SCREAMING_SNAKE_CASE")]
struct Shouting {
    user_id: i64,
    #[bq(rename = "kept_as_is")]
    renamed: bool,
}

#[derive(BqRow)]
#[bq(rename_all = "PascalCase")]
struct Pascal {
    user_id: i64,
}

#[test]
fn table_schema_is_bigquery_json() {
    let schema = Order::table_schema();
    assert_eq!(
        schema.to_json_value(),
        json!([
            {"name": "orderId", "type": "INT64", "mode": "REQUIRED"},
            {"name": "customer_name", "type": "STRING", "mode": "REQUIRED", "description": "Who ordered"},
            {"name": "placedOn", "type": "DATE", "mode": "REQUIRED"},
            {"name": "total", "type": "NUMERIC", "mode": "NULLABLE"},
            {"name": "extraAttributes", "type": "JSON", "mode": "NULLABLE"},
            {"name": "period", "type": "RANGE", "mode": "REQUIRED", "rangeElementType": {"type": "TIMESTAMP"}},
            {"name": "lineItems", "type": "STRUCT", "mode": "REPEATED", "fields": inner_schema()},
            {"name": "type", "type": "INTERVAL", "mode": "REQUIRED"},
        ])
    );
    // The JSON text parses back to the same schema.
    let parsed = bqwrite::TableSchema::from_json(&schema.to_json()).expect("valid schema JSON");
    assert_eq!(parsed, schema);
    // Proto field names are the column names.
    let names: Vec<&str> = Order::descriptor().field.iter().map(|f| f.name()).collect();
    assert_eq!(
        names,
        [
            "orderId",
            "customer_name",
            "placedOn",
            "total",
            "extraAttributes",
            "period",
            "lineItems",
            "type"
        ]
    );
    let names: Vec<String> = Shouting::table_schema()
        .fields
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["USER_ID", "kept_as_is"]);
    assert_eq!(Pascal::table_schema().fields[0].name, "UserId");
}

#[test]
fn everything_schema_matches_descriptor() {
    let schema = Everything::table_schema();
    let columns: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
    let fields: Vec<&str> = Everything::descriptor()
        .field
        .iter()
        .map(|f| f.name())
        .collect();
    assert_eq!(columns, fields);
    let json = schema.to_json_value();
    let column = |name: &str| {
        json.as_array()
            .and_then(|columns| columns.iter().find(|c| c["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("column {name}"))
    };
    assert_eq!(column("float32")["type"], "FLOAT64");
    assert_eq!(column("vec_bytes")["type"], "BYTES");
    assert_eq!(column("json_value")["type"], "JSON");
    assert_eq!(column("u64_as_numeric")["type"], "NUMERIC");
    assert_eq!(column("string_as_bytes")["type"], "BYTES");
    assert_eq!(column("vec_u8_as_int64")["mode"], "REPEATED");
    assert_eq!(column("vec_u8_as_int64")["type"], "INT64");
    assert_eq!(column("rep_vec_bytes")["type"], "BYTES");
    assert_eq!(column("opt_range")["rangeElementType"]["type"], "DATE");
    assert_eq!(
        column("datetime_range")["rangeElementType"]["type"],
        "DATETIME"
    );
    assert_eq!(column("rep_outer")["fields"][3]["fields"], inner_schema());
    assert_eq!(column("timestamp")["type"], "TIMESTAMP");
    assert_eq!(column("bignumeric")["type"], "BIGNUMERIC");
    assert_eq!(column("geography")["type"], "GEOGRAPHY");
}
