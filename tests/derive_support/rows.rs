//! The rows under test: every supported type, mode and nesting, and how each
//! is checked against its decoded message.

use bqwrite::BqRow;
use bqwrite::types::{
    BigNumeric, Date, DateTime, Geography, Interval, Json, Numeric, Range, Time, Timestamp,
};
use prost_reflect::Value;
use serde_json::json;

use super::check::{Check, Columns, IntNumeric, Raw};

#[derive(BqRow, Debug, Clone)]
pub struct Everything {
    // REQUIRED, one column per supported type
    pub int64: i64,
    pub int32: i32,
    pub int16: i16,
    pub int8: i8,
    pub isize_: isize,
    pub uint32: u32,
    pub uint16: u16,
    pub uint8: u8,
    pub float64: f64,
    pub float32: f32,
    pub boolean: bool,
    pub string: String,
    pub bytes: bytes::Bytes,
    #[bq(bytes)]
    pub vec_bytes: Vec<u8>,
    pub date: Date,
    pub timestamp: Timestamp,
    pub datetime: DateTime,
    pub time: Time,
    pub numeric: Numeric,
    pub bignumeric: BigNumeric,
    pub json: Json,
    pub json_value: serde_json::Value,
    pub geography: Geography,
    pub interval: Interval,
    pub date_range: Range<Date>,
    pub datetime_range: Range<DateTime>,
    pub timestamp_range: Range<Timestamp>,
    // `#[bq(type = "...")]` overrides
    #[bq(type = "NUMERIC")]
    pub u64_as_numeric: u64,
    #[bq(type = "NUMERIC")]
    pub i64_as_numeric: i64,
    #[bq(type = "JSON")]
    pub string_as_json: String,
    #[bq(type = "BYTES")]
    pub string_as_bytes: String,
    #[bq(type = "INT64")]
    pub vec_u8_as_int64: Vec<u8>,
    // NULLABLE
    pub opt_int64: Option<i64>,
    pub opt_float64: Option<f64>,
    pub opt_bool: Option<bool>,
    pub opt_string: Option<String>,
    #[bq(bytes)]
    pub opt_bytes: Option<Vec<u8>>,
    pub opt_date: Option<Date>,
    pub opt_timestamp: Option<Timestamp>,
    pub opt_numeric: Option<Numeric>,
    pub opt_interval: Option<Interval>,
    pub opt_range: Option<Range<Date>>,
    #[bq(type = "NUMERIC")]
    pub opt_u64_as_numeric: Option<u64>,
    pub opt_inner: Option<Inner>,
    // REPEATED
    pub rep_int64: Vec<i64>,
    pub rep_int32: Vec<i32>,
    pub rep_float64: Vec<f64>,
    pub rep_float32: Vec<f32>,
    pub rep_bool: Vec<bool>,
    pub rep_string: Vec<String>,
    pub rep_bytes: Vec<bytes::Bytes>,
    pub rep_vec_bytes: Vec<Vec<u8>>,
    pub rep_date: Vec<Date>,
    pub rep_timestamp: Vec<Timestamp>,
    pub rep_datetime: Vec<DateTime>,
    pub rep_time: Vec<Time>,
    pub rep_numeric: Vec<Numeric>,
    pub rep_bignumeric: Vec<BigNumeric>,
    pub rep_json: Vec<Json>,
    #[bq(type = "NUMERIC")]
    pub rep_u64_as_numeric: Vec<u64>,
    // STRUCT
    pub inner: Inner,
    pub rep_inner: Vec<Inner>,
    pub outer: Outer,
    pub rep_outer: Vec<Outer>,
    #[bq(skip)]
    #[allow(dead_code)]
    pub not_a_column: std::collections::HashMap<String, u64>,
}

#[derive(BqRow, Debug, Clone)]
pub struct Inner {
    pub id: i64,
    pub label: Option<String>,
    pub scores: Vec<f64>,
    pub day: Date,
}

#[derive(BqRow, Debug, Clone)]
pub struct Outer {
    pub name: String,
    pub inner: Inner,
    pub maybe: Option<Inner>,
    pub many: Vec<Inner>,
    pub deeper: Option<Deeper>,
}

#[derive(BqRow, Debug, Clone)]
pub struct Deeper {
    pub leaf: Vec<Inner>,
    pub at: Timestamp,
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

/// `Inner`'s columns in BigQuery's JSON schema form.
pub fn inner_schema() -> serde_json::Value {
    json!([
        {"name": "id", "type": "INT64", "mode": "REQUIRED"},
        {"name": "label", "type": "STRING", "mode": "NULLABLE"},
        {"name": "scores", "type": "FLOAT64", "mode": "REPEATED"},
        {"name": "day", "type": "DATE", "mode": "REQUIRED"},
    ])
}
