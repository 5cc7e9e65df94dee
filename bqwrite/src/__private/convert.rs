//! Encoders of the types of other crates (and of `std`) that have a
//! `bqwrite::types` counterpart: the value is converted while it is written,
//! then written exactly as the counterpart is, so both give the same bytes.
//!
//! A conversion that can lose precision or range makes the encoder
//! [`FALLIBLE`](Encoder::FALLIBLE): `BqRow::validate` runs the conversion first
//! (the writer does, on every row), and `len`/`put` panic on a value it
//! rejects instead of writing a rounded one.

use std::marker::PhantomData;

use super::{BufMut, DescriptorCx, Encoder, ProtoType, WireType};
use crate::row::{BqField, ColumnValueError};
use crate::types::ValueError;

/// A value written as the `bqwrite::types` value `B` it converts to exactly
/// (`TryFrom`), or rejected.
pub struct Exact<B>(PhantomData<fn() -> B>);
/// A value written as `B`, which it always converts to exactly (`From`).
pub struct Lossless<B>(PhantomData<fn() -> B>);
/// A value written as `B` after truncating its precision toward zero
/// (`#[bq(truncate)]`); a value out of `B`'s range is still rejected.
pub struct Truncated<B>(PhantomData<fn() -> B>);

impl<B> std::fmt::Debug for Exact<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exact")
    }
}
impl<B> std::fmt::Debug for Lossless<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lossless")
    }
}
impl<B> std::fmt::Debug for Truncated<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Truncated")
    }
}

/// Converts `self` to `B`, truncating precision toward zero (never range).
pub trait TruncateTo<B> {
    /// The truncated value, or why it is out of range.
    fn truncate_to(&self) -> Result<B, ValueError>;
}

/// The field type a column of `#[bq(truncate)]` may have.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is never rounded, so `#[bq(truncate)]` does not apply to it",
    label = "`truncate` does not apply",
    note = "`#[bq(truncate)]` applies to the types of other crates whose precision can exceed BigQuery's: chrono and time instants, date-times and times (nanoseconds), `rust_decimal::Decimal` (more than 9 fractional digits), `std::time::SystemTime` and `std::time::Duration`"
)]
pub trait BqFieldTruncate {
    /// How the values are written.
    type Encoder: Encoder<Self>;
}

/// Panics on a value `validate` rejects: `encode` is only called after it.
#[cold]
#[inline(never)]
fn rejected(error: &ValueError) -> ! {
    panic!(
        "{error}: `BqRow::encode` was called on a row that `BqRow::validate` rejects; \
         bqwrite never writes a rounded value"
    )
}

fn column_error(error: ValueError) -> ColumnValueError {
    ColumnValueError {
        column: String::new(),
        error,
    }
}

macro_rules! via {
    ($encoder:ident, $bound:path, $convert:expr, $fallible:expr) => {
        impl<T, B> Encoder<T> for $encoder<B>
        where
            T: $bound,
            B: BqField,
        {
            const PROTO: ProtoType = <B::__Encoder as Encoder<B>>::PROTO;
            const WIRE: WireType = <B::__Encoder as Encoder<B>>::WIRE;
            const PACKED: bool = <B::__Encoder as Encoder<B>>::PACKED;
            const FALLIBLE: bool = $fallible;
            #[inline]
            fn len(value: &T) -> usize {
                let convert: fn(&T) -> Result<B, ValueError> = $convert;
                match convert(value) {
                    Ok(value) => <B::__Encoder as Encoder<B>>::len(&value),
                    Err(error) => rejected(&error),
                }
            }
            #[inline]
            fn put(value: &T, buf: &mut impl BufMut) {
                let convert: fn(&T) -> Result<B, ValueError> = $convert;
                match convert(value) {
                    Ok(value) => <B::__Encoder as Encoder<B>>::put(&value, buf),
                    Err(error) => rejected(&error),
                }
            }
            fn type_name(cx: &mut DescriptorCx) -> Option<String> {
                <B::__Encoder as Encoder<B>>::type_name(cx)
            }
            fn check(value: &T) -> Result<(), ColumnValueError> {
                let convert: fn(&T) -> Result<B, ValueError> = $convert;
                convert(value).map(drop).map_err(column_error)
            }
        }
    };
}

/// The exact conversion to `B`: the `TryFrom` impl, or a faster path to the
/// same result where that one allocates (it runs twice per value encoded).
pub trait ExactInto<B>: Copy {
    /// The exact conversion.
    fn exact_into(self) -> Result<B, ValueError>;
}

/// `ExactInto` through `TryFrom`.
macro_rules! exact_via_try_from {
    ($($ty:ty => $to:ty),* $(,)?) => {$(
        impl $crate::__private::convert::ExactInto<$to> for $ty {
            #[inline]
            fn exact_into(self) -> Result<$to, $crate::types::ValueError> {
                <$to>::try_from(self)
            }
        }
    )*};
}
pub(crate) use exact_via_try_from;

/// `From` by value, for `Copy` types.
pub trait LosslessInto<B>: Copy {
    /// The conversion.
    fn lossless_into(self) -> B;
}

impl<T: Copy, B: From<T>> LosslessInto<B> for T {
    #[inline]
    fn lossless_into(self) -> B {
        B::from(self)
    }
}

via!(Exact, ExactInto<B>, |value| (*value).exact_into(), true);
via!(
    Lossless,
    LosslessInto<B>,
    |value| Ok((*value).lossless_into()),
    false
);
via!(Truncated, TruncateTo<B>, TruncateTo::truncate_to, true);

/// Values written as their `Display` text (STRING), formatted on the stack.
pub enum DisplayText {}

impl std::fmt::Debug for DisplayText {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl Encoder<std::net::IpAddr> for DisplayText {
    const PROTO: ProtoType = ProtoType::String;
    const WIRE: WireType = WireType::LengthDelimited;
    #[inline]
    fn len(value: &std::net::IpAddr) -> usize {
        super::with_display(value, |text| super::delimited_len(text.len()))
    }
    #[inline]
    fn put(value: &std::net::IpAddr, buf: &mut impl BufMut) {
        super::with_display(value, |text| super::put_delimited(text.as_bytes(), buf));
    }
}
