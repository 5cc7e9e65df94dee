//! Conversions to and from `chrono` (feature `chrono`).
//!
//! | bqwrite | chrono | into bqwrite | into chrono |
//! | --- | --- | --- | --- |
//! | [`Date`] | [`NaiveDate`] | `TryFrom` (years 1..=9999) | `From` |
//! | [`Time`] | [`NaiveTime`] | `TryFrom` (no leap second, whole microseconds) | `From` |
//! | [`DateTime`] | [`NaiveDateTime`] | `TryFrom` (both of the above) | `From` |
//! | [`Timestamp`] | [`chrono::DateTime<Tz>`] | `TryFrom` (range, whole microseconds) | `From` (into `DateTime<Utc>`) |

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};

use super::{Date, DateTime, Time, Timestamp, ValueError};
use crate::schema::FieldType;

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const CE_TO_UNIX_DAYS: i32 = 719_163;

impl TryFrom<NaiveDate> for Date {
    type Error = ValueError;

    /// Fails for years outside 1..=9999.
    fn try_from(date: NaiveDate) -> Result<Self, Self::Error> {
        Date::from_ymd(date.year(), date.month(), date.day())
    }
}

impl From<Date> for NaiveDate {
    fn from(date: Date) -> Self {
        // 0001-01-01..=9999-12-31 is within chrono's range.
        NaiveDate::from_num_days_from_ce_opt(date.days() + CE_TO_UNIX_DAYS)
            .expect("every DATE is a chrono NaiveDate")
    }
}

impl TryFrom<NaiveTime> for Time {
    type Error = ValueError;

    /// Fails on a leap second (BigQuery has none) and on a fraction finer than
    /// a microsecond (never truncated).
    fn try_from(time: NaiveTime) -> Result<Self, Self::Error> {
        let nanos = time.nanosecond();
        if nanos >= 1_000_000_000 {
            return Err(ValueError::out_of_range(
                FieldType::Time,
                time,
                "BigQuery has no leap seconds",
            ));
        }
        if !nanos.is_multiple_of(1000) {
            return Err(ValueError::Inexact {
                bq_type: FieldType::Time,
                value: time.to_string(),
                detail: "TIME has microsecond precision".to_owned(),
            });
        }
        Time::new(time.hour(), time.minute(), time.second(), nanos / 1000)
    }
}

impl From<Time> for NaiveTime {
    fn from(time: Time) -> Self {
        NaiveTime::from_hms_micro_opt(time.hour(), time.minute(), time.second(), time.micros())
            .expect("every TIME is a chrono NaiveTime")
    }
}

impl TryFrom<NaiveDateTime> for DateTime {
    type Error = ValueError;

    /// Fails as the date and time conversions do.
    fn try_from(datetime: NaiveDateTime) -> Result<Self, Self::Error> {
        let date = Date::try_from(datetime.date()).map_err(|_| {
            ValueError::out_of_range(
                FieldType::DateTime,
                datetime,
                "years must be within 1..=9999",
            )
        })?;
        let time = Time::try_from(datetime.time()).map_err(|err| match err {
            ValueError::Inexact { detail, .. } => ValueError::Inexact {
                bq_type: FieldType::DateTime,
                value: datetime.to_string(),
                detail: detail.replace("TIME", "DATETIME"),
            },
            _ => ValueError::out_of_range(
                FieldType::DateTime,
                datetime,
                "BigQuery has no leap seconds",
            ),
        })?;
        Ok(DateTime::from_parts(date, time))
    }
}

impl From<DateTime> for NaiveDateTime {
    fn from(datetime: DateTime) -> Self {
        NaiveDateTime::new(datetime.date().into(), datetime.time().into())
    }
}

impl<Tz: TimeZone> TryFrom<chrono::DateTime<Tz>> for Timestamp {
    type Error = ValueError;

