//! The encoders, one per wire representation.

#![allow(missing_debug_implementations)]

use super::*;

/// Integers as proto `int64` (INT64).
pub enum Int64 {}
/// `f64` as proto `double` (FLOAT64).
pub enum Double {}
/// `f32` as proto `float` (FLOAT64).
pub enum Float {}
/// `bool` as proto `bool` (BOOL).
pub enum Bool {}
/// UTF-8 text as proto `string`.
pub enum Str {}
/// Raw bytes as proto `bytes`.
pub enum Bytes {}
/// Integers as NUMERIC: proto `bytes`, the little-endian two's
/// complement of value × 10⁹, as short as it can be.
pub enum IntAsNumeric {}
/// Whatever a pointer points to, written by `E`.
pub struct Deref<E: ?Sized>(PhantomData<E>);
/// The value a newtype wraps, written by `E`.
pub struct Inner<E: ?Sized>(PhantomData<E>);
/// A fieldless enum as proto `string`: the variant's text.
pub enum EnumText {}

impl<T: UnitEnum + ?Sized> Encoder<T> for EnumText {
    const PROTO: ProtoType = ProtoType::String;
    const WIRE: WireType = WireType::LengthDelimited;
    #[inline]
    fn len(value: &T) -> usize {
        delimited_len(value.__bq_name().len())
    }
    #[inline]
    fn put(value: &T, buf: &mut impl BufMut) {
        put_delimited(value.__bq_name().as_bytes(), buf);
    }
}

impl<W, E> Encoder<W> for Inner<E>
where
    W: Newtype + ?Sized,
    E: Encoder<W::Inner> + ?Sized,
{
    const PROTO: ProtoType = E::PROTO;
    const WIRE: WireType = E::WIRE;
    const PACKED: bool = E::PACKED;
    const FALLIBLE: bool = E::FALLIBLE;
    #[inline]
    fn len(value: &W) -> usize {
        E::len(value.__bq_inner())
    }
    #[inline]
    fn put(value: &W, buf: &mut impl BufMut) {
        E::put(value.__bq_inner(), buf);
    }
    fn type_name(cx: &mut DescriptorCx) -> Option<String> {
        E::type_name(cx)
    }
    fn check(value: &W) -> Result<(), ColumnValueError> {
        E::check(value.__bq_inner())
    }
}
/// A struct that derives `BqRow`, as a nested message (STRUCT).
pub struct Message<T: ?Sized>(PhantomData<fn(&T)>);

macro_rules! int64 {
    ($($ty:ty),*) => {$(
        impl Encoder<$ty> for Int64 {
            const PROTO: ProtoType = ProtoType::Int64;
            const WIRE: WireType = WireType::Varint;
            const PACKED: bool = true;
            #[inline]
            fn len(value: &$ty) -> usize {
                encoded_len_varint(i64::from(*value) as u64)
            }
            #[inline]
            fn put(value: &$ty, buf: &mut impl BufMut) {
                encode_varint(i64::from(*value) as u64, buf);
            }
        }
        impl Encoder<$ty> for IntAsNumeric {
            const PROTO: ProtoType = ProtoType::Bytes;
            const WIRE: WireType = WireType::LengthDelimited;
            #[inline]
            fn len(value: &$ty) -> usize {
                let n = numeric_le_len(i128::from(*value));
                1 + n
            }
            #[inline]
            fn put(value: &$ty, buf: &mut impl BufMut) {
                let scaled = i128::from(*value) * NUMERIC_SCALE;
                let n = numeric_le_len(i128::from(*value));
                buf.put_u8(n as u8);
                buf.put_slice(&scaled.to_le_bytes()[..n]);
            }
        }
    )*};
}
int64!(i8, i16, i32, i64, u8, u16, u32);

impl Encoder<isize> for Int64 {
    const PROTO: ProtoType = ProtoType::Int64;
    const WIRE: WireType = WireType::Varint;
    const PACKED: bool = true;
    #[inline]
    fn len(value: &isize) -> usize {
        encoded_len_varint(*value as i64 as u64)
    }
    #[inline]
    fn put(value: &isize, buf: &mut impl BufMut) {
        encode_varint(*value as i64 as u64, buf);
    }
}

