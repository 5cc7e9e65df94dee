//! Tests of the schema types and their JSON and proto forms.

use super::*;
use crate::proto::storage as pb;
use crate::proto::storage::table_field_schema::FieldElementType;
use proptest::prelude::*;

fn sample() -> TableSchema {
    TableSchema::new(vec![
        FieldSchema::new("id", FieldType::Int64, Mode::Required).with_description("the key"),
        FieldSchema::new("tags", FieldType::String, Mode::Repeated),
        FieldSchema::structure(
            "address",
            Mode::Nullable,
            vec![
                FieldSchema::new("zip", FieldType::String, Mode::Nullable),
                FieldSchema::structure(
                    "geo",
                    Mode::Repeated,
                    vec![FieldSchema::new(
                        "point",
                        FieldType::Geography,
                        Mode::Required,
                    )],
                ),
            ],
        ),
        FieldSchema::range("valid", Mode::Nullable, FieldType::Timestamp),
    ])
}

#[test]
fn json_form() {
    let json = sample().to_json();
    assert_eq!(
        json,
        concat!(
            r#"[{"name":"id","type":"INT64","mode":"REQUIRED","description":"the key"},"#,
            r#"{"name":"tags","type":"STRING","mode":"REPEATED"},"#,
            r#"{"name":"address","type":"STRUCT","mode":"NULLABLE","fields":["#,
            r#"{"name":"zip","type":"STRING","mode":"NULLABLE"},"#,
            r#"{"name":"geo","type":"STRUCT","mode":"REPEATED","fields":["#,
            r#"{"name":"point","type":"GEOGRAPHY","mode":"REQUIRED"}]}]},"#,
            r#"{"name":"valid","type":"RANGE","mode":"NULLABLE","rangeElementType":{"type":"TIMESTAMP"}}]"#,
        )
    );
    assert_eq!(TableSchema::from_json(&json).unwrap(), sample());
    assert_eq!(
        TableSchema::from_json(&sample().to_json_pretty()).unwrap(),
        sample()
    );
    assert_eq!(
        TableSchema::from_json_value(&sample().to_json_value()).unwrap(),
        sample()
    );
}

#[test]
fn legacy_and_lowercase_names() {
    let schema = TableSchema::from_json(
        r#"{"fields": [
            {"name": "a", "type": "INTEGER"},
            {"name": "b", "type": "float", "mode": "required"},
            {"name": "c", "type": "Boolean", "mode": null, "description": null},
            {"name": "d", "type": "RECORD", "mode": "REPEATED", "fields": [{"name": "e", "type": "bignumeric", "precision": "40", "scale": "2"}]},
            {"name": "f", "type": "range", "rangeElementType": {"type": "date"}},
            {"name": "g", "type": "STRING", "maxLength": "10", "policyTags": {"names": []}},
            {"name": "h", "type": "DECIMAL", "precision": "10", "scale": "2"},
            {"name": "i", "type": "bigdecimal"}
        ]}"#,
    )
    .unwrap();
    let expected = TableSchema::new(vec![
        FieldSchema::new("a", FieldType::Int64, Mode::Nullable),
        FieldSchema::new("b", FieldType::Float64, Mode::Required),
        FieldSchema::new("c", FieldType::Bool, Mode::Nullable),
        FieldSchema::structure(
            "d",
            Mode::Repeated,
            vec![FieldSchema::new("e", FieldType::BigNumeric, Mode::Nullable)],
        ),
        FieldSchema::range("f", Mode::Nullable, FieldType::Date),
        FieldSchema::new("g", FieldType::String, Mode::Nullable),
        FieldSchema::new("h", FieldType::Numeric, Mode::Nullable),
        FieldSchema::new("i", FieldType::BigNumeric, Mode::Nullable),
    ]);
    assert_eq!(schema, expected);
    assert_eq!(
        schema.field("D").unwrap().field("E").unwrap().field_type,
        FieldType::BigNumeric
    );
    assert!(schema.field("z").is_none());
}

