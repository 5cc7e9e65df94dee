//! Wire helpers called by the code `#[derive(BqRow)]` generates. Not public
//! API: names and signatures change without notice.
//!
//! The derive stays thin: per column it names an [`Encoder`] (how one value is
//! written, chosen through [`BqField`] or a `#[bq(type = "...")]` override) and
//! calls the function of the column's mode in [`required`], [`optional`] or
//! [`repeated`]. Lengths are computed before anything is written, so a row is
//! written in one pass into one buffer.

use std::marker::PhantomData;

pub mod convert;
pub use convert::BqFieldTruncate;

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len};

pub use prost::encoding::WireType;
pub use prost_types::field_descriptor_proto::Type as ProtoType;

pub use bytes::BufMut;
pub use prost_types::DescriptorProto;
pub use prost_types::field_descriptor_proto::Label;

use crate::proto::descriptor::FieldOptions;
pub use crate::proto::descriptor::{DescriptorProto as WireDescriptorProto, FieldDescriptorProto};

use crate::row::{BqField, BqRow, ColumnValueError};
pub use crate::schema::{FieldSchema, FieldType, Mode, TableSchema};
use crate::types;

/// How values of `T` are written: the proto type declared in the descriptor
/// and the bytes that go on the wire (without the field key).
pub trait Encoder<T: ?Sized> {
    /// The proto field type in the descriptor.
    const PROTO: ProtoType;
    /// The wire type of one value.
    const WIRE: WireType;
    /// Whether repeated values are written packed (scalar numeric types).
    const PACKED: bool = false;
    /// The encoded length of `value`, length prefix included.
    fn len(value: &T) -> usize;
    /// Writes `value`, length prefix included.
    fn put(value: &T, buf: &mut impl BufMut);
    /// For message types: adds the message to the descriptor being built and
    /// returns the name fields refer to it by.
    fn type_name(cx: &mut DescriptorCx) -> Option<String> {
        let _ = cx;
        None
    }
    /// Whether some value cannot be written exactly, so that
    /// [`check`](Encoder::check) must pass before [`len`](Encoder::len) and
    /// [`put`](Encoder::put) are called (they panic on such a value rather
    /// than write a rounded one).
    const FALLIBLE: bool = false;
    /// Whether `value` can be written exactly. On error, `column` is the path
    /// below this value (empty for a scalar), completed by the caller.
    fn check(value: &T) -> Result<(), ColumnValueError> {
        let _ = value;
        Ok(())
    }
}

/// `T` written as the BigQuery type `K` (`#[bq(type = "...")]`), where that
/// differs from `T`'s own [`BqField`] type or restates it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be written as the BigQuery type `{K}`",
    label = "not writable as `{K}`",
    note = "`#[bq(type = \"...\")]` accepts: string types (`String`, `&str`, `Cow<str>`) as STRING, BYTES, JSON, GEOGRAPHY, NUMERIC, BIGNUMERIC, DATE, DATETIME, TIME, TIMESTAMP or INTERVAL (text BigQuery parses); integers, including `u64`, as NUMERIC; `Vec<u8>`, `&[u8]` and `bytes::Bytes` as BYTES; and any supported type as its own BigQuery type",
    note = "use `bqwrite::types` (`Json`, `Numeric`, `Date`, ...) to have values checked before they are sent"
)]
pub trait BqFieldAs<K> {
    /// How the values are written.
    type Encoder: Encoder<Self>;
}

/// The BigQuery types a `#[bq(type = "...")]` attribute can name.
pub trait Kind {
    /// The column type in the table schema.
    const FIELD_TYPE: FieldType;
}

/// Marker types for [`BqFieldAs`], named as BigQuery names the types.
#[allow(non_camel_case_types, missing_debug_implementations)]
pub mod kind {
    use super::{FieldType, Kind};

    macro_rules! kinds {
        ($($name:ident => $field_type:ident,)*) => {$(
            #[doc = concat!("The BigQuery type ", stringify!($name), ".")]
            pub enum $name {}
            impl Kind for $name {
                const FIELD_TYPE: FieldType = FieldType::$field_type;
            }
        )*};
    }

    kinds! {
        STRING => String,
        INT64 => Int64,
        FLOAT64 => Float64,
        BOOL => Bool,
        BYTES => Bytes,
        NUMERIC => Numeric,
        BIGNUMERIC => BigNumeric,
        DATE => Date,
        DATETIME => DateTime,
        TIME => Time,
        TIMESTAMP => Timestamp,
        GEOGRAPHY => Geography,
        JSON => Json,
        INTERVAL => Interval,
    }
}

