//! `#[derive(BqRow)]`: the descriptor and the serializer agree. Rows of
//! proptest values covering every type, mode and nesting are encoded with
//! `BqRow::encode`, decoded with prost-reflect from `BqRow::descriptor()` and
//! compared column by column; a few rows are checked against hand-computed
//! wire bytes; `table_schema()` is checked in BigQuery's JSON form.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use bqwrite::BqRow;
use bqwrite::types::{
    BigNumeric, Date, DateTime, Geography, I256, Interval, Json, Numeric, Range, Time, Timestamp,
};
use proptest::prelude::*;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use serde_json::json;

// ---------------------------------------------------------------------------
// Rows under test

#[derive(BqRow, Debug, Clone)]
struct Everything {
    // REQUIRED, one column per supported type
    int64: i64,
    int32: i32,
    int16: i16,
    int8: i8,
    isize_: isize,
    uint32: u32,
    uint16: u16,
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
    // `#[bq(type = "...")]` overrides
    #[bq(type = "NUMERIC")]
    u64_as_numeric: u64,
    #[bq(type = "NUMERIC")]
    i64_as_numeric: i64,
    #[bq(type = "JSON")]
    string_as_json: String,
    #[bq(type = "BYTES")]
    string_as_bytes: String,
    #[bq(type = "INT64")]
    vec_u8_as_int64: Vec<u8>,
    // NULLABLE
    opt_int64: Option<i64>,
    opt_float64: Option<f64>,
    opt_bool: Option<bool>,
    opt_string: Option<String>,
    #[bq(bytes)]
    opt_bytes: Option<Vec<u8>>,
    opt_date: Option<Date>,
    opt_timestamp: Option<Timestamp>,
    opt_numeric: Option<Numeric>,
    opt_interval: Option<Interval>,
    opt_range: Option<Range<Date>>,
    #[bq(type = "NUMERIC")]
    opt_u64_as_numeric: Option<u64>,
    opt_inner: Option<Inner>,
    // REPEATED
    rep_int64: Vec<i64>,
    rep_int32: Vec<i32>,
    rep_float64: Vec<f64>,
    rep_float32: Vec<f32>,
    rep_bool: Vec<bool>,
    rep_string: Vec<String>,
    rep_bytes: Vec<bytes::Bytes>,
    rep_vec_bytes: Vec<Vec<u8>>,
    rep_date: Vec<Date>,
    rep_timestamp: Vec<Timestamp>,
    rep_datetime: Vec<DateTime>,
    rep_time: Vec<Time>,
    rep_numeric: Vec<Numeric>,
    rep_bignumeric: Vec<BigNumeric>,
    rep_json: Vec<Json>,
    #[bq(type = "NUMERIC")]
    rep_u64_as_numeric: Vec<u64>,
    // STRUCT
    inner: Inner,
    rep_inner: Vec<Inner>,
    outer: Outer,
    rep_outer: Vec<Outer>,
    #[bq(skip)]
    #[allow(dead_code)]
    not_a_column: std::collections::HashMap<String, u64>,
}

#[derive(BqRow, Debug, Clone)]
struct Inner {
    id: i64,
    label: Option<String>,
    scores: Vec<f64>,
    day: Date,
}

#[derive(BqRow, Debug, Clone)]
struct Outer {
    name: String,
    inner: Inner,
    maybe: Option<Inner>,
    many: Vec<Inner>,
    deeper: Option<Deeper>,
}

#[derive(BqRow, Debug, Clone)]
struct Deeper {
    leaf: Vec<Inner>,
    at: Timestamp,
}

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

// ---------------------------------------------------------------------------
// Decoding and comparing

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

