//! BigQuery value types with their Storage Write API wire encodings.
//!
//! Each type holds only values BigQuery accepts: constructors check the
//! range and return a [`ValueError`] naming the BigQuery type and the problem,
//! and nothing is ever rounded or truncated silently.
//!
//! | BigQuery type | Rust type | wire encoding |
//! | --- | --- | --- |
//! | DATE | [`Date`] | `int32` days since 1970-01-01 |
//! | TIMESTAMP | [`Timestamp`] | `int64` microseconds since the Unix epoch |
//! | DATETIME | [`DateTime`] | `int64` packed civil datetime |
//! | TIME | [`Time`] | `int64` packed civil time |
//! | NUMERIC | [`Numeric`] | `bytes`: two's complement little-endian of value × 10⁹ |
//! | BIGNUMERIC | [`BigNumeric`] | `bytes`: two's complement little-endian of value × 10³⁸ |
//! | JSON | [`Json`] | `string` |
//! | GEOGRAPHY | [`Geography`] | `string` (WKT or GeoJSON) |
//! | INTERVAL | [`Interval`] | `string` in BigQuery's canonical interval form |
//! | RANGE | [`Range`] | message `{start = 1, end = 2}` of the element encoding |
//!
//! Every type implements [`Display`](std::fmt::Display) and
//! [`FromStr`](std::str::FromStr) with BigQuery's canonical text form.
//!
//! Conversions with other crates, each behind the feature of the same name
//! (`From` where nothing can be lost, `TryFrom` with a [`ValueError`] where
//! range or precision could be):
//! - `chrono`: `NaiveDate` ↔ [`Date`], `NaiveTime` ↔ [`Time`],
//!   `NaiveDateTime` ↔ [`DateTime`], `DateTime<Tz>` → [`Timestamp`] → `DateTime<Utc>`.
//! - `time`: `Date` ↔ [`Date`], `Time` ↔ [`Time`], `PrimitiveDateTime` ↔
//!   [`DateTime`], `OffsetDateTime` ↔ [`Timestamp`].
//! - `rust_decimal`: `Decimal` ↔ [`Numeric`] and [`BigNumeric`].
//! - `serde_json` (always on): `serde_json::Value` ↔ [`Json`].
//!
//! ```
//! use bqwrite::types::{Date, DateTime, Numeric};
//!
//! let date = Date::from_ymd(2024, 1, 2)?;
//! assert_eq!(date.days(), 19724);
//! let dt: DateTime = "2024-01-02 03:04:05.000006".parse()?;
//! assert_eq!(dt.to_string(), "2024-01-02T03:04:05.000006");
//! let n: Numeric = "123.456789".parse()?;
//! assert_eq!(n.scaled(), 123_456_789_000);
//! assert_eq!(n.to_le_bytes().as_ref(), &[0x08, 0x1a, 0x99, 0xbe, 0x1c]);
//! # Ok::<(), bqwrite::types::ValueError>(())
//! ```

mod civil;
mod date;
mod datetime;
mod error;
mod geography;
mod interval;
mod json;
mod le_bytes;
mod numeric;
mod range;
mod timestamp;

#[cfg(feature = "chrono")]
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
mod chrono_impls;
#[cfg(feature = "rust_decimal")]
#[cfg_attr(docsrs, doc(cfg(feature = "rust_decimal")))]
mod rust_decimal_impls;
#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
mod time_impls;

pub use date::Date;
pub use datetime::{DateTime, Time};
pub use error::ValueError;
pub use ethnum::I256;
pub use geography::Geography;
pub use interval::Interval;
pub use json::Json;
pub use le_bytes::LeBytes;
pub use numeric::{BigNumeric, Numeric};
pub use range::{Range, RangeElement};
pub use timestamp::Timestamp;