/// REQUIRED columns (`T`): always written.
pub mod required {
    use super::{BufMut, ColumnValueError, Encoder, encode_key, key_len};

    /// Key and value length.
    #[inline]
    pub fn encoded_len<E: Encoder<T>, T: ?Sized>(tag: u32, value: &T) -> usize {
        key_len(tag) + E::len(value)
    }

    /// Writes key and value.
    #[inline]
    pub fn encode<E: Encoder<T>, T: ?Sized>(tag: u32, value: &T, buf: &mut impl BufMut) {
        encode_key(tag, E::WIRE, buf);
        E::put(value, buf);
    }

    /// Checks the value of the column `column`.
    #[inline]
    pub fn validate<E: Encoder<T>, T: ?Sized>(
        column: &str,
        value: &T,
    ) -> Result<(), ColumnValueError> {
        if !E::FALLIBLE {
            return Ok(());
        }
        E::check(value).map_err(|error| super::in_column(column, error))
    }
}

/// NULLABLE columns (`Option<T>`): `None` is an absent field, which proto2
/// readers (BigQuery among them) take as NULL.
pub mod optional {
    use super::{BufMut, ColumnValueError, Encoder, required};

    /// Key and value length, or 0 for `None`.
    #[inline]
    pub fn encoded_len<E: Encoder<T>, T>(tag: u32, value: &Option<T>) -> usize {
        match value {
            Some(value) => required::encoded_len::<E, T>(tag, value),
            None => 0,
        }
    }

    /// Writes key and value, or nothing for `None`.
    #[inline]
    pub fn encode<E: Encoder<T>, T>(tag: u32, value: &Option<T>, buf: &mut impl BufMut) {
        if let Some(value) = value {
            required::encode::<E, T>(tag, value, buf);
        }
    }

    /// Checks the value, if any, of the column `column`.
    #[inline]
    pub fn validate<E: Encoder<T>, T>(
        column: &str,
        value: &Option<T>,
    ) -> Result<(), ColumnValueError> {
        match value {
            Some(value) => required::validate::<E, T>(column, value),
            None => Ok(()),
        }
    }
}

/// REPEATED columns (`Vec<T>`): numeric scalars packed, everything else one
/// key and value per element; an empty array writes nothing.
pub mod repeated {
    use super::{
        BufMut, ColumnValueError, Encoder, WireType, encode_key, encode_varint, encoded_len_varint,
        key_len,
    };

    #[inline]
    fn payload_len<E: Encoder<T>, T>(values: &[T]) -> usize {
        values.iter().map(E::len).sum()
    }

    /// The length of all elements with their keys.
    #[inline]
    pub fn encoded_len<E: Encoder<T>, T>(tag: u32, values: &[T]) -> usize {
        if values.is_empty() {
            return 0;
        }
        if E::PACKED {
            let payload = payload_len::<E, T>(values);
            key_len(tag) + encoded_len_varint(payload as u64) + payload
        } else {
            key_len(tag) * values.len() + payload_len::<E, T>(values)
        }
    }

    /// Writes all elements.
    #[inline]
    pub fn encode<E: Encoder<T>, T>(tag: u32, values: &[T], buf: &mut impl BufMut) {
        if values.is_empty() {
            return;
        }
        if E::PACKED {
            encode_key(tag, WireType::LengthDelimited, buf);
            encode_varint(payload_len::<E, T>(values) as u64, buf);
            for value in values {
                E::put(value, buf);
            }
        } else {
            for value in values {
                encode_key(tag, E::WIRE, buf);
                E::put(value, buf);
            }
        }
    }

    /// Checks every element of the column `column`.
    #[inline]
    pub fn validate<E: Encoder<T>, T>(column: &str, values: &[T]) -> Result<(), ColumnValueError> {
        if !E::FALLIBLE {
            return Ok(());
        }
        values
            .iter()
            .try_for_each(|value| super::required::validate::<E, T>(column, value))
    }
}

/// The encoders, one per wire representation.
pub mod enc;