/// Encodes `row`, checks the length, decodes it and checks that prost-reflect
/// writes the very same bytes back from the decoded message.
fn encode_and_decode<R: BqRow>(row: &R) -> DynamicMessage {
    let mut bytes = Vec::new();
    row.encode(&mut bytes);
    assert_eq!(
        row.encoded_len(),
        bytes.len(),
        "encoded_len == bytes written"
    );
    assert_eq!(row.encode_to_vec(), bytes);
    let message = DynamicMessage::decode(message_descriptor::<R>(), bytes.as_slice())
        .expect("the bytes decode with the descriptor");
    assert_eq!(
        message.encode_to_vec(),
        bytes,
        "re-encoding the decoded message gives the same bytes"
    );
    message
}

/// A value as prost-reflect decodes it.
trait Check {
    fn check(&self, value: &Value, path: &str);
}

fn expect_eq(value: &Value, expected: Value, path: &str) {
    assert_eq!(value, &expected, "column {path}");
}

macro_rules! check_int64 {
    ($($ty:ty),*) => {$(
        impl Check for $ty {
            fn check(&self, value: &Value, path: &str) {
                expect_eq(value, Value::I64(*self as i64), path);
            }
        }
    )*};
}
check_int64!(i64, i32, i16, i8, isize, u32, u16, u8);

impl Check for f64 {
    fn check(&self, value: &Value, path: &str) {
        let got = value
            .as_f64()
            .unwrap_or_else(|| panic!("{path}: not a double"));
        assert_eq!(got.to_bits(), self.to_bits(), "column {path}");
    }
}

impl Check for f32 {
    fn check(&self, value: &Value, path: &str) {
        let got = value
            .as_f32()
            .unwrap_or_else(|| panic!("{path}: not a float"));
        assert_eq!(got.to_bits(), self.to_bits(), "column {path}");
    }
}

impl Check for bool {
    fn check(&self, value: &Value, path: &str) {
        expect_eq(value, Value::Bool(*self), path);
    }
}

impl Check for str {
    fn check(&self, value: &Value, path: &str) {
        expect_eq(value, Value::String(self.to_owned()), path);
    }
}

impl Check for String {
    fn check(&self, value: &Value, path: &str) {
        self.as_str().check(value, path);
    }
}

impl<T: Check + ?Sized> Check for &T {
    fn check(&self, value: &Value, path: &str) {
        (**self).check(value, path);
    }
}

impl<T: Check + ?Sized> Check for Box<T> {
    fn check(&self, value: &Value, path: &str) {
        (**self).check(value, path);
    }
}

impl Check for bytes::Bytes {
    fn check(&self, value: &Value, path: &str) {
        expect_eq(value, Value::Bytes(self.clone()), path);
    }
}

/// Raw bytes (`Vec<u8>` and `&[u8]` as BYTES).
struct Raw<'a>(&'a [u8]);

impl Check for Raw<'_> {
    fn check(&self, value: &Value, path: &str) {
        expect_eq(value, Value::Bytes(self.0.to_vec().into()), path);
    }
}

impl Check for Vec<u8> {
    fn check(&self, value: &Value, path: &str) {
        Raw(self).check(value, path);
    }
}

impl Check for Date {
    fn check(&self, value: &Value, path: &str) {
        expect_eq(value, Value::I32(self.days()), path);
    }
}

impl Check for Timestamp {
    fn check(&self, value: &Value, path: &str) {
        expect_eq(value, Value::I64(self.micros()), path);
    }
}

impl Check for DateTime {
    fn check(&self, value: &Value, path: &str) {
        expect_eq(value, Value::I64(self.packed()), path);
    }
}

impl Check for Time {
    fn check(&self, value: &Value, path: &str) {
        expect_eq(value, Value::I64(self.packed()), path);
    }
}

impl Check for Numeric {
    fn check(&self, value: &Value, path: &str) {
        let got = value
            .as_bytes()
            .unwrap_or_else(|| panic!("{path}: not bytes"));
        assert_eq!(
            Numeric::from_le_bytes(got).ok(),
            Some(*self),
            "column {path}"
        );
        assert_eq!(got.as_ref(), &*self.to_le_bytes(), "column {path}");
    }
}

