//! Flexible column names: a column whose name is not a proto identifier
//! (`first-name`, `total %`, `ünïcode`) gets a generated proto field name and
//! the Storage Write API's `column_name` field option. The rows go through the
//! writer into the emulator, which matches fields to columns by the option,
//! and come back under their real names.

mod support;

use bqwrite::proto::COLUMN_NAME_EXTENSION;
use bqwrite::proto::storage::ProtoSchema;
use bqwrite::{BqRow, Writer};
use bqwrite_emulator::Value;
use prost::Message;
use support::{Env, bounded};

#[derive(BqRow, Debug, Clone, PartialEq)]
struct Person {
    #[bq(rename = "first-name")]
    first_name: String,
    #[bq(rename = "total %")]
    total: Option<f64>,
    #[bq(rename = "ünïcode")]
    unicode: Vec<i64>,
    #[bq(rename = "1st address")]
    address: Address,
    plain: i64,
}

#[derive(BqRow, Debug, Clone, PartialEq)]
struct Address {
    #[bq(rename = "zip-code")]
    zip_code: String,
    #[bq(rename = "名前")]
    name: Option<String>,
}

fn rows() -> Vec<Person> {
    vec![
        Person {
            first_name: "Ada".into(),
            total: Some(12.5),
            unicode: vec![1, -2, 3],
            address: Address {
                zip_code: "12345".into(),
                name: Some("家".into()),
            },
            plain: 7,
        },
        Person {
            first_name: "Grace".into(),
            total: None,
            unicode: vec![],
            address: Address {
                zip_code: "0".into(),
                name: None,
            },
            plain: -1,
        },
    ]
}

#[test]
fn the_table_schema_has_the_real_names() {
    let names: Vec<String> = Person::table_schema()
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(
        names,
        ["first-name", "total %", "ünïcode", "1st address", "plain"]
    );
    let nested: Vec<String> = Person::table_schema().fields[3]
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(nested, ["zip-code", "名前"]);
}

#[test]
fn the_descriptor_has_proto_identifiers_and_column_name_options() {
    let wire = Person::wire_descriptor();
    let fields: Vec<(&str, Option<&str>)> = wire
        .field
        .iter()
        .map(|f| {
            (
                f.name(),
                f.options.as_ref().and_then(|o| o.column_name.as_deref()),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("_col1", Some("first-name")),
            ("_col2", Some("total %")),
            ("_col3", Some("ünïcode")),
            ("_col4", Some("1st address")),
            ("plain", None),
        ]
    );
    // The packed option of the repeated INT64 column is kept next to it.
    assert_eq!(
        wire.field[2].options.as_ref().and_then(|o| o.packed),
        Some(true)
    );
    // The prost_types form is the same message without the options.
    let plain = Person::descriptor();
    assert_eq!(plain.field.len(), 5);
    assert_eq!(plain.field[0].name(), "_col1");
    assert_eq!(plain.field[0].options, Some(Default::default()));
    assert_eq!(plain.nested_type.len(), 1);
}

/// The length-delimited fields numbered `tag` in one encoded message.
fn delimited(mut bytes: &[u8], tag: u32) -> Vec<Vec<u8>> {
    use prost::encoding::{WireType, decode_key, decode_varint};
    let mut found = Vec::new();
    while !bytes.is_empty() {
        let (number, wire_type) = decode_key(&mut bytes).expect("a key");
        match wire_type {
            WireType::Varint => {
                decode_varint(&mut bytes).expect("a varint");
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut bytes).expect("a length") as usize;
                let (value, rest) = bytes.split_at(len);
                if number == tag {
                    found.push(value.to_vec());
                }
                bytes = rest;
            }
            other => panic!("unexpected wire type {other:?} in a descriptor"),
        }
    }
    found
}

#[test]
fn the_encoded_proto_schema_carries_extension_454943157() {
    assert_eq!(COLUMN_NAME_EXTENSION, 454_943_157);
    let schema = ProtoSchema {
        proto_descriptor: Some(Person::wire_descriptor().clone()),
    }
    .encode_to_vec();
    // ProtoSchema.proto_descriptor = 1 -> DescriptorProto.field = 2 ->
    // FieldDescriptorProto.options = 8 -> FieldOptions.(column_name).
    let [descriptor] = &delimited(&schema, 1)[..] else {
        panic!("one proto_descriptor");
    };
    let columns: Vec<Vec<Vec<u8>>> = delimited(descriptor, 2)
        .iter()
        .map(|field| {
            delimited(field, 8)
                .iter()
                .flat_map(|options| delimited(options, COLUMN_NAME_EXTENSION))
                .collect()
        })
        .collect();
    let expected: [&[&[u8]]; 5] = [
        &[b"first-name"],
        &[b"total %"],
        &["ünïcode".as_bytes()],
        &[b"1st address"],
        &[],
    ];
    assert_eq!(columns, expected);
    // The nested message (DescriptorProto.nested_type = 3) carries its own.
    let [nested] = &delimited(descriptor, 3)[..] else {
        panic!("one nested type");
    };
    let nested_columns: Vec<Vec<u8>> = delimited(nested, 2)
        .iter()
        .flat_map(|field| delimited(field, 8))
        .flat_map(|options| delimited(&options, COLUMN_NAME_EXTENSION))
        .collect();
    assert_eq!(
        nested_columns,
        [b"zip-code".to_vec(), "名前".as_bytes().to_vec()]
    );
}

/// The top-level columns the emulator should hold, but for the STRUCT.
fn expected(row: &Person) -> Vec<(String, Value)> {
    vec![
        (
            "first-name".to_owned(),
            Value::String(row.first_name.clone()),
        ),
        (
            "total %".to_owned(),
            row.total.map_or(Value::Null, Value::Float64),
        ),
        (
            "ünïcode".to_owned(),
            Value::Array(row.unicode.iter().copied().map(Value::Int64).collect()),
        ),
        ("plain".to_owned(), Value::Int64(row.plain)),
    ]
}

/// The columns of the STRUCT `1st address`.
fn expected_address(address: &Address) -> Vec<(String, Value)> {
    vec![
        (
            "zip-code".to_owned(),
            Value::String(address.zip_code.clone()),
        ),
        (
            "名前".to_owned(),
            address.name.clone().map_or(Value::Null, Value::String),
        ),
    ]
}

#[tokio::test]
async fn flexible_column_names_are_written_through_the_writer() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Person>("flexible");
        let rows = rows();
        let mut writer = Writer::<Person>::pending(&table)
            .await
            .expect("stream created");
        writer.append(rows.clone()).await.expect("rows accepted");
        writer
            .finalize()
            .await
            .expect("finalized")
            .commit()
            .await
            .expect("committed");
        let stored = env
            .emulator
            .rows(&Env::path("flexible"))
            .expect("rows readable");
        assert_eq!(stored.len(), rows.len());
        for (stored, row) in stored.into_iter().zip(&rows) {
            let mut columns = stored.into_columns();
            let (name, address) = columns.remove(3);
            assert_eq!(name, "1st address");
            let Value::Struct(address) = address else {
                panic!("`1st address` is a STRUCT, got {address:?}");
            };
            assert_eq!(address.into_columns(), expected_address(&row.address));
            assert_eq!(columns, expected(row));
        }
    })
    .await;
}
