//! Unit tests of `defaults.rs`: expression checks and evaluation.

use std::time::{Duration, SystemTime};

use super::*;
use crate::schema;

fn column(ty: ColumnType, mode: ColumnMode) -> Column {
    Column {
        name: "c".into(),
        ty,
        mode,
        fields: Vec::new().into(),
    }
}

fn value(text: &str, ty: ColumnType) -> Result<Value, String> {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 + 3661);
    compile_one(text, &column(ty, ColumnMode::Nullable)).map(|e| e.eval(at))
}

#[test]
fn literals_of_every_scalar_type() {
    use ColumnType as T;
    let cases = [
        ("'n/a'", T::String, Value::String("n/a".into())),
        (r#""it\'s""#, T::String, Value::String("it's".into())),
        ("42", T::Int64, Value::Int64(42)),
        ("-0x10", T::Int64, Value::Int64(-16)),
        ("1.5", T::Float64, Value::Float64(1.5)),
        ("3", T::Float64, Value::Float64(3.0)),
        ("TRUE", T::Bool, Value::Bool(true)),
        ("false", T::Bool, Value::Bool(false)),
        ("b'ab'", T::Bytes, Value::Bytes(b"ab".to_vec())),
        ("1.50", T::Numeric, Value::Numeric("1.5".into())),
        ("NUMERIC '2'", T::Numeric, Value::Numeric("2".into())),
        ("7", T::BigNumeric, Value::BigNumeric("7".into())),
        (
            "DATE '2024-02-29'",
            T::Date,
            Value::Date("2024-02-29".into()),
        ),
        ("'2024-02-29'", T::Date, Value::Date("2024-02-29".into())),
        (
            "DATETIME '2024-01-02 03:04:05'",
            T::DateTime,
            Value::DateTime("2024-01-02T03:04:05".into()),
        ),
        ("TIME '12:30:00'", T::Time, Value::Time("12:30:00".into())),
        (
            "TIMESTAMP '1970-01-01 00:00:01+00'",
            T::Timestamp,
            Value::Timestamp(1_000_000),
        ),
        (
            "JSON '{\"a\": 1}'",
            T::Json,
            Value::Json("{\"a\": 1}".into()),
        ),
        ("NULL", T::String, Value::Null),
    ];
    for (text, ty, expected) in cases {
        assert_eq!(value(text, ty), Ok(expected), "{text}");
    }
}

#[test]
fn functions_take_the_append_time() {
    use ColumnType as T;
    assert_eq!(
        value("CURRENT_TIMESTAMP()", T::Timestamp),
        Ok(Value::Timestamp(90_061_000_000))
    );
    assert_eq!(
        value("current_date()", T::Date),
        Ok(Value::Date("1970-01-02".into()))
    );
    assert_eq!(
        value("CURRENT_DATETIME", T::DateTime),
        Ok(Value::DateTime("1970-01-02T01:01:01".into()))
    );
    assert_eq!(
        value("CURRENT_TIME()", T::Time),
        Ok(Value::Time("01:01:01".into()))
    );
}

#[test]
fn generate_uuid_is_a_new_v4_uuid_per_row() {
    let uuid = compile_one(
        "GENERATE_UUID()",
        &column(ColumnType::String, ColumnMode::Required),
    )
    .unwrap();
    let (Value::String(a), Value::String(b)) =
        (uuid.eval(SystemTime::now()), uuid.eval(SystemTime::now()))
    else {
        panic!("GENERATE_UUID() is a STRING");
    };
    assert_ne!(a, b);
    for id in [a, b] {
        let parts: Vec<&str> = id.split('-').collect();
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12], "{id}");
        assert!(parts[2].starts_with('4'), "version 4: {id}");
        assert!(
            matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
            "RFC 4122 variant: {id}"
        );
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}

#[test]
fn unsupported_and_mistyped_expressions_are_refused_by_name() {
    use ColumnType as T;
    let refused = |text: &str, ty: ColumnType| value(text, ty).unwrap_err();
    assert!(refused("RAND()", T::Float64).contains("`RAND()` is not supported by the emulator"));
    assert!(refused("SESSION_USER()", T::String).contains("not supported"));
    assert!(
        refused("CURRENT_DATE()", T::Timestamp).contains("is DATE, but the column is TIMESTAMP")
    );
    assert!(refused("'abc'", T::Int64).contains("column `c` is not a valid INT64"));
    assert!(refused("42", T::String).contains("is a INT64 literal, but the column is STRING"));
    assert!(refused("DATE '2024-01-01'", T::Timestamp).contains("is a DATE literal"));
    assert!(refused("1 + 1", T::Int64).contains("is not a literal"));
    assert!(refused("'2024-13-01'", T::Date).contains("not a valid DATE"));
    let required = compile_one("NULL", &column(T::String, ColumnMode::Required)).unwrap_err();
    assert!(
        required.contains("REQUIRED column `c` is NULL"),
        "{required}"
    );
    let repeated = compile_one("'a'", &column(T::String, ColumnMode::Repeated)).unwrap_err();
    assert!(repeated.contains("`c` is REPEATED"), "{repeated}");
}

#[test]
fn nested_defaults_are_refused_at_table_creation() {
    let schema = schema::from_json_text(
        r#"[{"name": "s", "type": "RECORD", "fields": [
             {"name": "x", "type": "STRING", "defaultValueExpression": "'a'"}]}]"#,
    )
    .unwrap();
    let columns = schema::compile(&schema).unwrap();
    let error = compile(&schema.fields, &columns).unwrap_err();
    assert!(
        error.contains("field `s.x`") && error.contains("top-level"),
        "{error}"
    );
}

#[test]
fn interpretations_per_request_override_the_connection() {
    let schema = schema::from_json_text(
        r#"[{"name": "a", "type": "STRING", "defaultValueExpression": "'x'"},
            {"name": "b", "type": "INT64", "defaultValueExpression": "1"},
            {"name": "c", "type": "INT64"}]"#,
    )
    .unwrap();
    let columns = schema::compile(&schema).unwrap();
    let defaults = compile(&schema.fields, &columns).unwrap();
    let map = |pairs: &[(&str, Interpretation)]| -> HashMap<String, i32> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v as i32))
            .collect()
    };
    let pick = |pairs: &[(&str, Interpretation)], connection| {
        defaulted_columns(&columns, &defaults, &map(pairs), connection)
    };
    use Interpretation as I;
    assert_eq!(pick(&[], I::Unspecified), Ok(vec![]));
    assert_eq!(pick(&[("A", I::DefaultValue)], I::Unspecified), Ok(vec![0]));
    assert_eq!(pick(&[], I::DefaultValue), Ok(vec![0, 1]));
    assert_eq!(pick(&[("b", I::NullValue)], I::DefaultValue), Ok(vec![0]));
    // a column without a default stays NULL
    assert_eq!(pick(&[("c", I::DefaultValue)], I::Unspecified), Ok(vec![]));
    assert!(
        pick(&[("zz", I::DefaultValue)], I::Unspecified)
            .unwrap_err()
            .contains("not a column")
    );
    assert!(
        pick(&[("a.b", I::DefaultValue)], I::Unspecified)
            .unwrap_err()
            .contains("top-level")
    );
    assert!(
        pick(&[("a", I::Unspecified)], I::Unspecified)
            .unwrap_err()
            .contains("UNSPECIFIED")
    );
}
