//! Conversions to and from the `time` crate (feature `time`).
//!
//! | bqwrite | time | into bqwrite | into time |
//! | --- | --- | --- | --- |
//! | [`Date`] | [`time::Date`] | `TryFrom` (years 1..=9999) | `From` |
//! | [`Time`] | [`time::Time`] | `TryFrom` (whole microseconds) | `From` |
//! | [`DateTime`] | [`PrimitiveDateTime`] | `TryFrom` (both of the above) | `From` |
//! | [`Timestamp`] | [`OffsetDateTime`] | `TryFrom` (range, whole microseconds) | `From` (at UTC) |

use time::{OffsetDateTime, PrimitiveDateTime};

use super::{Date, DateTime, Time, Timestamp, ValueError};
use crate::schema::FieldType;

/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

impl TryFrom<time::Date> for Date {
    type Error = ValueError;

    /// Fails for years outside 1..=9999.
    fn try_from(date: time::Date) -> Result<Self, Self::Error> {
        let (year, month, day) = date.to_calendar_date();
        Date::from_ymd(year, u8::from(month).into(), day.into())
    }
}

impl From<Date> for time::Date {
    fn from(date: Date) -> Self {
        time::Date::from_julian_day(date.days() + UNIX_EPOCH_JULIAN_DAY)
            .expect("every DATE is a time::Date")
    }
}

impl TryFrom<time::Time> for Time {
    type Error = ValueError;

    /// Fails on a fraction finer than a microsecond (never truncated).
    fn try_from(time: time::Time) -> Result<Self, Self::Error> {
        let (hour, minute, second, nanos) = time.as_hms_nano();
        if !nanos.is_multiple_of(1000) {
            return Err(ValueError::Inexact {
                bq_type: FieldType::Time,
                value: format!("{hour:02}:{minute:02}:{second:02}.{nanos:09}"),
                detail: "TIME has microsecond precision".to_owned(),
            });
        }
        Time::new(hour.into(), minute.into(), second.into(), nanos / 1000)
    }
}

impl From<Time> for time::Time {
    fn from(time: Time) -> Self {
        // Every field is within time::Time's ranges.
        time::Time::from_hms_micro(
            time.hour() as u8,
            time.minute() as u8,
            time.second() as u8,
            time.micros(),
        )
        .expect("every TIME is a time::Time")
    }
}

impl TryFrom<PrimitiveDateTime> for DateTime {
    type Error = ValueError;

    /// Fails as the date and time conversions do.
    fn try_from(datetime: PrimitiveDateTime) -> Result<Self, Self::Error> {
        let shown = || format!("{} {}", datetime.date(), datetime.time());
        let date = Date::try_from(datetime.date()).map_err(|_| {
            ValueError::out_of_range(
                FieldType::DateTime,
                shown(),
                "years must be within 1..=9999",
            )
        })?;
        let time = Time::try_from(datetime.time()).map_err(|_| ValueError::Inexact {
            bq_type: FieldType::DateTime,
            value: shown(),
            detail: "DATETIME has microsecond precision".to_owned(),
        })?;
        Ok(DateTime::from_parts(date, time))
    }
}

impl From<DateTime> for PrimitiveDateTime {
    fn from(datetime: DateTime) -> Self {
        PrimitiveDateTime::new(datetime.date().into(), datetime.time().into())
    }
}

impl TryFrom<OffsetDateTime> for Timestamp {
    type Error = ValueError;

    /// The same instant. Fails outside TIMESTAMP's range and on a fraction
    /// finer than a microsecond (never truncated).
    fn try_from(datetime: OffsetDateTime) -> Result<Self, Self::Error> {
        let nanos = datetime.unix_timestamp_nanos();
        let shown = || format!("{nanos} nanoseconds since the Unix epoch");
        if nanos % 1000 != 0 {
            return Err(ValueError::Inexact {
                bq_type: FieldType::Timestamp,
                value: shown(),
                detail: "TIMESTAMP has microsecond precision".to_owned(),
            });
        }
        i64::try_from(nanos / 1000)
            .ok()
            .and_then(|micros| Timestamp::from_micros(micros).ok())
            .ok_or_else(|| {
                ValueError::out_of_range(
                    FieldType::Timestamp,
                    shown(),
                    "must be within 0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z",
                )
            })
    }
}

impl From<Timestamp> for OffsetDateTime {
    /// The instant, at UTC.
    fn from(ts: Timestamp) -> Self {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.micros()) * 1000)
            .expect("every TIMESTAMP is a time::OffsetDateTime")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime, time};

    #[test]
    fn known_values() {
        assert_eq!(
            Date::try_from(date!(2024 - 01 - 02)).unwrap().days(),
            19_724
        );
        assert_eq!(time::Date::from(Date::MIN), date!(0001 - 01 - 01));
        assert_eq!(time::Date::from(Date::MAX), date!(9999 - 12 - 31));
        let dt = datetime!(2024-01-02 03:04:05.000006);
        assert_eq!(
            DateTime::try_from(dt).unwrap().packed(),
            0x1fa_0443_1050_0006
        );
        assert_eq!(
            Time::try_from(time!(03:04:05.000006)).unwrap().packed(),
            0x3_1050_0006
        );
        assert_eq!(
            Timestamp::try_from(datetime!(2024-01-02 05:04:05.000006 +02:00))
                .unwrap()
                .micros(),
            1_704_164_645_000_006
        );
        assert_eq!(
            OffsetDateTime::from(Timestamp::MAX),
            datetime!(9999-12-31 23:59:59.999999 UTC)
        );
    }

    #[test]
    fn errors() {
        assert!(Date::try_from(date!(0000 - 12 - 31)).is_err());
        let err = Time::try_from(time!(01:02:03.000000001)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("TIME value 01:02:03.000000001 cannot be represented exactly"),
            "{err}"
        );
        assert!(matches!(
            DateTime::try_from(datetime!(2024-01-01 0:00:00.0000001)),
            Err(ValueError::Inexact { .. })
        ));
        assert!(matches!(
            DateTime::try_from(datetime!(0000-01-01 0:00)),
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            Timestamp::try_from(datetime!(0000-12-31 23:59:59.999999 UTC)),
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            Timestamp::try_from(datetime!(2024-01-01 0:00:00.0000001 UTC)),
            Err(ValueError::Inexact { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trips(days in Date::MIN.days()..=Date::MAX.days(), micros_of_day in 0..86_400_000_000i64) {
            let date = Date::from_days(days).unwrap();
            let time = Time::from_micros_of_day(micros_of_day).unwrap();
            let datetime = DateTime::from_parts(date, time);
            let primitive = PrimitiveDateTime::from(datetime);
            prop_assert_eq!(DateTime::try_from(primitive).unwrap(), datetime);
            // time is an independent oracle for the calendar.
            prop_assert_eq!(primitive.date().to_calendar_date().0, date.year());
            prop_assert_eq!(u32::from(u8::from(primitive.month())), date.month());
            prop_assert_eq!(u32::from(primitive.day()), date.day());
            let ts = Timestamp::from_utc(datetime);
            let offset = OffsetDateTime::from(ts);
            prop_assert_eq!(Timestamp::try_from(offset).unwrap(), ts);
            prop_assert_eq!(offset.date(), primitive.date());
        }
    }
}