/// The helpers of `#[bq(with = "module")]`: `module::to_bq(&T) -> B` turns
/// each value into a `B` that is a column type; `B` is inferred from the
/// function and written with its own encoder.
pub mod with {
    use super::{BufMut, DescriptorCx, Encoder, FieldSchema, Mode, ProtoType, WireType};
    use crate::row::{BqField, ColumnValueError};

    /// The proto type of `B`.
    pub const fn proto<A: ?Sized, B: BqField>(_: fn(&A) -> B) -> ProtoType {
        <B::__Encoder as Encoder<B>>::PROTO
    }
    /// The wire type of `B`.
    pub const fn wire<A: ?Sized, B: BqField>(_: fn(&A) -> B) -> WireType {
        <B::__Encoder as Encoder<B>>::WIRE
    }
    /// Whether `B` is packed when repeated.
    pub const fn packed<A: ?Sized, B: BqField>(_: fn(&A) -> B) -> bool {
        <B::__Encoder as Encoder<B>>::PACKED
    }
    /// Whether some `B` cannot be written exactly.
    pub const fn fallible<A: ?Sized, B: BqField>(_: fn(&A) -> B) -> bool {
        <B::__Encoder as Encoder<B>>::FALLIBLE
    }
    /// The STRUCT depth of `B`.
    pub const fn depth<A: ?Sized, B: BqField>(_: fn(&A) -> B) -> usize {
        B::__BQ_DEPTH
    }
    /// The column type of `B`.
    pub const fn field_type<A: ?Sized, B: BqField>(_: fn(&A) -> B) -> super::FieldType {
        B::__BQ_TYPE
    }
    /// The sub-columns of `B`, when it is a STRUCT.
    pub const fn columns<A: ?Sized, B: BqField>(
        _: fn(&A) -> B,
    ) -> &'static [super::schema_file::StaticColumn] {
        B::__BQ_COLUMNS
    }
    /// The length of a converted value.
    #[inline]
    pub fn len<B: BqField>(value: &B) -> usize {
        <B::__Encoder as Encoder<B>>::len(value)
    }
    /// Writes a converted value.
    #[inline]
    pub fn put<B: BqField>(value: &B, buf: &mut impl BufMut) {
        <B::__Encoder as Encoder<B>>::put(value, buf);
    }
    /// Checks a converted value.
    pub fn check<B: BqField>(value: &B) -> Result<(), ColumnValueError> {
        <B::__Encoder as Encoder<B>>::check(value)
    }
    /// The message type of `B`, if any.
    pub fn type_name<A: ?Sized, B: BqField>(
        _: fn(&A) -> B,
        cx: &mut DescriptorCx,
    ) -> Option<String> {
        <B::__Encoder as Encoder<B>>::type_name(cx)
    }
    /// The column of `B`.
    pub fn schema<A: ?Sized, B: BqField>(_: fn(&A) -> B, name: String, mode: Mode) -> FieldSchema {
        B::__bq_schema(name, mode)
    }
}

/// Fieldless enums that derive `BqField`: the text of each variant.
pub trait UnitEnum {
    /// The text written for this variant.
    fn __bq_name(&self) -> &'static str;
}

/// Newtypes that derive `BqField`: the wrapped value.
pub trait Newtype {
    /// The wrapped type.
    type Inner: ?Sized;
    /// The wrapped value.
    fn __bq_inner(&self) -> &Self::Inner;
}

/// `error` found in the column `column`: its path is completed with the
/// column name.
pub fn in_column(column: &str, mut error: ColumnValueError) -> ColumnValueError {
    error.column = if error.column.is_empty() {
        column.to_owned()
    } else {
        format!("{column}.{}", error.column)
    };
    error
}

/// 10⁹, the scale of NUMERIC.
const NUMERIC_SCALE: i128 = 1_000_000_000;

/// The number of bytes of the shortest little-endian two's complement form of
/// `value` × 10⁹ (`value` is at most 64 bits wide, so the product fits).
#[inline]
fn numeric_le_len(value: i128) -> usize {
    let scaled = value * NUMERIC_SCALE;
    twos_complement_len(scaled.leading_zeros(), scaled.leading_ones(), 16)
}

/// The shortest two's complement length in bytes (at least 1) of an integer
/// `width` bytes wide, from its leading zero and one bit counts.
#[inline]
fn twos_complement_len(leading_zeros: u32, leading_ones: u32, width: usize) -> usize {
    // The bits beyond the redundant sign-extension, plus one sign bit.
    let redundant = leading_zeros.max(leading_ones) as usize;
    (width * 8 - redundant + 1).div_ceil(8).max(1)
}

