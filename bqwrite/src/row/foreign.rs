//! Columns of the types applications already use: chrono, time and
//! rust_decimal values (each behind the feature of the same name) and
//! `std::net::IpAddr`, `std::time::Duration` and `std::time::SystemTime`.
//!
//! Each is written as its `bqwrite::types` counterpart, converted while it
//! is written, so the bytes are the counterpart's. Where the conversion can
//! lose precision or range the column is fallible: `BqRow::validate` rejects
//! the value, and `#[bq(truncate)]` opts into truncating precision toward
//! zero (never range).

use crate::__private::convert::{DisplayText, Exact, Lossless, TruncateTo, Truncated};
use crate::__private::{self, BqFieldTruncate, kind};
use crate::row::BqField;
use crate::schema::{FieldSchema, FieldType, Mode};
use crate::types::{self, ValueError};

/// `$ty` is a `$field_type` column written by `$encoder`; with a
/// `#[bq(truncate)]` encoder where the type can be truncated.
macro_rules! foreign_fields {
    ($($ty:ty => $encoder:ty, $field_type:ident, $kind:ident $(, truncate $truncated:ty)?;)*) => {$(
        impl BqField for $ty {
            type __Encoder = $encoder;
            const __BQ_TYPE: FieldType = FieldType::$field_type;
            fn __bq_schema(name: String, mode: Mode) -> FieldSchema {
                FieldSchema::new(name, FieldType::$field_type, mode)
            }
        }
        impl __private::BqFieldAs<kind::$kind> for $ty {
            type Encoder = $encoder;
        }
        $(
                impl BqFieldTruncate for $ty {
                type Encoder = $truncated;
            }
        )?
    )*};
}

foreign_fields! {
    std::net::IpAddr => DisplayText, String, STRING;
    std::time::SystemTime => Exact<types::Timestamp>, Timestamp, TIMESTAMP,
        truncate Truncated<types::Timestamp>;
    std::time::Duration => Exact<types::Interval>, Interval, INTERVAL,
        truncate Truncated<types::Interval>;
}

/// A signed count of nanoseconds as microseconds, truncated toward zero.
fn micros_toward_zero(nanos: i128) -> i128 {
    nanos / 1000
}

/// The error of a count of microseconds outside TIMESTAMP's range.
fn timestamp_from_micros(
    micros: i128,
    shown: impl Fn() -> String,
) -> Result<types::Timestamp, ValueError> {
    i64::try_from(micros)
        .ok()
        .and_then(|micros| types::Timestamp::from_micros(micros).ok())
        .ok_or_else(|| {
            ValueError::out_of_range(
                FieldType::Timestamp,
                shown(),
                "must be within 0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z",
            )
        })
}

impl TruncateTo<types::Timestamp> for std::time::SystemTime {
    fn truncate_to(&self) -> Result<types::Timestamp, ValueError> {
        let nanos = match self.duration_since(std::time::SystemTime::UNIX_EPOCH) {
            Ok(after) => after.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        };
        timestamp_from_micros(micros_toward_zero(nanos), || {
            format!("{nanos} nanoseconds since the Unix epoch")
        })
    }
}

impl TruncateTo<types::Interval> for std::time::Duration {
    fn truncate_to(&self) -> Result<types::Interval, ValueError> {
        let micros = i64::try_from(self.as_micros()).unwrap_or(i64::MAX);
        types::Interval::new(0, 0, micros).map_err(|_| interval_out_of_range(self))
    }
}

fn interval_out_of_range(duration: &std::time::Duration) -> ValueError {
    ValueError::out_of_range(
        FieldType::Interval,
        format!("{duration:?}"),
        "the time part must be within +-87840000 hours",
    )
}

impl TryFrom<std::time::Duration> for types::Interval {
    type Error = ValueError;

    /// The interval of the same length, as hours, minutes and seconds
    /// (`25:0:0` for 25 hours). Fails beyond INTERVAL's 87,840,000 hours and
    /// on a fraction finer than a microsecond (never truncated).
    fn try_from(duration: std::time::Duration) -> Result<Self, Self::Error> {
        if duration.subsec_nanos() % 1000 != 0 {
            return Err(ValueError::Inexact {
                bq_type: FieldType::Interval,
                value: format!("{duration:?}"),
                detail: "INTERVAL has microsecond precision".to_owned(),
            });
        }
        duration.truncate_to()
    }
}