impl Check for BigNumeric {
    fn check(&self, value: &Value, path: &str) {
        let got = value
            .as_bytes()
            .unwrap_or_else(|| panic!("{path}: not bytes"));
        assert_eq!(
            BigNumeric::from_le_bytes(got).ok(),
            Some(*self),
            "column {path}"
        );
        assert_eq!(got.as_ref(), &*self.to_le_bytes(), "column {path}");
    }
}

impl Check for Json {
    fn check(&self, value: &Value, path: &str) {
        self.as_str().check(value, path);
    }
}

impl Check for serde_json::Value {
    fn check(&self, value: &Value, path: &str) {
        let text = value
            .as_str()
            .unwrap_or_else(|| panic!("{path}: not a string"));
        let parsed: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(&parsed, self, "column {path}");
    }
}

impl Check for Geography {
    fn check(&self, value: &Value, path: &str) {
        self.as_str().check(value, path);
    }
}

impl Check for Interval {
    fn check(&self, value: &Value, path: &str) {
        let text = value
            .as_str()
            .unwrap_or_else(|| panic!("{path}: not a string"));
        assert_eq!(text, self.to_string(), "column {path}");
        assert_eq!(text.parse::<Interval>().ok(), Some(*self), "column {path}");
    }
}

impl<T: bqwrite::types::RangeElement + Check> Check for Range<T> {
    fn check(&self, value: &Value, path: &str) {
        let message = value
            .as_message()
            .unwrap_or_else(|| panic!("{path}: not a message"));
        nullable(message, "start", &self.start(), path);
        nullable(message, "end", &self.end(), path);
        assert_eq!(message.descriptor().fields().len(), 2);
    }
}

/// NUMERIC written from an integer: the value × 10⁹, as bqwrite::types does it.
struct IntNumeric(i128);

impl Check for IntNumeric {
    fn check(&self, value: &Value, path: &str) {
        let expected = Numeric::from_scaled(self.0 * 1_000_000_000).expect("in range");
        expected.check(value, path);
    }
}

/// Checks each named column of a decoded message, and that every column of
/// the message was checked.
struct Columns<'m> {
    message: &'m DynamicMessage,
    path: String,
    seen: Vec<String>,
}

impl<'m> Columns<'m> {
    fn new(value: &'m Value, path: &str) -> Self {
        let message = value
            .as_message()
            .unwrap_or_else(|| panic!("{path}: not a message"));
        Columns {
            message,
            path: path.to_owned(),
            seen: Vec::new(),
        }
    }

    fn path(&mut self, name: &str) -> String {
        self.seen.push(name.to_owned());
        format!("{}.{name}", self.path)
    }

    fn required<T: Check + ?Sized>(&mut self, name: &str, value: &T) -> &mut Self {
        let path = self.path(name);
        required(self.message, name, value, &path);
        self
    }

    fn nullable<T: Check>(&mut self, name: &str, value: &Option<T>) -> &mut Self {
        let path = self.path(name);
        nullable(self.message, name, value, &path);
        self
    }

    fn repeated<T: Check>(&mut self, name: &str, values: &[T]) -> &mut Self {
        let path = self.path(name);
        repeated(self.message, name, values, &path);
        self
    }

    fn done(&mut self) {
        let all: Vec<String> = self
            .message
            .descriptor()
            .fields()
            .map(|field| field.name().to_owned())
            .collect();
        assert_eq!(
            all, self.seen,
            "{}: every column checked, in order",
            self.path
        );
    }
}

fn required<T: Check + ?Sized>(message: &DynamicMessage, name: &str, value: &T, path: &str) {
    assert!(
        message.has_field_by_name(name),
        "{path}: REQUIRED column missing"
    );
    let got = message.get_field_by_name(name).expect("column exists");
    value.check(&got, path);
}

fn nullable<T: Check>(message: &DynamicMessage, name: &str, value: &Option<T>, path: &str) {
    match value {
        None => assert!(!message.has_field_by_name(name), "{path}: NULL is absent"),
        Some(value) => required(message, name, value, path),
    }
}

