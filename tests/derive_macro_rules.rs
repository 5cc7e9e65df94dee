//! `#[derive(BqRow)]` on structs declared by `macro_rules!` macros. The
//! tokens of such a struct come from two hygiene contexts, the macro's and
//! its caller's: field types passed as `$t:ty` (or written in the macro body
//! while the derive comes from the caller) must not leak their context into
//! the `self`, `buf` and `cx` of the generated code. Each row is encoded,
//! decoded with prost-reflect from its own descriptor, and its schema checked.

use bqwrite::BqRow;
use bqwrite::types::Numeric;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use serde_json::json;

/// A struct whose field types are macro arguments, and the derive in the
/// macro body.
macro_rules! row {
    (
        $(#[$meta:meta])*
        $name:ident $(<$lt:lifetime>)? {
            $($(#[$field_meta:meta])* $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        #[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]
        $(#[$meta])*
        struct $name $(<$lt>)? {
            $($(#[$field_meta])* $field: $ty),*
        }
    };
}

row!(Point { x: i64, y: Option<String> });

row!(Inner {
    id: i64,
    label: Option<String>,
    scores: Vec<f64>,
});

row!(
    #[bq(rename_all = "camelCase")]
    Outer {
        row_id: i64,
        name: Option<String>,
        tags: Vec<String>,
        inner: Inner,
        maybe_inner: Option<Inner>,
        inners: Vec<Inner>,
        #[bq(rename = "blob")]
        #[bq(bytes)]
        payload: Option<Vec<u8>>,
        #[bq(type = "NUMERIC")]
        amount: u64,
        #[bq(skip)]
        cache: Option<std::rc::Rc<()>>,
    }
);

/// The opposite mix: the derive comes from the caller, the field types and
/// the wrappers around them are written in the macro body.
macro_rules! wrapped_row {
    ($(#[$meta:meta])* $name:ident, $elem:ty) => {
        $(#[$meta])*
        struct $name {
            id: i64,
            one: $elem,
            maybe: Option<$elem>,
            many: Vec<$elem>,
        }
    };
}

wrapped_row!(
    #[derive(BqRow, Debug, Clone, PartialEq)]
    Wrapped,
    Point
);

/// A macro that declares its struct through another macro, with a lifetime.
macro_rules! borrowed_row {
    ($name:ident<$lt:lifetime> { $($field:ident : $ty:ty),* }) => {
        row!($name<$lt> { $($field: $ty),* });
    };
}

borrowed_row!(Refs<'a> { text: &'a str, points: Vec<&'a Point> });

/// The message descriptor of `R`, through a file that holds only it.
fn message_descriptor<R: BqRow>() -> MessageDescriptor {
    let file = FileDescriptorProto {
        name: Some("row.proto".into()),
        syntax: Some("proto2".into()),
        message_type: vec![R::descriptor().clone()],
        ..Default::default()
    };
    let pool = DescriptorPool::from_file_descriptor_set(FileDescriptorSet { file: vec![file] })
        .expect("the descriptor is a valid, self-contained proto2 message");
    pool.get_message_by_name(R::descriptor().name())
        .expect("the root message is in the pool")
}

/// Encodes `row`, checks the length and decodes it.
fn encode_and_decode<R: BqRow>(row: &R) -> DynamicMessage {
    let mut bytes = Vec::new();
    row.encode(&mut bytes);
    assert_eq!(
        row.encoded_len(),
        bytes.len(),
        "encoded_len == bytes written"
    );
    let message = DynamicMessage::decode(message_descriptor::<R>(), bytes.as_slice())
        .expect("the bytes decode with the descriptor");
    assert_eq!(
        message.encode_to_vec(),
        bytes,
        "re-encoding gives the same bytes"
    );
    message
}

fn field(message: &DynamicMessage, name: &str) -> Value {
    message
        .get_field_by_name(name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .into_owned()
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn strings(texts: &[&str]) -> Value {
    Value::List(texts.iter().map(|text| string(text)).collect())
}

fn message_of(value: &Value) -> &DynamicMessage {
    match value {
        Value::Message(message) => message,
        other => panic!("not a message: {other:?}"),
    }
}

fn check_point(message: &DynamicMessage, point: &Point) {
    assert_eq!(field(message, "x"), Value::I64(point.x));
    assert_eq!(message.has_field_by_name("y"), point.y.is_some());
    if let Some(y) = &point.y {
        assert_eq!(field(message, "y"), string(y));
    }
}

fn check_inner(message: &DynamicMessage, inner: &Inner) {
    assert_eq!(field(message, "id"), Value::I64(inner.id));
    assert_eq!(message.has_field_by_name("label"), inner.label.is_some());
    if let Some(label) = &inner.label {
        assert_eq!(field(message, "label"), string(label));
    }
    let scores = inner.scores.iter().map(|s| Value::F64(*s)).collect();
    assert_eq!(field(message, "scores"), Value::List(scores));
}

#[test]
fn field_types_from_macro_arguments() {
    for point in [
        Point {
            x: 7,
            y: Some("seven".into()),
        },
        Point { x: -1, y: None },
    ] {
        check_point(&encode_and_decode(&point), &point);
    }
    assert_eq!(
        Point::table_schema().to_json_value(),
        json!([
            {"name": "x", "type": "INT64", "mode": "REQUIRED"},
            {"name": "y", "type": "STRING", "mode": "NULLABLE"},
        ])
    );
}

#[test]
fn nested_structs_and_attributes_from_macro_arguments() {
    let inner = |id: i64| Inner {
        id,
        label: (id % 2 == 0).then(|| format!("label {id}")),
        scores: (0..id).map(|i| i as f64 / 2.0).collect(),
    };
    let row = Outer {
        row_id: 42,
        name: Some("answer".into()),
        tags: vec!["a".into(), "b".into()],
        inner: inner(1),
        maybe_inner: Some(inner(2)),
        inners: vec![inner(3), inner(4), inner(0)],
        payload: Some(vec![0, 1, 255]),
        amount: u64::MAX,
        cache: None,
    };
    let message = encode_and_decode(&row);
    assert_eq!(field(&message, "rowId"), Value::I64(42));
    assert_eq!(field(&message, "name"), string("answer"));
    assert_eq!(field(&message, "tags"), strings(&["a", "b"]));
    check_inner(message_of(&field(&message, "inner")), &row.inner);
    check_inner(
        message_of(&field(&message, "maybeInner")),
        row.maybe_inner.as_ref().expect("some"),
    );
    let Value::List(inners) = field(&message, "inners") else {
        panic!("inners is a list");
    };
    assert_eq!(inners.len(), row.inners.len());
    for (decoded, inner) in inners.iter().zip(&row.inners) {
        check_inner(message_of(decoded), inner);
    }
    assert_eq!(
        field(&message, "blob"),
        Value::Bytes(bytes::Bytes::from_static(&[0, 1, 255]))
    );
    let amount = Numeric::from_scaled(i128::from(u64::MAX) * 1_000_000_000).expect("in range");
    assert_eq!(
        field(&message, "amount"),
        Value::Bytes(bytes::Bytes::copy_from_slice(&amount.to_le_bytes()))
    );

    let empty = Outer {
        row_id: 0,
        name: None,
        tags: vec![],
        inner: inner(0),
        maybe_inner: None,
        inners: vec![],
        payload: None,
        amount: 0,
        cache: Some(std::rc::Rc::new(())),
    };
    let message = encode_and_decode(&empty);
    for absent in ["name", "maybeInner", "blob"] {
        assert!(!message.has_field_by_name(absent), "{absent} is NULL");
    }
    assert_eq!(field(&message, "tags"), strings(&[]));

    let inner_schema = json!([
        {"name": "id", "type": "INT64", "mode": "REQUIRED"},
        {"name": "label", "type": "STRING", "mode": "NULLABLE"},
        {"name": "scores", "type": "FLOAT64", "mode": "REPEATED"},
    ]);
    assert_eq!(
        Outer::table_schema().to_json_value(),
        json!([
            {"name": "rowId", "type": "INT64", "mode": "REQUIRED"},
            {"name": "name", "type": "STRING", "mode": "NULLABLE"},
            {"name": "tags", "type": "STRING", "mode": "REPEATED"},
            {"name": "inner", "type": "STRUCT", "mode": "REQUIRED", "fields": inner_schema},
            {"name": "maybeInner", "type": "STRUCT", "mode": "NULLABLE", "fields": inner_schema},
            {"name": "inners", "type": "STRUCT", "mode": "REPEATED", "fields": inner_schema},
            {"name": "blob", "type": "BYTES", "mode": "NULLABLE"},
            {"name": "amount", "type": "NUMERIC", "mode": "REQUIRED"},
        ])
    );
    let nested: Vec<&str> = Outer::descriptor()
        .nested_type
        .iter()
        .map(|m| m.name())
        .collect();
    assert_eq!(nested, ["Inner"]);
}

#[test]
fn derive_from_the_caller_with_types_from_the_macro_body() {
    let point = |x| Point {
        x,
        y: Some(format!("{x}")),
    };
    let row = Wrapped {
        id: 1,
        one: point(1),
        maybe: None,
        many: vec![point(2), Point { x: 3, y: None }],
    };
    let message = encode_and_decode(&row);
    assert_eq!(field(&message, "id"), Value::I64(1));
    check_point(message_of(&field(&message, "one")), &row.one);
    assert!(!message.has_field_by_name("maybe"));
    let Value::List(many) = field(&message, "many") else {
        panic!("many is a list");
    };
    assert_eq!(many.len(), 2);
    for (decoded, point) in many.iter().zip(&row.many) {
        check_point(message_of(decoded), point);
    }

    let row = Wrapped {
        maybe: Some(point(9)),
        ..row
    };
    let message = encode_and_decode(&row);
    check_point(message_of(&field(&message, "maybe")), &point(9));
}

#[test]
fn macro_declaring_through_another_macro() {
    let points = [
        Point { x: 1, y: None },
        Point {
            x: 2,
            y: Some("two".into()),
        },
    ];
    let row = Refs {
        text: "borrowed",
        points: points.iter().collect(),
    };
    let message = encode_and_decode(&row);
    assert_eq!(field(&message, "text"), string("borrowed"));
    let Value::List(decoded) = field(&message, "points") else {
        panic!("points is a list");
    };
    assert_eq!(decoded.len(), 2);
    for (decoded, point) in decoded.iter().zip(&points) {
        check_point(message_of(decoded), point);
    }
}