/// Calls `f` with the `Display` text of `value`, formatted on the stack
/// (values longer than the stack buffer fall back to a `String`).
#[inline]
fn with_display<R>(value: &impl std::fmt::Display, f: impl FnOnce(&str) -> R) -> R {
    use std::fmt::Write as _;
    let mut text = StackText {
        bytes: [0; STACK_TEXT],
        len: 0,
    };
    if write!(text, "{value}").is_ok() {
        // Only whole `&str`s are ever copied in, so this is UTF-8.
        if let Ok(text) = std::str::from_utf8(&text.bytes[..text.len]) {
            return f(text);
        }
    }
    f(&value.to_string())
}

/// Room for BigQuery's longest INTERVAL text, `-10000-0 -3660000 -87840000:0:0.999999`
/// and the like (41 bytes), with margin.
const STACK_TEXT: usize = 64;

struct StackText {
    bytes: [u8; STACK_TEXT],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The length of a length-delimited value of `len` bytes, prefix included.
#[inline]
pub fn delimited_len(len: usize) -> usize {
    encoded_len_varint(len as u64) + len
}

/// The length of length-delimited field `tag` with `len` bytes of content:
/// its key, its length prefix and the bytes.
#[inline]
pub(crate) fn field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + delimited_len(len)
}

/// Writes a length-delimited value: the length, then the bytes.
#[inline]
pub fn put_delimited(bytes: &[u8], buf: &mut impl BufMut) {
    encode_varint(bytes.len() as u64, buf);
    buf.put_slice(bytes);
}

/// The nested message types of one root descriptor. All STRUCT types of a row,
/// at any depth, become nested types of the root message (the descriptor is
/// self-contained, as the Storage Write API requires) and fields refer to them
/// by their simple names, which resolve from any scope inside the root.
#[derive(Debug)]
pub struct DescriptorCx {
    /// Names the nested types must not take: the root message's own name and
    /// its fields (nested types share the root's scope).
    reserved: Vec<String>,
    nested: Vec<WireDescriptorProto>,
}

impl DescriptorCx {
    /// Adds the message of `T` (and, through its fields, every message it
    /// needs) and returns its name.
    pub fn message<T: BqRow + ?Sized>(&mut self) -> String {
        let fields = T::__bq_fields(self);
        self.nested_type(T::__BQ_NAME, fields)
    }

    /// Adds a nested message with `fields`, named after `hint`, unless an
    /// identical one exists; returns its name.
    pub fn nested_type(&mut self, hint: &str, fields: Vec<FieldDescriptorProto>) -> String {
        if let Some(existing) = self.nested.iter().find(|message| message.field == fields) {
            return existing.name().to_owned();
        }
        let mut name = hint.to_owned();
        let mut n = 1;
        while self.is_taken(&name) {
            n += 1;
            name = format!("{hint}_{n}");
        }
        self.nested.push(WireDescriptorProto {
            name: Some(name.clone()),
            field: fields,
            ..WireDescriptorProto::default()
        });
        name
    }

    fn is_taken(&self, name: &str) -> bool {
        self.reserved
            .iter()
            .map(String::as_str)
            .chain(self.nested.iter().map(WireDescriptorProto::name))
            .any(|taken| taken == name)
    }
}

/// Builds the self-contained proto2 descriptor of the row type `R`, with the
/// `column_name` options.
pub fn root_descriptor<R: BqRow + ?Sized>() -> WireDescriptorProto {
    let mut cx = DescriptorCx {
        reserved: std::iter::once(R::__BQ_NAME)
            .chain(R::__BQ_FIELD_NAMES.iter().copied())
            .map(str::to_owned)
            .collect(),
        nested: Vec::new(),
    };
    let field = R::__bq_fields(&mut cx);
    WireDescriptorProto {
        name: Some(R::__BQ_NAME.to_owned()),
        field,
        nested_type: cx.nested,
        ..WireDescriptorProto::default()
    }
}

/// The `prost_types` form of the descriptor of `R`: without the
/// `column_name` options.
pub fn plain_descriptor<R: BqRow + ?Sized>() -> DescriptorProto {
    R::wire_descriptor().into()
}