fn repeated<T: Check>(message: &DynamicMessage, name: &str, values: &[T], path: &str) {
    assert_eq!(
        message.has_field_by_name(name),
        !values.is_empty(),
        "{path}: an empty array writes nothing"
    );
    let got = message.get_field_by_name(name).expect("column exists");
    let list = got
        .as_list()
        .unwrap_or_else(|| panic!("{path}: not a list"));
    assert_eq!(list.len(), values.len(), "{path}: element count");
    for (i, (value, got)) in values.iter().zip(list).enumerate() {
        value.check(got, &format!("{path}[{i}]"));
    }
}

impl Check for Inner {
    fn check(&self, value: &Value, path: &str) {
        Columns::new(value, path)
            .required("id", &self.id)
            .nullable("label", &self.label)
            .repeated("scores", &self.scores)
            .required("day", &self.day)
            .done();
    }
}

impl Check for Outer {
    fn check(&self, value: &Value, path: &str) {
        Columns::new(value, path)
            .required("name", &self.name)
            .required("inner", &self.inner)
            .nullable("maybe", &self.maybe)
            .repeated("many", &self.many)
            .nullable("deeper", &self.deeper)
            .done();
    }
}

impl Check for Deeper {
    fn check(&self, value: &Value, path: &str) {
        Columns::new(value, path)
            .repeated("leaf", &self.leaf)
            .required("at", &self.at)
            .done();
    }
}

impl Check for Everything {
    fn check(&self, value: &Value, path: &str) {
        let u64s: Vec<IntNumeric> = self
            .rep_u64_as_numeric
            .iter()
            .map(|v| IntNumeric(i128::from(*v)))
            .collect();
        let u8s: Vec<i64> = self.vec_u8_as_int64.iter().map(|v| i64::from(*v)).collect();
        Columns::new(value, path)
            .required("int64", &self.int64)
            .required("int32", &self.int32)
            .required("int16", &self.int16)
            .required("int8", &self.int8)
            .required("isize_", &self.isize_)
            .required("uint32", &self.uint32)
            .required("uint16", &self.uint16)
            .required("uint8", &self.uint8)
            .required("float64", &self.float64)
            .required("float32", &self.float32)
            .required("boolean", &self.boolean)
            .required("string", &self.string)
            .required("bytes", &self.bytes)
            .required("vec_bytes", &self.vec_bytes)
            .required("date", &self.date)
            .required("timestamp", &self.timestamp)
            .required("datetime", &self.datetime)
            .required("time", &self.time)
            .required("numeric", &self.numeric)
            .required("bignumeric", &self.bignumeric)
            .required("json", &self.json)
            .required("json_value", &self.json_value)
            .required("geography", &self.geography)
            .required("interval", &self.interval)
            .required("date_range", &self.date_range)
            .required("datetime_range", &self.datetime_range)
            .required("timestamp_range", &self.timestamp_range)
            .required("u64_as_numeric", &IntNumeric(self.u64_as_numeric.into()))
            .required("i64_as_numeric", &IntNumeric(self.i64_as_numeric.into()))
            .required("string_as_json", &self.string_as_json)
            .required("string_as_bytes", &Raw(self.string_as_bytes.as_bytes()))
            .repeated("vec_u8_as_int64", &u8s)
            .nullable("opt_int64", &self.opt_int64)
            .nullable("opt_float64", &self.opt_float64)
            .nullable("opt_bool", &self.opt_bool)
            .nullable("opt_string", &self.opt_string)
            .nullable("opt_bytes", &self.opt_bytes)
            .nullable("opt_date", &self.opt_date)
            .nullable("opt_timestamp", &self.opt_timestamp)
            .nullable("opt_numeric", &self.opt_numeric)
            .nullable("opt_interval", &self.opt_interval)
            .nullable("opt_range", &self.opt_range)
            .nullable(
                "opt_u64_as_numeric",
                &self.opt_u64_as_numeric.map(|v| IntNumeric(v.into())),
            )
            .nullable("opt_inner", &self.opt_inner)
            .repeated("rep_int64", &self.rep_int64)
            .repeated("rep_int32", &self.rep_int32)
            .repeated("rep_float64", &self.rep_float64)
            .repeated("rep_float32", &self.rep_float32)
            .repeated("rep_bool", &self.rep_bool)
            .repeated("rep_string", &self.rep_string)
            .repeated("rep_bytes", &self.rep_bytes)
            .repeated("rep_vec_bytes", &self.rep_vec_bytes)
            .repeated("rep_date", &self.rep_date)
            .repeated("rep_timestamp", &self.rep_timestamp)
            .repeated("rep_datetime", &self.rep_datetime)
            .repeated("rep_time", &self.rep_time)
            .repeated("rep_numeric", &self.rep_numeric)
            .repeated("rep_bignumeric", &self.rep_bignumeric)
            .repeated("rep_json", &self.rep_json)
            .repeated("rep_u64_as_numeric", &u64s)
            .required("inner", &self.inner)
            .repeated("rep_inner", &self.rep_inner)
            .required("outer", &self.outer)
            .repeated("rep_outer", &self.rep_outer)
            .done();
    }
}

