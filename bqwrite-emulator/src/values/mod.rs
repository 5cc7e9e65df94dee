//! Rows and their typed values, decoded by the emulator itself from the
//! request's `writer_schema` (never through `bqwrite`'s own types, so the
//! emulator stays an independent check of the client's encodings).

pub(crate) mod civil;
pub(crate) mod decimal;
pub(crate) mod decode;
pub(crate) mod plan;
mod repeat;
pub(crate) mod wire;

use serde_json::{Value as Json, json};

/// One value of a committed row, as the emulator decoded and checked it.
///
/// Text forms are BigQuery's canonical ones: `Date` is `"YYYY-MM-DD"`,
/// `DateTime` is `"YYYY-MM-DDTHH:MM:SS[.ffffff]"`, `Time` is
/// `"HH:MM:SS[.ffffff]"` and `Numeric`/`BigNumeric` are plain decimals with no
/// trailing fractional zeros (`"-1.5"`, `"100"`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL: the field was absent from the row (proto2 semantics).
    Null,
    /// BOOL.
    Bool(bool),
    /// INT64.
    Int64(i64),
    /// FLOAT64.
    Float64(f64),
    /// STRING.
    String(String),
    /// BYTES.
    Bytes(Vec<u8>),
    /// NUMERIC, as decimal text.
    Numeric(String),
    /// BIGNUMERIC, as decimal text.
    BigNumeric(String),
    /// DATE, as `"YYYY-MM-DD"`.
    Date(String),
    /// DATETIME, as `"YYYY-MM-DDTHH:MM:SS[.ffffff]"`.
    DateTime(String),
    /// TIME, as `"HH:MM:SS[.ffffff]"`.
    Time(String),
    /// TIMESTAMP, as microseconds since the Unix epoch.
    Timestamp(i64),
    /// GEOGRAPHY, the text as written.
    Geography(String),
    /// JSON, the text as written.
    Json(String),
    /// INTERVAL, the text as written.
    Interval(String),
    /// RANGE: `None` is an unbounded end.
    Range {
        /// The inclusive start.
        start: Option<Box<Value>>,
        /// The exclusive end.
        end: Option<Box<Value>>,
    },
    /// STRUCT: its sub-columns in schema order.
    Struct(Row),
    /// A REPEATED column's elements (empty when none were written).
    Array(Vec<Value>),
}

impl Value {
    /// The value in tabledata.list's `v` form: INT64, FLOAT64 and NUMERIC as
    /// strings, BOOL as `"true"`/`"false"`, BYTES as base64, TIMESTAMP as
    /// floating-point seconds text, STRUCT as `{"f": [...]}`, ARRAY as
    /// `[{"v": ...}, ...]`, RANGE as `"[start, end)"`, NULL as `null`.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(if *b { "true" } else { "false" }),
            Value::Int64(i) => json!(i.to_string()),
            Value::Float64(f) => json!(float_text(*f)),
            Value::String(s)
            | Value::Numeric(s)
            | Value::BigNumeric(s)
            | Value::Date(s)
            | Value::DateTime(s)
            | Value::Time(s)
            | Value::Geography(s)
            | Value::Json(s)
            | Value::Interval(s) => json!(s),
            Value::Bytes(b) => json!(base64(b)),
            Value::Timestamp(micros) => json!(civil::format_timestamp_seconds(*micros)),
            Value::Range { start, end } => {
                let bound = |b: &Option<Box<Value>>| match b.as_deref() {
                    None => "UNBOUNDED".to_string(),
                    Some(Value::Timestamp(m)) => civil::format_timestamp_rfc3339(*m),
                    Some(Value::Date(s) | Value::DateTime(s)) => s.clone(),
                    Some(other) => format!("{other:?}"),
                };
                json!(format!("[{}, {})", bound(start), bound(end)))
            }
            Value::Struct(row) => row.to_json(),
            Value::Array(items) => {
                Json::Array(items.iter().map(|v| json!({ "v": v.to_json() })).collect())
            }
        }
    }
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{f:?}")
    }
}

/// Standard base64 with padding, as the REST API returns BYTES.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One row: every column of the table (or STRUCT) in schema order, with its
/// value (`Value::Null` when the row did not set it).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Vec<(String, Value)>,
}

impl Row {
    pub(crate) fn new(columns: Vec<(String, Value)>) -> Self {
        Row { columns }
    }

    /// Sets the value of the column at `index` (schema order).
    pub(crate) fn set(&mut self, index: usize, value: Value) {
        if let Some((_, slot)) = self.columns.get_mut(index) {
            *slot = value;
        }
    }

    /// The columns and their values, in schema order.
    pub fn columns(&self) -> &[(String, Value)] {
        &self.columns
    }

    /// The value of a column, matched case-insensitively; `None` if the table
    /// has no such column.
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.columns
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(column))
            .map(|(_, v)| v)
    }

    /// The row as owned `(column, value)` pairs.
    pub fn into_columns(self) -> Vec<(String, Value)> {
        self.columns
    }

    /// The row in tabledata.list's form: `{"f": [{"v": ...}, ...]}`.
    pub fn to_json(&self) -> Json {
        json!({ "f": self.columns.iter().map(|(_, v)| json!({ "v": v.to_json() })).collect::<Vec<_>>() })
    }
}

impl std::ops::Index<&str> for Row {
    type Output = Value;

    /// The value of a column (case-insensitive).
    ///
    /// # Panics
    /// If the row has no such column; use [`Row::get`] to check.
    fn index(&self, column: &str) -> &Value {
        match self.get(column) {
            Some(v) => v,
            None => panic!("the row has no column `{column}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }

    #[test]
    fn json_forms() {
        let row = Row::new(vec![
            ("a".into(), Value::Int64(-3)),
            ("b".into(), Value::Null),
            ("c".into(), Value::Array(vec![Value::Bool(true)])),
            (
                "d".into(),
                Value::Struct(Row::new(vec![("x".into(), Value::Float64(1.5))])),
            ),
            (
                "e".into(),
                Value::Range {
                    start: None,
                    end: Some(Box::new(Value::Date("2024-01-01".into()))),
                },
            ),
        ]);
        assert_eq!(
            row.to_json(),
            json!({"f": [
                {"v": "-3"}, {"v": null}, {"v": [{"v": "true"}]},
                {"v": {"f": [{"v": "1.5"}]}}, {"v": "[UNBOUNDED, 2024-01-01)"}
            ]})
        );
        assert_eq!(row["A"], Value::Int64(-3));
    }
}