macro_rules! wide_int_as_numeric {
    ($($ty:ty),*) => {$(
        impl Encoder<$ty> for IntAsNumeric {
            const PROTO: ProtoType = ProtoType::Bytes;
            const WIRE: WireType = WireType::LengthDelimited;
            #[inline]
            fn len(value: &$ty) -> usize {
                1 + numeric_le_len(*value as i128)
            }
            #[inline]
            fn put(value: &$ty, buf: &mut impl BufMut) {
                let n = numeric_le_len(*value as i128);
                buf.put_u8(n as u8);
                buf.put_slice(&(*value as i128 * NUMERIC_SCALE).to_le_bytes()[..n]);
            }
        }
    )*};
}
// Lossless: `usize`/`isize` are at most 64 bits on the targets Rust supports.
wide_int_as_numeric!(u64, usize, isize);

impl Encoder<f64> for Double {
    const PROTO: ProtoType = ProtoType::Double;
    const WIRE: WireType = WireType::SixtyFourBit;
    const PACKED: bool = true;
    #[inline]
    fn len(_: &f64) -> usize {
        8
    }
    #[inline]
    fn put(value: &f64, buf: &mut impl BufMut) {
        buf.put_f64_le(*value);
    }
}

impl Encoder<f32> for Float {
    const PROTO: ProtoType = ProtoType::Float;
    const WIRE: WireType = WireType::ThirtyTwoBit;
    const PACKED: bool = true;
    #[inline]
    fn len(_: &f32) -> usize {
        4
    }
    #[inline]
    fn put(value: &f32, buf: &mut impl BufMut) {
        buf.put_f32_le(*value);
    }
}

impl Encoder<bool> for Bool {
    const PROTO: ProtoType = ProtoType::Bool;
    const WIRE: WireType = WireType::Varint;
    const PACKED: bool = true;
    #[inline]
    fn len(_: &bool) -> usize {
        1
    }
    #[inline]
    fn put(value: &bool, buf: &mut impl BufMut) {
        buf.put_u8(u8::from(*value));
    }
}

macro_rules! length_delimited {
    ($enc:ty, $proto:ident: $($ty:ty),*) => {$(
        impl Encoder<$ty> for $enc {
            const PROTO: ProtoType = ProtoType::$proto;
            const WIRE: WireType = WireType::LengthDelimited;
            #[inline]
            fn len(value: &$ty) -> usize {
                delimited_len(AsRef::<[u8]>::as_ref(value).len())
            }
            #[inline]
            fn put(value: &$ty, buf: &mut impl BufMut) {
                put_delimited(AsRef::<[u8]>::as_ref(value), buf);
            }
        }
    )*};
}
length_delimited!(Str, String: str, String);
length_delimited!(Bytes, Bytes: [u8], Vec<u8>, bytes::Bytes, str, String);

/// `types::Date` as proto `int32` days since 1970-01-01 (DATE).
pub enum Date {}
/// `types::Timestamp`, `types::DateTime` and `types::Time` as proto
/// `int64`: microseconds since the epoch, or the packed civil time.
pub enum CivilInt64 {}
/// `types::Numeric` and `types::BigNumeric` as proto `bytes`: the
/// shortest little-endian two's complement of the scaled value.
pub enum ScaledLeBytes {}

impl Encoder<types::Date> for Date {
    const PROTO: ProtoType = ProtoType::Int32;
    const WIRE: WireType = WireType::Varint;
    const PACKED: bool = true;
    #[inline]
    fn len(value: &types::Date) -> usize {
        encoded_len_varint(i64::from(value.days()) as u64)
    }
    #[inline]
    fn put(value: &types::Date, buf: &mut impl BufMut) {
        encode_varint(i64::from(value.days()) as u64, buf);
    }
}