// ---------------------------------------------------------------------------
// Strategies

fn date() -> impl Strategy<Value = Date> {
    (-719_162..=2_932_896i32).prop_map(|days| Date::from_days(days).expect("in range"))
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (Timestamp::MIN.micros()..=Timestamp::MAX.micros())
        .prop_map(|micros| Timestamp::from_micros(micros).expect("in range"))
}

fn time() -> impl Strategy<Value = Time> {
    (0..24u32, 0..60u32, 0..60u32, 0..1_000_000u32)
        .prop_map(|(h, m, s, us)| Time::new(h, m, s, us).expect("valid time"))
}

fn datetime() -> impl Strategy<Value = DateTime> {
    (date(), time()).prop_map(|(date, time)| DateTime::from_parts(date, time))
}

fn numeric() -> impl Strategy<Value = Numeric> {
    let max = 10i128.pow(38) - 1;
    prop_oneof![
        (-max..=max),
        (-1_000_000_000_000i128..=1_000_000_000_000),
        Just(max),
        Just(-max),
    ]
    .prop_map(|scaled| Numeric::from_scaled(scaled).expect("in range"))
}

fn bignumeric() -> impl Strategy<Value = BigNumeric> {
    prop_oneof![
        (any::<i128>(), any::<i128>()).prop_map(|(hi, lo)| I256::from_words(hi, lo)),
        any::<i64>().prop_map(I256::from),
        Just(I256::MAX),
        Just(I256::MIN),
    ]
    .prop_map(BigNumeric::from_scaled)
}

