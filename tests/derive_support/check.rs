//! Decoding and comparing: a row encoded with `BqRow::encode` is decoded with
//! prost-reflect from `BqRow::descriptor()` and each column compared with the
//! Rust value it was written from.

use bqwrite::BqRow;
use bqwrite::types::{
    BigNumeric, Date, DateTime, Geography, Interval, Json, Numeric, Range, Time, Timestamp,
};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};
use prost_types::{FileDescriptorProto, FileDescriptorSet};

/// The message descriptor of `R`, through a file that holds only it.
pub fn message_descriptor<R: BqRow>() -> MessageDescriptor {
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
pub fn encode_and_decode<R: BqRow>(row: &R) -> DynamicMessage {
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
pub trait Check {
    fn check(&self, value: &Value, path: &str);
}

pub fn expect_eq(value: &Value, expected: Value, path: &str) {
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
pub struct Raw<'a>(pub &'a [u8]);

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
pub struct IntNumeric(pub i128);

impl Check for IntNumeric {
    fn check(&self, value: &Value, path: &str) {
        let expected = Numeric::from_scaled(self.0 * 1_000_000_000).expect("in range");
        expected.check(value, path);
    }
}

/// Checks each named column of a decoded message, and that every column of
/// the message was checked.
pub struct Columns<'m> {
    message: &'m DynamicMessage,
    path: String,
    seen: Vec<String>,
}

impl<'m> Columns<'m> {
    pub fn new(value: &'m Value, path: &str) -> Self {
        let message = value
            .as_message()
            .unwrap_or_else(|| panic!("{path}: not a message"));
        Columns {
            message,
            path: path.to_owned(),
            seen: Vec::new(),
        }
    }

    pub fn path(&mut self, name: &str) -> String {
        self.seen.push(name.to_owned());
        format!("{}.{name}", self.path)
    }

    pub fn required<T: Check + ?Sized>(&mut self, name: &str, value: &T) -> &mut Self {
        let path = self.path(name);
        required(self.message, name, value, &path);
        self
    }

    pub fn nullable<T: Check>(&mut self, name: &str, value: &Option<T>) -> &mut Self {
        let path = self.path(name);
        nullable(self.message, name, value, &path);
        self
    }

    pub fn repeated<T: Check>(&mut self, name: &str, values: &[T]) -> &mut Self {
        let path = self.path(name);
        repeated(self.message, name, values, &path);
        self
    }

    pub fn done(&mut self) {
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

pub fn required<T: Check + ?Sized>(message: &DynamicMessage, name: &str, value: &T, path: &str) {
    assert!(
        message.has_field_by_name(name),
        "{path}: REQUIRED column missing"
    );
    let got = message.get_field_by_name(name).expect("column exists");
    value.check(&got, path);
}

pub fn nullable<T: Check>(message: &DynamicMessage, name: &str, value: &Option<T>, path: &str) {
    match value {
        None => assert!(!message.has_field_by_name(name), "{path}: NULL is absent"),
        Some(value) => required(message, name, value, path),
    }
}

pub fn repeated<T: Check>(message: &DynamicMessage, name: &str, values: &[T], path: &str) {
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