#[cfg(feature = "chrono")]
mod chrono_fields {
    use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

    use super::*;

    foreign_fields! {
        chrono::DateTime<Utc> => Exact<types::Timestamp>, Timestamp, TIMESTAMP,
            truncate Truncated<types::Timestamp>;
        chrono::DateTime<FixedOffset> => Exact<types::Timestamp>, Timestamp, TIMESTAMP,
            truncate Truncated<types::Timestamp>;
        NaiveDateTime => Exact<types::DateTime>, DateTime, DATETIME,
            truncate Truncated<types::DateTime>;
        NaiveDate => Exact<types::Date>, Date, DATE;
        NaiveTime => Exact<types::Time>, Time, TIME, truncate Truncated<types::Time>;
    }

    impl<Tz: chrono::TimeZone> TruncateTo<types::Timestamp> for chrono::DateTime<Tz> {
        fn truncate_to(&self) -> Result<types::Timestamp, ValueError> {
            let nanos = i128::from(self.timestamp()) * 1_000_000_000
                + i128::from(self.timestamp_subsec_nanos());
            timestamp_from_micros(micros_toward_zero(nanos), || self.to_utc().to_rfc3339())
        }
    }

    /// Drops the digits below the microsecond (a leap second stays one, and
    /// is rejected).
    fn truncate_time(time: NaiveTime) -> NaiveTime {
        let nanos = time.nanosecond();
        time.with_nanosecond(nanos - nanos % 1000).unwrap_or(time)
    }

    impl TruncateTo<types::Time> for NaiveTime {
        fn truncate_to(&self) -> Result<types::Time, ValueError> {
            types::Time::try_from(truncate_time(*self))
        }
    }

    impl TruncateTo<types::DateTime> for NaiveDateTime {
        fn truncate_to(&self) -> Result<types::DateTime, ValueError> {
            types::DateTime::try_from(self.date().and_time(truncate_time(self.time())))
        }
    }
}

#[cfg(feature = "time")]
mod time_fields {
    use time::{OffsetDateTime, PrimitiveDateTime};

    use super::*;

    foreign_fields! {
        OffsetDateTime => Exact<types::Timestamp>, Timestamp, TIMESTAMP,
            truncate Truncated<types::Timestamp>;
        PrimitiveDateTime => Exact<types::DateTime>, DateTime, DATETIME,
            truncate Truncated<types::DateTime>;
        time::Date => Exact<types::Date>, Date, DATE;
        time::Time => Exact<types::Time>, Time, TIME, truncate Truncated<types::Time>;
    }

    impl TruncateTo<types::Timestamp> for OffsetDateTime {
        fn truncate_to(&self) -> Result<types::Timestamp, ValueError> {
            let nanos = self.unix_timestamp_nanos();
            timestamp_from_micros(micros_toward_zero(nanos), || {
                format!("{nanos} nanoseconds since the Unix epoch")
            })
        }
    }

    fn truncate_time(time: time::Time) -> time::Time {
        let nanos = time.nanosecond();
        time.replace_nanosecond(nanos - nanos % 1000)
            .unwrap_or(time)
    }

    impl TruncateTo<types::Time> for time::Time {
        fn truncate_to(&self) -> Result<types::Time, ValueError> {
            types::Time::try_from(truncate_time(*self))
        }
    }

    impl TruncateTo<types::DateTime> for PrimitiveDateTime {
        fn truncate_to(&self) -> Result<types::DateTime, ValueError> {
            types::DateTime::try_from(self.replace_time(truncate_time(self.time())))
        }
    }
}

#[cfg(feature = "rust_decimal")]
mod rust_decimal_fields {
    use rust_decimal::Decimal;

    use super::*;

    foreign_fields! {
        Decimal => Exact<types::Numeric>, Numeric, NUMERIC, truncate Truncated<types::Numeric>;
    }

    /// Every `Decimal` is a BIGNUMERIC exactly.
    impl __private::BqFieldAs<kind::BIGNUMERIC> for Decimal {
        type Encoder = Lossless<types::BigNumeric>;
    }

    impl TruncateTo<types::Numeric> for Decimal {
        fn truncate_to(&self) -> Result<types::Numeric, ValueError> {
            types::Numeric::try_from(self.trunc_with_scale(types::Numeric::SCALE))
        }
    }
}
