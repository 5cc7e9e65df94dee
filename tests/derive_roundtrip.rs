//! `#[derive(BqRow)]`: the descriptor and the serializer agree. Rows of
//! proptest values covering every type, mode and nesting are encoded with
//! `BqRow::encode`, decoded with prost-reflect from `BqRow::descriptor()` and
//! compared column by column. Hand-computed wire bytes are in
//! `derive_wire_vectors.rs`, the descriptor's shape and `table_schema()` in
//! `derive_descriptor.rs`.

mod derive_support;

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use bqwrite::BqRow;
use bqwrite::types::Date;
use derive_support::check::{Check, Columns, Raw, encode_and_decode};
use derive_support::rows::{Inner, inner_schema};
use derive_support::strategies::{everything, outer};
use proptest::prelude::*;
use prost_reflect::Value;
use serde_json::json;

/// Pointer and borrowed column types.
#[derive(BqRow, Debug)]
struct Borrowed<'a> {
    text: &'a str,
    cow: Cow<'a, str>,
    boxed: Box<str>,
    shared: Arc<str>,
    counted: Rc<String>,
    slice: &'a [u8],
    inner: &'a Inner,
    opt_text: Option<&'a str>,
    texts: Vec<&'a str>,
    #[allow(clippy::vec_box)]
    inners: Vec<Box<Inner>>,
    #[bq(type = "GEOGRAPHY")]
    wkt: Cow<'a, str>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_type_mode_and_nesting_round_trips(row in everything()) {
        let message = encode_and_decode(&row);
        row.check(&Value::Message(message), "Everything");
    }

    #[test]
    fn nested_struct_is_a_row_of_its_own(row in outer()) {
        let message = encode_and_decode(&row);
        row.check(&Value::Message(message), "Outer");
    }
}

#[test]
fn borrowed_and_pointer_columns_round_trip() {
    let inner = Inner {
        id: -7,
        label: Some("label".into()),
        scores: vec![0.5, -1.25],
        day: Date::from_ymd(1999, 12, 31).expect("valid date"),
    };
    let text = String::from("borrowed");
    let row = Borrowed {
        text: &text,
        cow: Cow::Owned("cow".into()),
        boxed: "boxed".into(),
        shared: Arc::from("shared"),
        counted: Rc::new("counted".into()),
        slice: &[0, 1, 255],
        inner: &inner,
        opt_text: None,
        texts: vec!["a", "", "c"],
        inners: vec![Box::new(inner.clone())],
        wkt: Cow::Borrowed("POINT(1 2)"),
    };
    let message = encode_and_decode(&row);
    Columns::new(&Value::Message(message), "Borrowed")
        .required("text", "borrowed")
        .required("cow", "cow")
        .required("boxed", "boxed")
        .required("shared", "shared")
        .required("counted", "counted")
        .required("slice", &Raw(&[0, 1, 255]))
        .required("inner", &inner)
        .nullable::<&str>("opt_text", &None)
        .repeated("texts", &["a", "", "c"])
        .repeated("inners", std::slice::from_ref(&inner))
        .required("wkt", "POINT(1 2)")
        .done();
    assert_eq!(
        Borrowed::table_schema().to_json_value(),
        json!([
            {"name": "text", "type": "STRING", "mode": "REQUIRED"},
            {"name": "cow", "type": "STRING", "mode": "REQUIRED"},
            {"name": "boxed", "type": "STRING", "mode": "REQUIRED"},
            {"name": "shared", "type": "STRING", "mode": "REQUIRED"},
            {"name": "counted", "type": "STRING", "mode": "REQUIRED"},
            {"name": "slice", "type": "BYTES", "mode": "REQUIRED"},
            {"name": "inner", "type": "STRUCT", "mode": "REQUIRED", "fields": inner_schema()},
            {"name": "opt_text", "type": "STRING", "mode": "NULLABLE"},
            {"name": "texts", "type": "STRING", "mode": "REPEATED"},
            {"name": "inners", "type": "STRUCT", "mode": "REPEATED", "fields": inner_schema()},
            {"name": "wkt", "type": "GEOGRAPHY", "mode": "REQUIRED"},
        ])
    );
}