fn json() -> impl Strategy<Value = Json> {
    json_value().prop_map(|value| Json::new(value.to_string()).expect("valid JSON"))
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

fn geography() -> impl Strategy<Value = Geography> {
    (-180.0..180.0f64, -90.0..90.0f64)
        .prop_map(|(x, y)| Geography::new(format!("POINT({x} {y})")).expect("valid WKT"))
}

fn interval() -> impl Strategy<Value = Interval> {
    (
        -120_000..=120_000i32,
        -3_660_000..=3_660_000i32,
        -316_224_000_000_000_000..=316_224_000_000_000_000i64,
    )
        .prop_map(|(months, days, micros)| Interval::new(months, days, micros).expect("in range"))
}

fn range<T, S>(element: fn() -> S) -> impl Strategy<Value = Range<T>>
where
    T: bqwrite::types::RangeElement,
    S: Strategy<Value = T>,
{
    (
        proptest::option::of(element()),
        proptest::option::of(element()),
    )
        .prop_map(|(a, b)| {
            match (a, b) {
                (Some(a), Some(b)) if a == b => Range::new(Some(a), None),
                (Some(a), Some(b)) if b < a => Range::new(Some(b), Some(a)),
                (a, b) => Range::new(a, b),
            }
            .expect("start < end")
        })
}

fn bytes() -> impl Strategy<Value = bytes::Bytes> {
    prop::collection::vec(any::<u8>(), 0..12).prop_map(bytes::Bytes::from)
}

fn small_vec<T: std::fmt::Debug>(
    element: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec(element, 0..4)
}

prop_compose! {
    fn inner()(
        id in any::<i64>(),
        label in proptest::option::of("\\PC{0,6}"),
        scores in small_vec(any::<f64>()),
        day in date(),
    ) -> Inner {
        Inner { id, label, scores, day }
    }
}

prop_compose! {
    fn deeper()(leaf in small_vec(inner()), at in timestamp()) -> Deeper {
        Deeper { leaf, at }
    }
}

prop_compose! {
    fn outer()(
        name in "\\PC{0,6}",
        inner in inner(),
        maybe in proptest::option::of(inner()),
        many in small_vec(inner()),
        deeper in proptest::option::of(deeper()),
    ) -> Outer {
        Outer { name, inner, maybe, many, deeper }
    }
}

type Scalars = (
    (i64, i32, i16, i8, isize, u32, u16, u8),
    (f64, f32, bool, String, bytes::Bytes, Vec<u8>),
);

fn scalars() -> impl Strategy<Value = Scalars> {
    (
        any::<(i64, i32, i16, i8, isize, u32, u16, u8)>(),
        (
            any::<f64>(),
            any::<f32>(),
            any::<bool>(),
            "\\PC{0,12}",
            bytes(),
            prop::collection::vec(any::<u8>(), 0..12),
        ),
    )
}

prop_compose! {
    fn everything()(
        ((int64, int32, int16, int8, isize_, uint32, uint16, uint8),
         (float64, float32, boolean, string, bytes, vec_bytes)) in scalars(),
        (date, timestamp, datetime, time, numeric, bignumeric) in
            (date(), timestamp(), datetime(), time(), numeric(), bignumeric()),
        (json, json_value, geography, interval) in (json(), json_value(), geography(), interval()),
        (date_range, datetime_range, timestamp_range) in
            (range(date), range(datetime), range(timestamp)),
        (u64_as_numeric, i64_as_numeric, string_as_json, string_as_bytes, vec_u8_as_int64) in
            (any::<u64>(), any::<i64>(), json(), "\\PC{0,8}", small_vec(any::<u8>())),
        (opt_int64, opt_float64, opt_bool, opt_string, opt_bytes, opt_date) in (
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<f64>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of("\\PC{0,8}"),
            proptest::option::of(prop::collection::vec(any::<u8>(), 0..8)),
            proptest::option::of(date()),
        ),
        (opt_timestamp, opt_numeric, opt_interval, opt_range, opt_u64_as_numeric, opt_inner) in (
            proptest::option::of(timestamp()),
            proptest::option::of(numeric()),
            proptest::option::of(interval()),
            proptest::option::of(range(date)),
            proptest::option::of(any::<u64>()),
            proptest::option::of(inner()),
        ),
        (rep_int64, rep_int32, rep_float64, rep_float32, rep_bool, rep_string, rep_bytes, rep_vec_bytes) in (
            small_vec(any::<i64>()),
            small_vec(any::<i32>()),
            small_vec(any::<f64>()),
            small_vec(any::<f32>()),
            small_vec(any::<bool>()),
            small_vec("\\PC{0,6}"),
            small_vec(bytes()),
            small_vec(prop::collection::vec(any::<u8>(), 0..6)),
        ),
        (rep_date, rep_timestamp, rep_datetime, rep_time, rep_numeric, rep_bignumeric, rep_json, rep_u64_as_numeric) in (
            small_vec(date()),
            small_vec(timestamp()),
            small_vec(datetime()),
            small_vec(time()),
            small_vec(numeric()),
            small_vec(bignumeric()),
            small_vec(json()),
            small_vec(any::<u64>()),
        ),
        (inner, rep_inner, outer, rep_outer) in
            (inner(), small_vec(inner()), outer(), small_vec(outer())),
    ) -> Everything {
        Everything {
            int64, int32, int16, int8, isize_, uint32, uint16, uint8,
            float64, float32, boolean, string, bytes, vec_bytes,
            date, timestamp, datetime, time, numeric, bignumeric,
            json, json_value, geography, interval,
            date_range, datetime_range, timestamp_range,
            u64_as_numeric, i64_as_numeric,
            string_as_json: string_as_json.as_str().to_owned(),
            string_as_bytes, vec_u8_as_int64,
            opt_int64, opt_float64, opt_bool, opt_string, opt_bytes, opt_date,
            opt_timestamp, opt_numeric, opt_interval, opt_range, opt_u64_as_numeric, opt_inner,
            rep_int64, rep_int32, rep_float64, rep_float32, rep_bool, rep_string, rep_bytes,
            rep_vec_bytes, rep_date, rep_timestamp, rep_datetime, rep_time, rep_numeric,
            rep_bignumeric, rep_json, rep_u64_as_numeric,
            inner, rep_inner, outer, rep_outer,
            not_a_column: Default::default(),
        }
    }
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

// ---------------------------------------------------------------------------
// Hand-computed wire bytes

#[derive(BqRow)]
struct Civil {
    date: Date,
    timestamp: Timestamp,
    datetime: DateTime,
    time: Time,
    numeric: Numeric,
    bignumeric: BigNumeric,
}

fn civil(numeric: &str, bignumeric: BigNumeric) -> Civil {
    Civil {
        date: Date::from_ymd(2024, 1, 2).expect("valid date"),
        timestamp: "2024-01-02T03:04:05.000006Z"
            .parse()
            .expect("valid timestamp"),
        datetime: DateTime::new(2024, 1, 2, 3, 4, 5, 6).expect("valid datetime"),
        time: Time::new(3, 4, 5, 6).expect("valid time"),
        numeric: numeric.parse().expect("valid NUMERIC"),
        bignumeric,
    }
}

/// The civil fields of 2024-01-02 03:04:05.000006 (fields 1 to 4).
const CIVIL_PREFIX: &[u8] = &[
    // 1: DATE 19724 days, int32 varint
    0x08, 0x8c, 0x9a, 0x01, //
    // 2: TIMESTAMP 1704164645000006 µs, int64 varint
    0x10, 0xc6, 0xa6, 0xb7, 0x82, 0xdc, 0xbd, 0x83, 0x03, //
    // 3: DATETIME packed ((2024<<26)|(1<<22)|(2<<17)|(3<<12)|(4<<6)|5)<<20|6 = 142431024298590214
    0x18, 0x86, 0x80, 0xc0, 0x82, 0xb1, 0x88, 0x81, 0xfd, 0x01, //
    // 4: TIME packed ((3<<12)|(4<<6)|5)<<20|6 = 13158580230
    0x20, 0x86, 0x80, 0xc0, 0x82, 0x31,
];

fn civil_bytes(numeric: &[u8], bignumeric: &[u8]) -> Vec<u8> {
    let mut out = CIVIL_PREFIX.to_vec();
    out.extend_from_slice(&[0x2a, numeric.len() as u8]);
    out.extend_from_slice(numeric);
    out.extend_from_slice(&[0x32, bignumeric.len() as u8]);
    out.extend_from_slice(bignumeric);
    out
}

#[test]
fn civil_time_and_decimal_wire_vectors() {
    let big_123 = "123.456789"
        .parse::<BigNumeric>()
        .expect("valid BIGNUMERIC");
    let big_neg_123 = "-123.456789"
        .parse::<BigNumeric>()
        .expect("valid BIGNUMERIC");
    let cases: Vec<(Civil, Vec<u8>)> = vec![
        (
            civil("123.456789", big_123),
            civil_bytes(
                // 123456789000 = 0x1c_be99_1a08
                &[0x08, 0x1a, 0x99, 0xbe, 0x1c],
                // 123456789 * 10^32
                &[
                    0, 0, 0, 0, 0x95, 0xf2, 0xd4, 0x1c, 0x93, 0xe5, 0x7c, 0xf3, 0x89, 0x44, 0xdb,
                    0x47, 0x24,
                ],
            ),
        ),
        (
            civil("-123.456789", big_neg_123),
            civil_bytes(
                &[0xf8, 0xe5, 0x66, 0x41, 0xe3],
                &[
                    0, 0, 0, 0, 0x6b, 0x0d, 0x2b, 0xe3, 0x6c, 0x1a, 0x83, 0x0c, 0x76, 0xbb, 0x24,
                    0xb8, 0xdb,
                ],
            ),
        ),
        (
            // NUMERIC max 10^38 - 1 (scaled); BIGNUMERIC max 2^255 - 1 (scaled)
            civil(
                "99999999999999999999999999999.999999999",
                BigNumeric::from_scaled(I256::MAX),
            ),
            civil_bytes(
                &[
                    0xff, 0xff, 0xff, 0xff, 0x3f, 0x22, 0x8a, 0x09, 0x7a, 0xc4, 0x86, 0x5a, 0xa8,
                    0x4c, 0x3b, 0x4b,
                ],
                &[
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                    0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                ],
            ),
        ),
        (
            // NUMERIC min -(10^38 - 1); BIGNUMERIC min -2^255
            civil(
                "-99999999999999999999999999999.999999999",
                BigNumeric::from_scaled(I256::MIN),
            ),
            civil_bytes(
                &[
                    0x01, 0x00, 0x00, 0x00, 0xc0, 0xdd, 0x75, 0xf6, 0x85, 0x3b, 0x79, 0xa5, 0x57,
                    0xb3, 0xc4, 0xb4,
                ],
                &[
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0x80,
                ],
            ),
        ),
    ];
    for (row, expected) in cases {
        assert_eq!(row.encode_to_vec(), expected);
        assert_eq!(row.encoded_len(), expected.len());
    }
}

#[derive(BqRow)]
struct Edges {
    date: Date,
    #[bq(type = "NUMERIC")]
    unsigned: u64,
    ints: Vec<i32>,
    flag: Option<bool>,
}

#[test]
fn edge_wire_vectors() {
    let row = Edges {
        date: Date::from_days(-719_162).expect("0001-01-01"),
        unsigned: u64::MAX,
        ints: vec![1, -1, 300],
        flag: None,
    };
    let expected: Vec<u8> = [
        // 1: DATE -719162, int32 sign-extended to a 10-byte varint
        &[
            0x08, 0xc6, 0x8d, 0xd4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ][..],
        // 2: u64::MAX as NUMERIC: (2^64 - 1) * 10^9, 12 bytes
        &[
            0x12, 12, 0x00, 0x36, 0x65, 0xc4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc9, 0x9a, 0x3b,
        ],
        // 3: packed int64 [1, -1, 300]: 1 + 10 + 2 bytes
        &[
            0x1a, 13, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xac, 0x02,
        ],
        // 4: NULL writes nothing
    ]
    .concat();
    assert_eq!(row.encode_to_vec(), expected);
    assert_eq!(row.encoded_len(), expected.len());
}

// ---------------------------------------------------------------------------
// Descriptor shape and table schema

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

fn inner_schema() -> serde_json::Value {
    json!([
        {"name": "id", "type": "INT64", "mode": "REQUIRED"},
        {"name": "label", "type": "STRING", "mode": "NULLABLE"},
        {"name": "scores", "type": "FLOAT64", "mode": "REPEATED"},
        {"name": "day", "type": "DATE", "mode": "REQUIRED"},
    ])
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
