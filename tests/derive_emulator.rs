//! What `#[derive(BqRow)]` writes, the emulator accepts: rows of every column
//! type, mode and nesting go through the typed writer into the emulator,
//! which decodes them from the derived descriptor on its own (it does not use
//! `bqwrite::types`), and come back with the same values. The table is made
//! from `table_schema()`, once directly and once from its JSON text.

mod support;

use bqwrite::types::{
    BigNumeric, Date, DateTime, Geography, I256, Interval, Json, Numeric, Range, Time, Timestamp,
};
use bqwrite::{BqRow, Writer};
use bqwrite_emulator::Value;
use support::{DATASET, Env, PROJECT, bounded};

#[derive(BqRow, Debug, Clone)]
struct AllTypes {
    int64: i64,
    int32: i32,
    uint8: u8,
    float64: f64,
    float32: f32,
    boolean: bool,
    string: String,
    bytes: bytes::Bytes,
    #[bq(bytes)]
    vec_bytes: Vec<u8>,
    date: Date,
    timestamp: Timestamp,
    datetime: DateTime,
    time: Time,
    numeric: Numeric,
    bignumeric: BigNumeric,
    json: Json,
    json_value: serde_json::Value,
    geography: Geography,
    interval: Interval,
    date_range: Range<Date>,
    datetime_range: Range<DateTime>,
    timestamp_range: Range<Timestamp>,
    #[bq(type = "NUMERIC")]
    u64_as_numeric: u64,
    #[bq(type = "JSON")]
    string_as_json: String,
    opt_int64: Option<i64>,
    opt_string: Option<String>,
    opt_numeric: Option<Numeric>,
    opt_date: Option<Date>,
    opt_struct: Option<Inner>,
    rep_int64: Vec<i64>,
    rep_float64: Vec<f64>,
    rep_string: Vec<String>,
    rep_bytes: Vec<bytes::Bytes>,
    rep_date: Vec<Date>,
    rep_timestamp: Vec<Timestamp>,
    rep_numeric: Vec<Numeric>,
    inner: Inner,
    rep_inner: Vec<Inner>,
    outer: Outer,
}

#[derive(BqRow, Debug, Clone)]
struct Inner {
    id: i64,
    label: Option<String>,
    scores: Vec<f64>,
}

#[derive(BqRow, Debug, Clone)]
struct Outer {
    name: String,
    inner: Inner,
    many: Vec<Inner>,
    deepest: Option<Deepest>,
}

#[derive(BqRow, Debug, Clone)]
struct Deepest {
    at: Vec<Timestamp>,
    leaf: Inner,
}