/// The descriptor of one column: the proto field `name`, and `column` when
/// the column name is not a proto identifier (the `column_name` option).
pub fn field<E: Encoder<T> + ?Sized, T: ?Sized>(
    cx: &mut DescriptorCx,
    name: &str,
    column: Option<&str>,
    number: u32,
    label: Label,
) -> FieldDescriptorProto {
    let packed = label == Label::Repeated && E::PACKED;
    let options = (packed || column.is_some()).then(|| FieldOptions {
        packed: packed.then_some(true),
        column_name: column.map(str::to_owned),
        ..FieldOptions::default()
    });
    FieldDescriptorProto {
        name: Some(name.to_owned()),
        number: Some(number as i32),
        label: Some(label as i32),
        r#type: Some(E::PROTO as i32),
        type_name: E::type_name(cx),
        options,
        ..FieldDescriptorProto::default()
    }
}

/// The STRUCT column of a field whose type derives `BqRow`.
pub fn struct_column<T: BqRow + ?Sized>(name: String, mode: Mode) -> FieldSchema {
    FieldSchema::structure(name, mode, T::__bq_schema_fields())
}

/// The largest of `depths`, or 0.
pub const fn max_depth(depths: &[usize]) -> usize {
    let mut max = 0;
    let mut i = 0;
    while i < depths.len() {
        if depths[i] > max {
            max = depths[i];
        }
        i += 1;
    }
    max
}

/// The compile-time check of `#[bq(schema = "...")]` for the types the
/// derive cannot read from the source: evaluated in a `const`.
pub mod schema_file {
    pub use bqwrite_schema::nested::{StaticColumn, first_mismatch_in};
    pub use bqwrite_schema::{Mode, Type};

    use super::FieldType;

    /// Whether a field whose values are `field` writes a `column` column.
    pub const fn writes(field: FieldType, column: Type) -> bool {
        bqwrite_schema::writable(crate::compat::rule_type(field), column)
    }

    /// `ty` in the terms of the rules.
    pub const fn rule(ty: FieldType) -> Type {
        crate::compat::rule_type(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode<E: Encoder<T>, T: ?Sized>(value: &T) -> Vec<u8> {
        let mut buf = Vec::new();
        required::encode::<E, T>(1, value, &mut buf);
        assert_eq!(buf.len(), required::encoded_len::<E, T>(1, value));
        buf
    }

    #[test]
    fn twos_complement_lengths() {
        for (value, len) in [
            (0i128, 1),
            (1, 1),
            (127, 1),
            (128, 2),
            (-1, 1),
            (-128, 1),
            (-129, 2),
            (i128::MAX, 16),
            (i128::MIN, 16),
        ] {
            let got = twos_complement_len(value.leading_zeros(), value.leading_ones(), 16);
            assert_eq!(got, len, "{value}");
        }
    }

    #[test]
    fn integers_as_numeric_match_numeric() {
        for value in [0i64, 1, -1, 123, i64::MAX, i64::MIN] {
            let expected = types::Numeric::from_scaled(i128::from(value) * NUMERIC_SCALE)
                .expect("every i64 fits NUMERIC");
            assert_eq!(
                encode::<enc::IntAsNumeric, i64>(&value),
                encode::<enc::ScaledLeBytes, types::Numeric>(&expected),
                "{value}"
            );
        }
        let max = types::Numeric::from_scaled(i128::from(u64::MAX) * NUMERIC_SCALE)
            .expect("u64::MAX fits NUMERIC");
        assert_eq!(
            encode::<enc::IntAsNumeric, u64>(&u64::MAX),
            encode::<enc::ScaledLeBytes, types::Numeric>(&max)
        );
    }

    #[test]
    fn display_text_longer_than_the_stack_buffer_is_still_whole() {
        let long = "x".repeat(STACK_TEXT * 2);
        assert_eq!(with_display(&long, str::len), long.len());
        assert_eq!(with_display(&"short", str::to_owned), "short");
    }

    #[test]
    fn longest_interval_text_fits_the_stack_buffer() {
        let interval = types::Interval::new(-120_000, -3_660_000, -316_224_000_000_000_000 + 1)
            .expect("BigQuery's extremes");
        assert!(interval.to_string().len() <= STACK_TEXT);
    }

    #[cfg(feature = "uuid")]
    #[test]
    fn uuid_is_hyphenated_text() {
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let mut expected = vec![0x0a, 36];
        expected.extend_from_slice(b"01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(encode::<enc::UuidText, uuid::Uuid>(&id), expected);
    }
}