macro_rules! civil_int64 {
    ($($ty:ty => $method:ident),*) => {$(
        impl Encoder<$ty> for CivilInt64 {
            const PROTO: ProtoType = ProtoType::Int64;
            const WIRE: WireType = WireType::Varint;
            const PACKED: bool = true;
            #[inline]
            fn len(value: &$ty) -> usize {
                encoded_len_varint(value.$method() as u64)
            }
            #[inline]
            fn put(value: &$ty, buf: &mut impl BufMut) {
                encode_varint(value.$method() as u64, buf);
            }
        }
    )*};
}
civil_int64!(types::Timestamp => micros, types::DateTime => packed, types::Time => packed);

// The length comes from the scaled integer's bit count, and the bytes
// from its full-width form, so neither copies through `LeBytes`; the
// result equals `to_le_bytes()` (the round-trip tests compare them).
macro_rules! scaled_le_bytes {
    ($($ty:ty),*) => {$(
        impl Encoder<$ty> for ScaledLeBytes {
            const PROTO: ProtoType = ProtoType::Bytes;
            const WIRE: WireType = WireType::LengthDelimited;
            #[inline]
            fn len(value: &$ty) -> usize {
                let scaled = value.scaled();
                delimited_len(twos_complement_len(
                    scaled.leading_zeros(),
                    scaled.leading_ones(),
                    <$ty>::WIDTH,
                ))
            }
            #[inline]
            fn put(value: &$ty, buf: &mut impl BufMut) {
                let scaled = value.scaled();
                let n = twos_complement_len(
                    scaled.leading_zeros(),
                    scaled.leading_ones(),
                    <$ty>::WIDTH,
                );
                encode_varint(n as u64, buf);
                buf.put_slice(&scaled.to_le_bytes()[..n]);
            }
        }
    )*};
}
scaled_le_bytes!(types::Numeric, types::BigNumeric);

/// Byte widths of the scaled integers.
trait Width {
    const WIDTH: usize;
}
impl Width for types::Numeric {
    const WIDTH: usize = 16;
}
impl Width for types::BigNumeric {
    const WIDTH: usize = 32;
}

/// `types::Json` and `types::Geography` as proto `string`.
pub enum Text {}
/// `types::Interval` as proto `string` in BigQuery's canonical form.
pub enum IntervalText {}
/// `types::Range<T>` as a nested message `{start = 1, end = 2}` of `T`'s
/// encoding; an unset field is an unbounded end.
pub enum RangeMessage {}
/// `serde_json::Value` as proto `string` (JSON), serialized straight into
/// the buffer.
pub enum JsonValue {}

macro_rules! text {
    ($($ty:ty),*) => {$(
        impl Encoder<$ty> for Text {
            const PROTO: ProtoType = ProtoType::String;
            const WIRE: WireType = WireType::LengthDelimited;
            #[inline]
            fn len(value: &$ty) -> usize {
                delimited_len(value.as_str().len())
            }
            #[inline]
            fn put(value: &$ty, buf: &mut impl BufMut) {
                put_delimited(value.as_str().as_bytes(), buf);
            }
        }
    )*};
}
text!(types::Json, types::Geography);

impl Encoder<types::Interval> for IntervalText {
    const PROTO: ProtoType = ProtoType::String;
    const WIRE: WireType = WireType::LengthDelimited;
    #[inline]
    fn len(value: &types::Interval) -> usize {
        with_display(value, |text| delimited_len(text.len()))
    }
    #[inline]
    fn put(value: &types::Interval, buf: &mut impl BufMut) {
        with_display(value, |text| put_delimited(text.as_bytes(), buf));
    }
}