/// The value the emulator should hold for one column.
enum Expect {
    Leaf(Value),
    Struct(Vec<(&'static str, Expect)>),
    Array(Vec<Expect>),
}

fn check(actual: &Value, expected: &Expect, path: &str) {
    match (expected, actual) {
        (Expect::Leaf(leaf), actual) => assert_eq!(actual, leaf, "column {path}"),
        (Expect::Struct(columns), Value::Struct(row)) => {
            let names: Vec<&str> = row.columns().iter().map(|(n, _)| n.as_str()).collect();
            let expected_names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, expected_names, "columns of {path}");
            for ((name, value), (_, expect)) in row.columns().iter().zip(columns) {
                check(value, expect, &format!("{path}.{name}"));
            }
        }
        (Expect::Array(items), Value::Array(values)) => {
            assert_eq!(values.len(), items.len(), "elements of {path}");
            for (i, (value, expect)) in values.iter().zip(items).enumerate() {
                check(value, expect, &format!("{path}[{i}]"));
            }
        }
        (_, actual) => panic!("column {path}: unexpected {actual:?}"),
    }
}

fn leaf(value: Value) -> Expect {
    Expect::Leaf(value)
}

fn opt<T>(value: &Option<T>, f: impl Fn(&T) -> Expect) -> Expect {
    value.as_ref().map_or(Expect::Leaf(Value::Null), f)
}

fn array<T>(values: &[T], f: impl Fn(&T) -> Expect) -> Expect {
    Expect::Array(values.iter().map(f).collect())
}

fn date(d: &Date) -> Expect {
    leaf(Value::Date(d.to_string()))
}

fn timestamp(t: &Timestamp) -> Expect {
    leaf(Value::Timestamp(t.micros()))
}

fn numeric(n: &Numeric) -> Expect {
    leaf(Value::Numeric(n.to_string()))
}

fn range_bound<T>(bound: Option<T>, f: impl Fn(&T) -> Value) -> Option<Box<Value>> {
    bound.as_ref().map(|b| Box::new(f(b)))
}

fn inner(v: &Inner) -> Expect {
    Expect::Struct(vec![
        ("id", leaf(Value::Int64(v.id))),
        ("label", opt(&v.label, |s| leaf(Value::String(s.clone())))),
        ("scores", array(&v.scores, |f| leaf(Value::Float64(*f)))),
    ])
}

fn outer(v: &Outer) -> Expect {
    Expect::Struct(vec![
        ("name", leaf(Value::String(v.name.clone()))),
        ("inner", inner(&v.inner)),
        ("many", array(&v.many, inner)),
        (
            "deepest",
            opt(&v.deepest, |d| {
                Expect::Struct(vec![
                    ("at", array(&d.at, timestamp)),
                    ("leaf", inner(&d.leaf)),
                ])
            }),
        ),
    ])
}

fn expected(row: &AllTypes) -> Expect {
    Expect::Struct(vec![
        ("int64", leaf(Value::Int64(row.int64))),
        ("int32", leaf(Value::Int64(row.int32.into()))),
        ("uint8", leaf(Value::Int64(row.uint8.into()))),
        ("float64", leaf(Value::Float64(row.float64))),
        ("float32", leaf(Value::Float64(row.float32.into()))),
        ("boolean", leaf(Value::Bool(row.boolean))),
        ("string", leaf(Value::String(row.string.clone()))),
        ("bytes", leaf(Value::Bytes(row.bytes.to_vec()))),
        ("vec_bytes", leaf(Value::Bytes(row.vec_bytes.clone()))),
        ("date", date(&row.date)),
        ("timestamp", timestamp(&row.timestamp)),
        ("datetime", leaf(Value::DateTime(row.datetime.to_string()))),
        ("time", leaf(Value::Time(row.time.to_string()))),
        ("numeric", numeric(&row.numeric)),
        (
            "bignumeric",
            leaf(Value::BigNumeric(row.bignumeric.to_string())),
        ),
        ("json", leaf(Value::Json(row.json.as_str().to_owned()))),
        ("json_value", leaf(Value::Json(row.json_value.to_string()))),
        (
            "geography",
            leaf(Value::Geography(row.geography.as_str().to_owned())),
        ),
        ("interval", leaf(Value::Interval(row.interval.to_string()))),
        (
            "date_range",
            leaf(Value::Range {
                start: range_bound(row.date_range.start(), |d| Value::Date(d.to_string())),
                end: range_bound(row.date_range.end(), |d| Value::Date(d.to_string())),
            }),
        ),
        (
            "datetime_range",
            leaf(Value::Range {
                start: range_bound(row.datetime_range.start(), |d| {
                    Value::DateTime(d.to_string())
                }),
                end: range_bound(row.datetime_range.end(), |d| Value::DateTime(d.to_string())),
            }),
        ),
        (
            "timestamp_range",
            leaf(Value::Range {
                start: range_bound(row.timestamp_range.start(), |t| {
                    Value::Timestamp(t.micros())
                }),
                end: range_bound(row.timestamp_range.end(), |t| Value::Timestamp(t.micros())),
            }),
        ),
        (
            "u64_as_numeric",
            leaf(Value::Numeric(row.u64_as_numeric.to_string())),
        ),
        (
            "string_as_json",
            leaf(Value::Json(row.string_as_json.clone())),
        ),
        ("opt_int64", opt(&row.opt_int64, |v| leaf(Value::Int64(*v)))),
        (
            "opt_string",
            opt(&row.opt_string, |v| leaf(Value::String(v.clone()))),
        ),
        ("opt_numeric", opt(&row.opt_numeric, numeric)),
        ("opt_date", opt(&row.opt_date, date)),
        ("opt_struct", opt(&row.opt_struct, inner)),
        (
            "rep_int64",
            array(&row.rep_int64, |v| leaf(Value::Int64(*v))),
        ),
        (
            "rep_float64",
            array(&row.rep_float64, |v| leaf(Value::Float64(*v))),
        ),
        (
            "rep_string",
            array(&row.rep_string, |v| leaf(Value::String(v.clone()))),
        ),
        (
            "rep_bytes",
            array(&row.rep_bytes, |v| leaf(Value::Bytes(v.to_vec()))),
        ),
        ("rep_date", array(&row.rep_date, date)),
        ("rep_timestamp", array(&row.rep_timestamp, timestamp)),
        ("rep_numeric", array(&row.rep_numeric, numeric)),
        ("inner", inner(&row.inner)),
        ("rep_inner", array(&row.rep_inner, inner)),
        ("outer", outer(&row.outer)),
    ])
}

fn inner_value(id: i64) -> Inner {
    Inner {
        id,
        label: (id % 2 == 0).then(|| format!("label {id}")),
        scores: (0..id.rem_euclid(3)).map(|n| n as f64 * 0.25).collect(),
    }
}

/// Row 0 holds the smallest values, row 1 the largest, row 2 NULLs and empty
/// arrays, the rest ordinary values.
fn rows() -> Vec<AllTypes> {
    let ymd = |y, m, d| Date::from_ymd(y, m, d).expect("valid date");
    let micros = |m| Timestamp::from_micros(m).expect("valid timestamp");
    (0..8)
        .map(|n: i64| {
            let (date, ts, dt, t, num, big) = match n {
                0 => (
                    Date::MIN,
                    Timestamp::MIN,
                    DateTime::MIN,
                    Time::new(0, 0, 0, 0).expect("midnight"),
                    Numeric::from_scaled(-(10i128.pow(38) - 1)).expect("NUMERIC min"),
                    BigNumeric::from_scaled(I256::MIN),
                ),
                1 => (
                    Date::MAX,
                    Timestamp::MAX,
                    DateTime::MAX,
                    Time::new(23, 59, 59, 999_999).expect("last microsecond"),
                    Numeric::from_scaled(10i128.pow(38) - 1).expect("NUMERIC max"),
                    BigNumeric::from_scaled(I256::MAX),
                ),
                _ => (
                    ymd(2024, 1, 2),
                    micros(1_704_164_645_000_006 + n),
                    DateTime::new(2024, 1, 2, 3, 4, 5, 6 + n as u32).expect("valid datetime"),
                    Time::new(3, 4, 5, 6).expect("valid time"),
                    "-123.456789".parse().expect("valid NUMERIC"),
                    "123.456789".parse().expect("valid BIGNUMERIC"),
                ),
            };
            let empty = n == 2;
            AllTypes {
                int64: [i64::MIN, i64::MAX][n as usize % 2] / (n + 1),
                int32: -(n as i32),
                uint8: n as u8 * 31,
                float64: [-0.0, f64::MAX, 1.5e-300, 3.25][n as usize % 4],
                float32: n as f32 / 4.0,
                boolean: n % 2 == 0,
                string: format!("héllo {n} \u{1F600}"),
                bytes: bytes::Bytes::from(vec![0, 255, n as u8]),
                vec_bytes: vec![n as u8; n as usize],
                date,
                timestamp: ts,
                datetime: dt,
                time: t,
                numeric: num,
                bignumeric: big,
                json: Json::new(format!(r#"{{"n": {n}, "list": [true, null]}}"#)).expect("JSON"),
                json_value: serde_json::json!({"key": "välue", "n": n}),
                geography: Geography::new(format!("POINT({n} {n})")).expect("WKT"),
                interval: Interval::new(14 * n as i32, -3, 6_789_000 * n).expect("in range"),
                date_range: Range::new(Some(ymd(2024, 1, 1)), (n != 3).then(|| ymd(2024, 4, 1)))
                    .expect("valid range"),
                datetime_range: Range::new(None, Some(dt)).expect("valid range"),
                timestamp_range: Range::new(Some(micros(0)), Some(micros(1 + n)))
                    .expect("valid range"),
                u64_as_numeric: u64::MAX - n as u64,
                string_as_json: format!("[{n}]"),
                opt_int64: (!empty).then_some(n),
                opt_string: (!empty).then(|| "present".to_owned()),
                opt_numeric: (!empty).then_some(num),
                opt_date: (!empty).then_some(date),
                opt_struct: (!empty).then(|| inner_value(n)),
                rep_int64: if empty { vec![] } else { vec![n, -n, i64::MAX] },
                rep_float64: if empty { vec![] } else { vec![0.5; n as usize] },
                rep_string: if empty {
                    vec![]
                } else {
                    vec!["a".into(), String::new()]
                },
                rep_bytes: if empty {
                    vec![]
                } else {
                    vec![bytes::Bytes::new()]
                },
                rep_date: if empty {
                    vec![]
                } else {
                    vec![date, ymd(1970, 1, 1)]
                },
                rep_timestamp: if empty { vec![] } else { vec![ts] },
                rep_numeric: if empty {
                    vec![]
                } else {
                    vec![num, Numeric::ZERO]
                },
                inner: inner_value(n),
                rep_inner: if empty {
                    vec![]
                } else {
                    (0..n).map(inner_value).collect()
                },
                outer: Outer {
                    name: format!("outer {n}"),
                    inner: inner_value(n + 1),
                    many: (0..n % 3).map(inner_value).collect(),
                    deepest: (!empty).then(|| Deepest {
                        at: vec![ts, micros(0)],
                        leaf: inner_value(-n),
                    }),
                },
            }
        })
        .collect()
}

async fn write_and_check(env: &Env, table_name: &str, table: bqwrite::Table) {
    let rows = rows();
    let mut writer = Writer::<AllTypes>::pending(&table)
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
        .rows(&Env::path(table_name))
        .expect("rows readable");
    assert_eq!(stored.len(), rows.len());
    for (i, (stored, row)) in stored.into_iter().zip(&rows).enumerate() {
        check(&Value::Struct(stored), &expected(row), &format!("row {i}"));
    }
}

#[tokio::test]
async fn every_type_mode_and_nesting_lands_in_the_emulator() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<AllTypes>("all_types");
        write_and_check(&env, "all_types", table).await;
    })
    .await;
}

#[tokio::test]
async fn a_table_made_from_the_schema_json_takes_the_rows() {
    bounded(60, async {
        let env = Env::start().await;
        let path = format!("projects/{PROJECT}/datasets/{DATASET}/tables/from_json");
        env.emulator
            .create_table_from_json(&path, &AllTypes::table_schema().to_json())
            .expect("the emulator reads the schema JSON");
        let table = env.client.table_from_path(&path).expect("table path");
        write_and_check(&env, "from_json", table).await;
    })
    .await;
}
