//! Columns of the types applications already use: chrono, time and
//! rust_decimal values (each behind the feature of the same name) and
//! `std::net::IpAddr`, `std::time::Duration` and `std::time::SystemTime`.
//!
//! Each is written as its `bqwrite::types` counterpart, converted while it
//! is written, so the bytes are the counterpart's. Where the conversion can
//! lose precision or range the column is fallible: `BqRow::validate` rejects
//! the value, and `#[bq(truncate)]` opts into truncating precision toward
//! zero (never range).

use crate::__private::convert::{DisplayText, Exact, TruncateTo, Truncated};
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

crate::__private::convert::exact_via_try_from! {
    std::time::SystemTime => types::Timestamp,
    std::time::Duration => types::Interval,
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
        if !duration.subsec_nanos().is_multiple_of(1000) {
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
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
mod chrono_fields {
    use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

    use super::*;

    crate::__private::convert::exact_via_try_from! {
        chrono::DateTime<Utc> => types::Timestamp,
        chrono::DateTime<FixedOffset> => types::Timestamp,
        NaiveDateTime => types::DateTime,
        NaiveDate => types::Date,
        NaiveTime => types::Time,
    }

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
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
mod time_fields {
    use time::{OffsetDateTime, PrimitiveDateTime};

    use super::*;

    crate::__private::convert::exact_via_try_from! {
        OffsetDateTime => types::Timestamp,
        PrimitiveDateTime => types::DateTime,
        time::Date => types::Date,
        time::Time => types::Time,
    }

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
#[cfg_attr(docsrs, doc(cfg(feature = "rust_decimal")))]
mod rust_decimal_fields {
    use rust_decimal::Decimal;

    use crate::__private::convert::Lossless;

    use super::*;

    foreign_fields! {
        Decimal => Exact<types::Numeric>, Numeric, NUMERIC, truncate Truncated<types::Numeric>;
    }

    /// Every `Decimal` is a BIGNUMERIC exactly.
    impl __private::BqFieldAs<kind::BIGNUMERIC> for Decimal {
        type Encoder = Lossless<types::BigNumeric>;
    }

    /// Without the text round trip of `Numeric::try_from`, which allocates:
    /// the mantissa (below 2⁹⁶) scaled to 9 digits after the point always
    /// fits NUMERIC; more digits only when the extra ones are zeros.
    impl crate::__private::convert::ExactInto<types::Numeric> for Decimal {
        #[inline]
        fn exact_into(self) -> Result<types::Numeric, ValueError> {
            let mantissa = self.mantissa();
            let scale = self.scale();
            let scaled = if scale <= types::Numeric::SCALE {
                Some(mantissa * 10_i128.pow(types::Numeric::SCALE - scale))
            } else {
                let divisor = 10_i128.pow(scale - types::Numeric::SCALE);
                (mantissa % divisor == 0).then(|| mantissa / divisor)
            };
            match scaled.map(types::Numeric::from_scaled) {
                Some(Ok(numeric)) => Ok(numeric),
                // The error, as the conversion words it.
                _ => types::Numeric::try_from(self),
            }
        }
    }

    impl TruncateTo<types::Numeric> for Decimal {
        fn truncate_to(&self) -> Result<types::Numeric, ValueError> {
            types::Numeric::try_from(self.trunc_with_scale(types::Numeric::SCALE))
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::__private::{Encoder, required};

    /// The bytes of `value` as a column, after the check `validate` runs.
    fn bytes<T: BqField + ?Sized>(value: &T) -> Result<Vec<u8>, ValueError> {
        <T::__Encoder as Encoder<T>>::check(value).map_err(|err| err.error)?;
        let mut buf = Vec::new();
        required::encode::<T::__Encoder, T>(1, value, &mut buf);
        assert_eq!(
            buf.len(),
            required::encoded_len::<T::__Encoder, T>(1, value)
        );
        Ok(buf)
    }

    /// `foreign` encodes as `counterpart` does, or both are rejected.
    fn same<F: BqField, B: BqField>(foreign: &F, counterpart: Result<B, ValueError>) {
        match (bytes(foreign), counterpart) {
            (Ok(got), Ok(expected)) => assert_eq!(got, bytes(&expected).expect("valid")),
            (Err(got), Err(expected)) => assert_eq!(got, expected),
            (got, expected) => panic!("{got:?} but the counterpart is {:?}", expected.map(|_| ())),
        }
    }

    /// Seconds from 0001-01-01 to 10000-01-01, with a margin either side.
    #[cfg(any(feature = "chrono", feature = "time"))]
    const SECONDS: std::ops::Range<i64> = -62_135_596_800 - 86_400..253_402_300_800 + 86_400;

    proptest! {
        #[test]
        fn std_types(secs in 0..u64::MAX / 2_000_000_000, nanos in 0..1_000_000_000u32, whole in any::<bool>(), ip in any::<[u8; 16]>(), v4 in any::<bool>()) {
            let nanos = if whole { nanos / 1000 * 1000 } else { nanos };
            let duration = std::time::Duration::new(secs, nanos);
            same(&duration, types::Interval::try_from(duration));
            let later = std::time::SystemTime::UNIX_EPOCH + duration;
            same(&later, types::Timestamp::try_from(later));
            let earlier = std::time::SystemTime::UNIX_EPOCH - duration;
            same(&earlier, types::Timestamp::try_from(earlier));
            let ip = if v4 {
                std::net::IpAddr::from([ip[0], ip[1], ip[2], ip[3]])
            } else {
                std::net::IpAddr::from(ip)
            };
            same(&ip, Ok::<String, ValueError>(ip.to_string()));
        }
    }

    #[cfg(feature = "chrono")]
    proptest! {
        #[test]
        fn chrono_types(secs in SECONDS, nanos in 0..1_000_000_000u32, whole in any::<bool>(), offset in -86_399..86_400i32) {
            let nanos = if whole { nanos / 1000 * 1000 } else { nanos };
            let utc = chrono::DateTime::from_timestamp(secs, nanos).expect("in chrono's range");
            same(&utc, types::Timestamp::try_from(utc));
            let fixed = utc.with_timezone(&chrono::FixedOffset::east_opt(offset).expect("offset"));
            same(&fixed, types::Timestamp::try_from(fixed));
            let naive = utc.naive_utc();
            same(&naive, types::DateTime::try_from(naive));
            same(&naive.date(), types::Date::try_from(naive.date()));
            same(&naive.time(), types::Time::try_from(naive.time()));
        }
    }

    #[cfg(feature = "time")]
    proptest! {
        #[test]
        fn time_types(secs in SECONDS, nanos in 0..1_000_000_000i128, whole in any::<bool>()) {
            let nanos = if whole { nanos / 1000 * 1000 } else { nanos };
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(secs) * 1_000_000_000 + nanos)
                .expect("in time's range");
            same(&at, types::Timestamp::try_from(at));
            let civil = time::PrimitiveDateTime::new(at.date(), at.time());
            same(&civil, types::DateTime::try_from(civil));
            same(&at.date(), types::Date::try_from(at.date()));
            same(&at.time(), types::Time::try_from(at.time()));
        }
    }

    #[cfg(feature = "rust_decimal")]
    proptest! {
        #[test]
        fn decimals(lo in any::<u32>(), mid in any::<u32>(), hi in any::<u32>(), negative in any::<bool>(), scale in 0..=28u32) {
            let decimal = rust_decimal::Decimal::from_parts(lo, mid, hi, negative, scale);
            same(&decimal, types::Numeric::try_from(decimal));
            let mut buf = Vec::new();
            type Big = <rust_decimal::Decimal as __private::BqFieldAs<kind::BIGNUMERIC>>::Encoder;
            required::encode::<Big, rust_decimal::Decimal>(1, &decimal, &mut buf);
            prop_assert_eq!(buf, bytes(&types::BigNumeric::from(decimal)).expect("valid"));
        }
    }

    #[cfg(feature = "chrono")]
    #[test]
    fn truncation_is_toward_zero_and_never_of_range() {
        use crate::__private::convert::TruncateTo;
        let before_epoch = chrono::DateTime::from_timestamp(-1, 999_999_999).expect("instant");
        let truncated: types::Timestamp = before_epoch.truncate_to().expect("in range");
        assert_eq!(truncated, types::Timestamp::UNIX_EPOCH);
        let after = chrono::DateTime::from_timestamp(1, 1_999).expect("instant");
        let truncated: types::Timestamp = after.truncate_to().expect("in range");
        assert_eq!(truncated.micros(), 1_000_001);
        let far = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1)
            .expect("date")
            .and_hms_nano_opt(0, 0, 0, 1)
            .expect("datetime");
        let err = TruncateTo::<types::DateTime>::truncate_to(&far).expect_err("out of range");
        assert!(matches!(err, ValueError::OutOfRange { .. }), "{err}");
    }
}