impl<T> Encoder<types::Range<T>> for RangeMessage
where
    T: types::RangeElement + BqField,
{
    const PROTO: ProtoType = ProtoType::Message;
    const WIRE: WireType = WireType::LengthDelimited;
    #[inline]
    fn len(value: &types::Range<T>) -> usize {
        delimited_len(range_len(value))
    }
    #[inline]
    fn put(value: &types::Range<T>, buf: &mut impl BufMut) {
        encode_varint(range_len(value) as u64, buf);
        optional::encode::<T::__Encoder, T>(1, &value.start(), buf);
        optional::encode::<T::__Encoder, T>(2, &value.end(), buf);
    }
    fn type_name(cx: &mut DescriptorCx) -> Option<String> {
        let fields = vec![
            field::<T::__Encoder, T>(cx, "start", None, 1, Label::Optional),
            field::<T::__Encoder, T>(cx, "end", None, 2, Label::Optional),
        ];
        Some(cx.nested_type(&format!("Range{:?}", T::ELEMENT_TYPE), fields))
    }
    const FALLIBLE: bool = <T::__Encoder as Encoder<T>>::FALLIBLE;
    fn check(value: &types::Range<T>) -> Result<(), ColumnValueError> {
        optional::validate::<T::__Encoder, T>("", &value.start())?;
        optional::validate::<T::__Encoder, T>("", &value.end())
    }
}

#[inline]
fn range_len<T: types::RangeElement + BqField>(value: &types::Range<T>) -> usize {
    optional::encoded_len::<T::__Encoder, T>(1, &value.start())
        + optional::encoded_len::<T::__Encoder, T>(2, &value.end())
}

impl Encoder<serde_json::Value> for JsonValue {
    const PROTO: ProtoType = ProtoType::String;
    const WIRE: WireType = WireType::LengthDelimited;
    fn len(value: &serde_json::Value) -> usize {
        delimited_len(json_len(value))
    }
    fn put(value: &serde_json::Value, buf: &mut impl BufMut) {
        encode_varint(json_len(value) as u64, buf);
        // Serializing a `Value` to an infallible writer cannot fail: its
        // map keys are strings and its numbers finite.
        let _ = serde_json::to_writer(buf.writer(), value);
    }
}

fn json_len(value: &serde_json::Value) -> usize {
    let mut counter = ByteCounter(0);
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// A writer that only counts.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "uuid")]
/// `uuid::Uuid` as proto `string`: the lowercase hyphenated form.
pub enum UuidText {}

#[cfg(feature = "uuid")]
impl Encoder<uuid::Uuid> for UuidText {
    const PROTO: ProtoType = ProtoType::String;
    const WIRE: WireType = WireType::LengthDelimited;
    #[inline]
    fn len(_: &uuid::Uuid) -> usize {
        delimited_len(uuid::fmt::Hyphenated::LENGTH)
    }
    #[inline]
    fn put(value: &uuid::Uuid, buf: &mut impl BufMut) {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        put_delimited(value.hyphenated().encode_lower(&mut text).as_bytes(), buf);
    }
}

impl<D, E> Encoder<D> for Deref<E>
where
    D: std::ops::Deref + ?Sized,
    E: Encoder<D::Target> + ?Sized,
{
    const PROTO: ProtoType = E::PROTO;
    const WIRE: WireType = E::WIRE;
    const PACKED: bool = E::PACKED;
    #[inline]
    fn len(value: &D) -> usize {
        E::len(value)
    }
    #[inline]
    fn put(value: &D, buf: &mut impl BufMut) {
        E::put(value, buf);
    }
    fn type_name(cx: &mut DescriptorCx) -> Option<String> {
        E::type_name(cx)
    }
    const FALLIBLE: bool = E::FALLIBLE;
    #[inline]
    fn check(value: &D) -> Result<(), ColumnValueError> {
        E::check(value)
    }
}

impl<T: BqRow + ?Sized> Encoder<T> for Message<T> {
    const PROTO: ProtoType = ProtoType::Message;
    const WIRE: WireType = WireType::LengthDelimited;
    #[inline]
    fn len(value: &T) -> usize {
        delimited_len(value.encoded_len())
    }
    #[inline]
    fn put(value: &T, buf: &mut impl BufMut) {
        encode_varint(value.encoded_len() as u64, buf);
        value.encode(buf);
    }
    fn type_name(cx: &mut DescriptorCx) -> Option<String> {
        Some(cx.message::<T>())
    }
    const FALLIBLE: bool = T::__BQ_FALLIBLE;
    #[inline]
    fn check(value: &T) -> Result<(), ColumnValueError> {
        value.validate()
    }
}