#[test]
fn json_errors_name_the_field() {
    let cases = [
        (
            r#"[{"name": "address", "type": "RECORD", "fields": [{"name": "zip", "type": "INTEGR"}]}]"#,
            r#"address.zip: unknown type "INTEGR""#,
        ),
        (
            r#"[{"name": "a", "type": "STRING", "mode": "OPTIONAL"}]"#,
            r#"a: unknown mode "OPTIONAL""#,
        ),
        (
            r#"[{"name": "a", "type": "STRING", "mdoe": "REQUIRED"}]"#,
            r#"a: unknown key "mdoe""#,
        ),
        (r#"[{"type": "STRING"}]"#, r#"[0]: missing "name""#),
        (r#"[{"name": "a"}]"#, r#"a: missing "type""#),
        (
            r#"[{"name": "a", "type": 5}]"#,
            r#"a: "type" must be a string"#,
        ),
        (
            r#"[{"name": "s", "type": "STRUCT"}]"#,
            "s: a STRUCT needs at least one field",
        ),
        (
            r#"[{"name": "s", "type": "INT64", "fields": [{"name": "x", "type": "INT64"}]}]"#,
            "s: a INT64 column cannot have sub-fields",
        ),
        (
            r#"[{"name": "r", "type": "RANGE"}]"#,
            "r: a RANGE needs a range element type",
        ),
        (
            r#"[{"name": "r", "type": "RANGE", "rangeElementType": {"type": "TIME"}}]"#,
            "r: RANGE<TIME> is not allowed: the element type must be DATE, DATETIME or TIMESTAMP",
        ),
        (
            r#"[{"name": "d", "type": "DATE", "rangeElementType": {"type": "DATE"}}]"#,
            "d: a DATE column cannot have a range element type",
        ),
        (
            r#"[{"name": "a", "type": "INT64"}, {"name": "A", "type": "STRING"}]"#,
            "A: duplicate field name (names are case-insensitive)",
        ),
        (
            r#"[{"name": "", "type": "INT64"}]"#,
            "[0]: empty field name",
        ),
        (r#"[1]"#, "[0]: a field must be a JSON object"),
    ];
    for (json, message) in cases {
        let err = TableSchema::from_json(json).unwrap_err();
        assert_eq!(err.to_string(), message, "{json}");
    }
    assert!(matches!(
        TableSchema::from_json("{"),
        Err(SchemaError::Json(_))
    ));
    assert!(matches!(
        TableSchema::from_json("{\"schema\": []}"),
        Err(SchemaError::Json(_))
    ));
    assert!(matches!(
        TableSchema::from_json("\"INT64\""),
        Err(SchemaError::Json(_))
    ));
}

#[test]
fn nesting_limit() {
    let mut field = FieldSchema::new("leaf", FieldType::Int64, Mode::Nullable);
    for level in 0..MAX_NESTING_DEPTH {
        field = FieldSchema::structure(format!("s{level}"), Mode::Nullable, vec![field]);
    }
    // 15 STRUCT levels are fine; a 16th is not.
    assert!(TableSchema::new(vec![field.clone()]).validate().is_ok());
    let deeper = TableSchema::new(vec![FieldSchema::structure(
        "top",
        Mode::Nullable,
        vec![field],
    )]);
    let err = deeper.validate().unwrap_err();
    assert!(
        err.to_string().contains("deeper than BigQuery's 15 levels"),
        "{err}"
    );
}

#[test]
fn type_and_mode_names() {
    for t in FieldType::ALL {
        assert_eq!(t.as_str().parse::<FieldType>().unwrap(), t);
        assert_eq!(t.as_str().to_lowercase().parse::<FieldType>().unwrap(), t);
        assert_eq!(FieldType::from_proto(t.to_proto()), Some(t));
        assert_eq!(
            t.to_proto().as_str_name().replace("DOUBLE", "FLOAT64"),
            t.as_str()
        );
    }
    assert_eq!(FieldType::from_proto(PbType::Unspecified), None);
    assert_eq!("integer".parse::<FieldType>().unwrap(), FieldType::Int64);
    assert_eq!(
        "INTEGR".parse::<FieldType>().unwrap_err().to_string(),
        r#"unknown type "INTEGR""#
    );
    for m in [Mode::Nullable, Mode::Required, Mode::Repeated] {
        assert_eq!(m.to_string().parse::<Mode>().unwrap(), m);
        assert_eq!(Mode::from_proto(m.to_proto()), m);
    }
    assert_eq!(Mode::from_proto(PbMode::Unspecified), Mode::Nullable);
    assert_eq!(Mode::default(), Mode::Nullable);
}

#[test]
fn proto_form() {
    let proto = pb::TableSchema::from(sample());
    assert_eq!(proto.fields[0].r#type, PbType::Int64 as i32);
    assert_eq!(proto.fields[0].mode, PbMode::Required as i32);
    assert_eq!(proto.fields[0].description, "the key");
    assert_eq!(
        proto.fields[2].fields[1].fields[0].r#type,
        PbType::Geography as i32
    );
    assert_eq!(
        proto.fields[3].range_element_type,
        Some(FieldElementType {
            r#type: PbType::Timestamp as i32
        })
    );
    assert_eq!(TableSchema::try_from(&proto).unwrap(), sample());

    let mut bad = proto.clone();
    bad.fields[2].fields[0].r#type = 0;
    assert_eq!(
        TableSchema::try_from(&bad).unwrap_err().to_string(),
        "address.zip: type is TYPE_UNSPECIFIED"
    );
    let mut bad = proto.clone();
    bad.fields[1].mode = 9;
    assert_eq!(
        TableSchema::try_from(&bad).unwrap_err().to_string(),
        "tags: mode has unknown number 9"
    );
    let mut bad = proto.clone();
    bad.fields[3].range_element_type = Some(FieldElementType { r#type: 99 });
    assert_eq!(
        TableSchema::try_from(bad).unwrap_err().to_string(),
        "valid: range element type has unknown number 99"
    );
    let mut unspecified_mode = proto;
    unspecified_mode.fields[1].mode = 0;
    assert_eq!(
        TableSchema::try_from(&unspecified_mode).unwrap().fields[1].mode,
        Mode::Nullable
    );
}

fn any_scalar_type() -> impl Strategy<Value = FieldType> {
    proptest::sample::select(
        FieldType::ALL
            .iter()
            .copied()
            .filter(|t| !matches!(t, FieldType::Struct | FieldType::Range))
            .collect::<Vec<_>>(),
    )
}

fn any_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Nullable),
        Just(Mode::Required),
        Just(Mode::Repeated)
    ]
}

fn any_leaf() -> impl Strategy<Value = FieldSchema> {
    let description = proptest::option::of("[ -~]{1,12}");
    prop_oneof![
        (
            any_scalar_type(),
            any_mode(),
            description.clone(),
            proptest::option::of("[ -~]{1,12}")
        )
            .prop_map(|(t, m, d, e)| FieldSchema {
                description: d,
                default_value_expression: e,
                ..FieldSchema::new("f", t, m)
            }),
        (
            proptest::sample::select(vec![
                FieldType::Date,
                FieldType::DateTime,
                FieldType::Timestamp
            ]),
            any_mode(),
            description,
        )
            .prop_map(|(t, m, d)| FieldSchema {
                description: d,
                ..FieldSchema::range("f", m, t)
            }),
    ]
}

/// Gives siblings distinct names, as BigQuery requires.
fn renamed(mut fields: Vec<FieldSchema>) -> Vec<FieldSchema> {
    for (i, field) in fields.iter_mut().enumerate() {
        field.name = format!("{}_{i}", field.field_type.as_str().to_lowercase());
    }
    fields
}

fn any_field() -> impl Strategy<Value = FieldSchema> {
    any_leaf().prop_recursive(4, 32, 5, |inner| {
        (proptest::collection::vec(inner, 1..5), any_mode())
            .prop_map(|(fields, mode)| FieldSchema::structure("s", mode, renamed(fields)))
    })
}

proptest! {
    #[test]
    fn json_and_proto_round_trips(fields in proptest::collection::vec(any_field(), 0..6)) {
        let schema = TableSchema::new(renamed(fields));
        prop_assert!(schema.validate().is_ok());
        let from_json = TableSchema::from_json(&schema.to_json()).unwrap();
        prop_assert_eq!(&from_json, &schema);
        let proto = pb::TableSchema::from(&schema);
        let from_proto = TableSchema::try_from(&proto).unwrap();
        prop_assert_eq!(&from_proto, &schema);
        // JSON -> proto -> JSON is stable too.
        prop_assert_eq!(TableSchema::try_from(&pb::TableSchema::from(from_json)).unwrap().to_json(), schema.to_json());
    }
}
