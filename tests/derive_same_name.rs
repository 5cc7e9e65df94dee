//! A row may have a column whose STRUCT type has the row's own name in
//! another module (`v2::Event` inside `Event`): that is not recursion. Real
//! recursion (`Vec<Node>` in `Node`, `Box<Self>`) stays a compile error, see
//! `tests/ui/recursive.rs`.

use bqwrite::BqRow;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use serde_json::json;

mod v2 {
    #[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]
    pub struct Event {
        pub id: i64,
        pub kind: Option<String>,
    }

    pub mod deeper {
        #[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]
        pub struct Event {
            pub at: i64,
        }
    }
}

#[derive(BqRow, Debug, Clone, PartialEq)]
struct Event {
    id: i64,
    payload: v2::Event,
    previous: Option<v2::Event>,
    history: Vec<self::v2::Event>,
    boxed: Box<crate::v2::Event>,
    deep: Option<Box<v2::deeper::Event>>,
}

mod borrowed {
    /// The same, with a lifetime and references.
    #[derive(bqwrite::BqRow, Debug)]
    pub struct Event<'a> {
        pub event: &'a super::v2::Event,
        pub events: Vec<&'a super::v2::Event>,
    }
}

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

fn encode_and_decode<R: BqRow>(row: &R) -> DynamicMessage {
    let bytes = row.encode_to_vec();
    assert_eq!(
        row.encoded_len(),
        bytes.len(),
        "encoded_len == bytes written"
    );
    DynamicMessage::decode(message_descriptor::<R>(), bytes.as_slice())
        .expect("the bytes decode with the descriptor")
}

fn field(message: &DynamicMessage, name: &str) -> Value {
    message
        .get_field_by_name(name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .into_owned()
}

fn check_event(value: &Value, event: &v2::Event) {
    let Value::Message(message) = value else {
        panic!("not a message: {value:?}");
    };
    assert_eq!(field(message, "id"), Value::I64(event.id));
    assert_eq!(message.has_field_by_name("kind"), event.kind.is_some());
    if let Some(kind) = &event.kind {
        assert_eq!(field(message, "kind"), Value::String(kind.clone()));
    }
}

fn list(value: Value) -> Vec<Value> {
    match value {
        Value::List(values) => values,
        other => panic!("not a list: {other:?}"),
    }
}

#[test]
fn a_struct_column_may_share_the_row_name() {
    let event = |id: i64| v2::Event {
        id,
        kind: (id > 1).then(|| format!("kind {id}")),
    };
    let row = Event {
        id: 100,
        payload: event(1),
        previous: Some(event(2)),
        history: vec![event(3), event(4)],
        boxed: Box::new(event(5)),
        deep: Some(Box::new(v2::deeper::Event { at: 6 })),
    };
    let message = encode_and_decode(&row);
    assert_eq!(field(&message, "id"), Value::I64(100));
    check_event(&field(&message, "payload"), &row.payload);
    check_event(
        &field(&message, "previous"),
        row.previous.as_ref().expect("some"),
    );
    let history = list(field(&message, "history"));
    assert_eq!(history.len(), 2);
    for (decoded, event) in history.iter().zip(&row.history) {
        check_event(decoded, event);
    }
    check_event(&field(&message, "boxed"), &row.boxed);
    let Value::Message(deep) = field(&message, "deep") else {
        panic!("deep is a message");
    };
    assert_eq!(field(&deep, "at"), Value::I64(6));

    let row = Event {
        previous: None,
        history: vec![],
        deep: None,
        ..row
    };
    let message = encode_and_decode(&row);
    assert!(!message.has_field_by_name("previous"));
    assert!(!message.has_field_by_name("deep"));
    assert!(list(field(&message, "history")).is_empty());

    let event_schema = json!([
        {"name": "id", "type": "INT64", "mode": "REQUIRED"},
        {"name": "kind", "type": "STRING", "mode": "NULLABLE"},
    ]);
    assert_eq!(
        Event::table_schema().to_json_value(),
        json!([
            {"name": "id", "type": "INT64", "mode": "REQUIRED"},
            {"name": "payload", "type": "STRUCT", "mode": "REQUIRED", "fields": event_schema},
            {"name": "previous", "type": "STRUCT", "mode": "NULLABLE", "fields": event_schema},
            {"name": "history", "type": "STRUCT", "mode": "REPEATED", "fields": event_schema},
            {"name": "boxed", "type": "STRUCT", "mode": "REQUIRED", "fields": event_schema},
            {"name": "deep", "type": "STRUCT", "mode": "NULLABLE", "fields": [
                {"name": "at", "type": "INT64", "mode": "REQUIRED"},
            ]},
        ])
    );
}

#[test]
fn references_to_a_struct_of_the_row_name() {
    let first = v2::Event { id: 1, kind: None };
    let second = v2::Event {
        id: 2,
        kind: Some("two".into()),
    };
    let row = borrowed::Event {
        event: &first,
        events: vec![&second, &first],
    };
    let message = encode_and_decode(&row);
    check_event(&field(&message, "event"), &first);
    let events = list(field(&message, "events"));
    assert_eq!(events.len(), 2);
    check_event(&events[0], &second);
    check_event(&events[1], &first);
}