    /// The same instant. Fails outside TIMESTAMP's range and on a fraction
    /// finer than a microsecond (never truncated).
    fn try_from(datetime: chrono::DateTime<Tz>) -> Result<Self, Self::Error> {
        let nanos = datetime.timestamp_subsec_nanos();
        let shown = || datetime.to_utc().to_rfc3339();
        if !nanos.is_multiple_of(1000) {
            return Err(ValueError::Inexact {
                bq_type: FieldType::Timestamp,
                value: shown(),
                detail: "TIMESTAMP has microsecond precision".to_owned(),
            });
        }
        let micros = datetime
            .timestamp()
            .checked_mul(1_000_000)
            .map(|m| m + i64::from(nanos / 1000));
        micros
            .and_then(|m| Timestamp::from_micros(m).ok())
            .ok_or_else(|| {
                ValueError::out_of_range(
                    FieldType::Timestamp,
                    shown(),
                    "must be within 0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z",
                )
            })
    }
}

impl From<Timestamp> for chrono::DateTime<Utc> {
    fn from(ts: Timestamp) -> Self {
        chrono::DateTime::from_timestamp_micros(ts.micros())
            .expect("every TIMESTAMP is a chrono DateTime")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let date = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        assert_eq!(Date::try_from(date).unwrap().days(), 19_724);
        assert_eq!(
            NaiveDate::from(Date::MIN),
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap()
        );
        assert_eq!(
            NaiveDate::from(Date::MAX),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()
        );
        let dt = date.and_hms_micro_opt(3, 4, 5, 6).unwrap();
        assert_eq!(
            DateTime::try_from(dt).unwrap().packed(),
            0x1fa_0443_1050_0006
        );
        let utc = dt.and_utc();
        assert_eq!(
            Timestamp::try_from(utc).unwrap().micros(),
            1_704_164_645_000_006
        );
        let plus_two = utc.with_timezone(&FixedOffset::east_opt(7200).unwrap());
        assert_eq!(
            Timestamp::try_from(plus_two).unwrap().micros(),
            1_704_164_645_000_006
        );
        assert_eq!(
            chrono::DateTime::<Utc>::from(Timestamp::MIN).to_rfc3339(),
            "0001-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn errors() {
        assert!(Date::try_from(NaiveDate::from_ymd_opt(0, 12, 31).unwrap()).is_err());
        assert!(Date::try_from(NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap()).is_err());
        let nanos = NaiveTime::from_hms_nano_opt(1, 2, 3, 1).unwrap();
        let err = Time::try_from(nanos).unwrap_err();
        assert!(matches!(err, ValueError::Inexact { .. }), "{err}");
        let leap = NaiveTime::from_hms_milli_opt(23, 59, 59, 1500).unwrap();
        assert!(matches!(
            Time::try_from(leap),
            Err(ValueError::OutOfRange { .. })
        ));
        let dt = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_time(nanos);
        let err = DateTime::try_from(dt).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "DATETIME value 2024-01-01 01:02:03.000000001 cannot be represented exactly"
            ),
            "{err}"
        );
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        assert!(matches!(
            Timestamp::try_from(far),
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            Timestamp::try_from(nanos_utc()),
            Err(ValueError::Inexact { .. })
        ));
    }

    fn nanos_utc() -> chrono::DateTime<Utc> {
        chrono::DateTime::from_timestamp(0, 1).unwrap()
    }

    proptest! {
        #[test]
        fn round_trips(days in Date::MIN.days()..=Date::MAX.days(), micros_of_day in 0..86_400_000_000i64) {
            let date = Date::from_days(days).unwrap();
            let time = Time::from_micros_of_day(micros_of_day).unwrap();
            let datetime = DateTime::from_parts(date, time);
            let naive = NaiveDateTime::from(datetime);
            // chrono is an independent oracle for the calendar and the text forms.
            prop_assert_eq!(naive.to_string().parse::<DateTime>().unwrap(), datetime);
            prop_assert_eq!(NaiveDate::from(date).to_string(), date.to_string());
            prop_assert_eq!(DateTime::try_from(naive).unwrap(), datetime);
            prop_assert_eq!(Date::try_from(NaiveDate::from(date)).unwrap(), date);
            prop_assert_eq!(Time::try_from(NaiveTime::from(time)).unwrap(), time);
            let ts = Timestamp::from_utc(datetime);
            let utc = chrono::DateTime::<Utc>::from(ts);
            prop_assert_eq!(utc.naive_utc(), naive);
            prop_assert_eq!(Timestamp::try_from(utc).unwrap(), ts);
        }
    }
}
