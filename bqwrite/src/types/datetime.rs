//! DATETIME and TIME: civil (time-zone-less) date-times and times of day,
//! with the packed `int64` encoding of the Storage Write API.

use std::fmt;
use std::str::FromStr;

use super::civil::{self, Scanner};
use super::{Date, ValueError};
use crate::schema::FieldType;

const MICROS_BITS: u32 = 20;
const SECOND_SHIFT: u32 = 0;
const MINUTE_SHIFT: u32 = 6;
const HOUR_SHIFT: u32 = 12;
const DAY_SHIFT: u32 = 17;
const MONTH_SHIFT: u32 = 22;
const YEAR_SHIFT: u32 = 26;
/// Bits of a packed TIME: 5 hour + 6 minute + 6 second + 20 micros.
const TIME_BITS: u32 = 37;
/// Bits of a packed DATETIME: 14 year + 4 month + 5 day + 37 time bits.
const DATETIME_BITS: u32 = 60;

/// A BigQuery TIME: a time of day, 00:00:00 to 23:59:59.999999, no time zone.
///
/// On the wire it is a packed `int64`:
/// `((hour << 12) | (minute << 6) | second) << 20 | microseconds`
/// ([`Time::packed`]); its text form is `HH:MM:SS[.ffffff]`.
///
/// ```
/// use bqwrite::types::Time;
///
/// let time = Time::new(3, 4, 5, 6)?;
/// assert_eq!(time.packed(), 0x3_1050_0006);
/// assert_eq!(time.to_string(), "03:04:05.000006");
/// assert_eq!(Time::from_packed(0x3_1050_0006)?, time);
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time {
    hour: u8,
    minute: u8,
    second: u8,
    micros: u32,
}

impl Time {
    /// 00:00:00, the first TIME.
    pub const MIDNIGHT: Time = Time {
        hour: 0,
        minute: 0,
        second: 0,
        micros: 0,
    };
    /// 23:59:59.999999, the last TIME.
    pub const MAX: Time = Time {
        hour: 23,
        minute: 59,
        second: 59,
        micros: 999_999,
    };

    /// The time `hour:minute:second.micros`.
    ///
    /// Fails unless hour < 24, minute < 60, second < 60 (BigQuery has no leap
    /// seconds) and micros < 1,000,000.
    pub fn new(hour: u32, minute: u32, second: u32, micros: u32) -> Result<Self, ValueError> {
        civil::check_hms(hour, minute, second, micros).map_err(|detail| {
            ValueError::out_of_range(
                FieldType::Time,
                format!("{hour:02}:{minute:02}:{second:02}.{micros:06}"),
                detail,
            )
        })?;
        Ok(Self::new_unchecked(hour, minute, second, micros))
    }

    const fn new_unchecked(hour: u32, minute: u32, second: u32, micros: u32) -> Self {
        Self {
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            micros,
        }
    }

    /// The time `micros` microseconds after midnight; fails outside 0..86,400,000,000.
    pub fn from_micros_of_day(micros: i64) -> Result<Self, ValueError> {
        if !(0..civil::MICROS_PER_DAY).contains(&micros) {
            return Err(ValueError::out_of_range(
                FieldType::Time,
                format!("{micros} microseconds after midnight"),
                "must be within 0..86400000000",
            ));
        }
        Ok(Self::from_micros_of_day_unchecked(micros))
    }

    pub(crate) const fn from_micros_of_day_unchecked(micros: i64) -> Self {
        let seconds = micros / 1_000_000;
        Self::new_unchecked(
            (seconds / 3600) as u32,
            (seconds / 60 % 60) as u32,
            (seconds % 60) as u32,
            (micros % 1_000_000) as u32,
        )
    }

    /// Microseconds since midnight.
    pub const fn micros_of_day(self) -> i64 {
        ((self.hour as i64 * 60 + self.minute as i64) * 60 + self.second as i64) * 1_000_000
            + self.micros as i64
    }

    /// Decodes the packed civil-time `int64` of the wire.
    ///
    /// Fails when bits outside the 37 used are set or a field is out of range.
    pub fn from_packed(packed: i64) -> Result<Self, ValueError> {
        let invalid = |detail: String| ValueError::InvalidPacked {
            bq_type: FieldType::Time,
            packed,
            detail,
        };
        if !(0..1 << TIME_BITS).contains(&packed) {
            return Err(invalid(format!("bits above the low {TIME_BITS} are set")));
        }
        let (hour, minute, second, micros) = unpack_time(packed);
        civil::check_hms(hour, minute, second, micros).map_err(invalid)?;
        Ok(Self::new_unchecked(hour, minute, second, micros))
    }

    /// The packed civil-time `int64` of the wire.
    pub const fn packed(self) -> i64 {
        (((self.hour as i64) << HOUR_SHIFT)
            | ((self.minute as i64) << MINUTE_SHIFT)
            | ((self.second as i64) << SECOND_SHIFT))
            << MICROS_BITS
            | self.micros as i64
    }

    /// The hour, 0..=23.
    pub const fn hour(self) -> u32 {
        self.hour as u32
    }

    /// The minute, 0..=59.
    pub const fn minute(self) -> u32 {
        self.minute as u32
    }

    /// The second, 0..=59.
    pub const fn second(self) -> u32 {
        self.second as u32
    }

    /// The microseconds within the second, 0..=999,999.
    pub const fn micros(self) -> u32 {
        self.micros
    }

    pub(crate) fn parse_from(scanner: &mut Scanner<'_>) -> Result<Self, String> {
        let (h, m, s, us) = scanner.time()?;
        Ok(Self::new_unchecked(h, m, s, us))
    }
}

fn unpack_time(bits: i64) -> (u32, u32, u32, u32) {
    let micros = (bits & ((1 << MICROS_BITS) - 1)) as u32;
    let hms = bits >> MICROS_BITS;
    (
        ((hms >> HOUR_SHIFT) & 0x1f) as u32,
        ((hms >> MINUTE_SHIFT) & 0x3f) as u32,
        ((hms >> SECOND_SHIFT) & 0x3f) as u32,
        micros,
    )
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)?;
        civil::write_fraction(f, self.micros)
    }
}

impl FromStr for Time {
    type Err = ValueError;

    /// Parses `HH:MM:SS[.ffffff]` (one-digit fields accepted; more than six
    /// fractional digits only when the extra ones are zeros).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut scanner = Scanner::new(text);
        Time::parse_from(&mut scanner)
            .and_then(|time| scanner.finish().map(|()| time))
            .map_err(|detail| ValueError::text(FieldType::Time, text, detail))
    }
}

/// A BigQuery DATETIME: a civil date and time of day, no time zone,
/// 0001-01-01 00:00:00 to 9999-12-31 23:59:59.999999.
///
/// On the wire it is a packed `int64`:
/// `((year << 26) | (month << 22) | (day << 17) | (hour << 12) | (minute << 6) | second) << 20 | micros`
/// ([`DateTime::packed`]); its text form is `YYYY-MM-DDTHH:MM:SS[.ffffff]`
/// (parsing also accepts a space instead of the `T`).
///
/// ```
/// use bqwrite::types::DateTime;
///
/// let dt = DateTime::new(2024, 1, 2, 3, 4, 5, 6)?;
/// assert_eq!(dt.packed(), 0x1fa_0443_1050_0006);
/// assert_eq!(dt.to_string(), "2024-01-02T03:04:05.000006");
/// assert_eq!("2024-01-02 03:04:05.000006".parse::<DateTime>()?, dt);
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    date: Date,
    time: Time,
}

impl DateTime {
    /// 0001-01-01T00:00:00, the first DATETIME.
    pub const MIN: DateTime = DateTime {
        date: Date::MIN,
        time: Time::MIDNIGHT,
    };
    /// 9999-12-31T23:59:59.999999, the last DATETIME.
    pub const MAX: DateTime = DateTime {
        date: Date::MAX,
        time: Time::MAX,
    };

    /// The date-time of the given fields; fails when any is out of range
    /// (see [`Date::from_ymd`] and [`Time::new`]).
    pub fn new(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        micros: u32,
    ) -> Result<Self, ValueError> {
        civil::check_ymd(i64::from(year), month, day)
            .and_then(|()| civil::check_hms(hour, minute, second, micros))
            .map_err(|detail| {
                ValueError::out_of_range(
                    FieldType::DateTime,
                    format!(
                        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{micros:06}"
                    ),
                    detail,
                )
            })?;
        Ok(Self {
            date: Date::from_days(Date::days_of(year, month, day))?,
            time: Time::new_unchecked(hour, minute, second, micros),
        })
    }

    /// The date-time of a date and a time of day.
    pub const fn from_parts(date: Date, time: Time) -> Self {
        Self { date, time }
    }

    /// Decodes the packed civil-datetime `int64` of the wire.
    ///
    /// Fails when bits outside the 60 used are set or a field is out of range.
    pub fn from_packed(packed: i64) -> Result<Self, ValueError> {
        let invalid = |detail: String| ValueError::InvalidPacked {
            bq_type: FieldType::DateTime,
            packed,
            detail,
        };
        if !(0..1 << DATETIME_BITS).contains(&packed) {
            return Err(invalid(format!(
                "bits above the low {DATETIME_BITS} are set"
            )));
        }
        let (hour, minute, second, micros) = unpack_time(packed);
        let ymd = packed >> (MICROS_BITS + DAY_SHIFT);
        let day = (ymd & 0x1f) as u32;
        let month = ((packed >> (MICROS_BITS + MONTH_SHIFT)) & 0xf) as u32;
        let year = (packed >> (MICROS_BITS + YEAR_SHIFT)) as i32;
        civil::check_ymd(i64::from(year), month, day)
            .and_then(|()| civil::check_hms(hour, minute, second, micros))
            .map_err(invalid)?;
        Ok(Self {
            date: Date::from_days(Date::days_of(year, month, day))?,
            time: Time::new_unchecked(hour, minute, second, micros),
        })
    }

    /// The packed civil-datetime `int64` of the wire.
    pub const fn packed(self) -> i64 {
        let (year, month, day) = self.date.ymd();
        (((year as i64) << YEAR_SHIFT)
            | ((month as i64) << MONTH_SHIFT)
            | ((day as i64) << DAY_SHIFT))
            << MICROS_BITS
            | self.time.packed()
    }

    /// The date part.
    pub const fn date(self) -> Date {
        self.date
    }

    /// The time-of-day part.
    pub const fn time(self) -> Time {
        self.time
    }

    /// The year, 1..=9999.
    pub const fn year(self) -> i32 {
        self.date.year()
    }

    /// The month, 1..=12.
    pub const fn month(self) -> u32 {
        self.date.month()
    }

    /// The day of the month, 1..=31.
    pub const fn day(self) -> u32 {
        self.date.day()
    }

    /// The hour, 0..=23.
    pub const fn hour(self) -> u32 {
        self.time.hour()
    }

    /// The minute, 0..=59.
    pub const fn minute(self) -> u32 {
        self.time.minute()
    }

    /// The second, 0..=59.
    pub const fn second(self) -> u32 {
        self.time.second()
    }

    /// The microseconds within the second, 0..=999,999.
    pub const fn micros(self) -> u32 {
        self.time.micros()
    }

    pub(crate) fn parse_from(scanner: &mut Scanner<'_>) -> Result<Self, String> {
        let date = Date::parse_from(scanner)?;
        scanner.date_time_separator()?;
        let time = Time::parse_from(scanner)?;
        Ok(Self { date, time })
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}T{}", self.date, self.time)
    }
}

impl FromStr for DateTime {
    type Err = ValueError;

    /// Parses `YYYY-MM-DD[T ]HH:MM:SS[.ffffff]`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut scanner = Scanner::new(text);
        DateTime::parse_from(&mut scanner)
            .and_then(|dt| scanner.finish().map(|()| dt))
            .map_err(|detail| ValueError::text(FieldType::DateTime, text, detail))
    }
}

impl From<Date> for DateTime {
    /// Midnight at the start of `date`.
    fn from(date: Date) -> Self {
        Self::from_parts(date, Time::MIDNIGHT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn packed_vectors() {
        // ((3 << 12) | (4 << 6) | 5) << 20 | 6, computed by hand:
        // (12288 + 256 + 5) = 12549 = 0x3105; << 20 = 0x3_1050_0000; | 6.
        let time = Time::new(3, 4, 5, 6).unwrap();
        assert_eq!(time.packed(), 0x3_1050_0006);
        assert_eq!(time.packed(), 13_158_580_230);
        // (2024 << 26) | (1 << 22) | (2 << 17) | 12549 = 0x1FA0_4431_05; << 20; | 6.
        let dt = DateTime::new(2024, 1, 2, 3, 4, 5, 6).unwrap();
        assert_eq!(dt.packed(), 0x1fa_0443_1050_0006);
        assert_eq!(dt.packed(), 142_431_024_298_590_214);
        assert_eq!(DateTime::from_packed(dt.packed()).unwrap(), dt);
        assert_eq!(Time::from_packed(time.packed()).unwrap(), time);
        assert_eq!(Time::MIDNIGHT.packed(), 0);
        assert_eq!(
            Time::MAX.packed(),
            ((23 << 12 | 59 << 6 | 59) << 20) | 999_999
        );
    }

    #[test]
    fn invalid_packed() {
        let err = Time::from_packed(-1).unwrap_err();
        assert!(err.to_string().starts_with("invalid packed TIME"), "{err}");
        assert!(Time::from_packed(1 << 37).is_err());
        assert!(Time::from_packed(24 << 32).is_err()); // hour 24
        assert!(Time::from_packed((60 << 6) << 20).is_err()); // minute 60
        assert!(Time::from_packed(1_000_000).is_err()); // micros 1e6
        let err = DateTime::from_packed(0).unwrap_err(); // year 0, month 0
        assert!(
            err.to_string()
                .starts_with("invalid packed DATETIME 0x0: year 0"),
            "{err}"
        );
        let feb30 = ((2024i64 << 26) | (2 << 22) | (30 << 17)) << 20;
        assert!(DateTime::from_packed(feb30).is_err());
        assert!(DateTime::from_packed(1 << 60).is_err());
        assert!(DateTime::from_packed(i64::MIN).is_err());
    }

    #[test]
    fn constructors_check_fields() {
        assert!(Time::new(24, 0, 0, 0).is_err());
        assert!(Time::new(0, 60, 0, 0).is_err());
        assert!(Time::new(0, 0, 60, 0).is_err());
        let err = Time::new(0, 0, 0, 1_000_000).unwrap_err();
        assert!(err.to_string().starts_with("TIME value"), "{err}");
        let err = DateTime::new(2023, 2, 29, 0, 0, 0, 0).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("DATETIME value 2023-02-29T00:00:00"),
            "{err}"
        );
        assert!(DateTime::new(10000, 1, 1, 0, 0, 0, 0).is_err());
        assert!(Time::from_micros_of_day(86_400_000_000).is_err());
        assert_eq!(Time::from_micros_of_day(86_399_999_999).unwrap(), Time::MAX);
    }

    #[test]
    fn text() {
        let dt = DateTime::new(2024, 1, 2, 3, 4, 5, 0).unwrap();
        assert_eq!(dt.to_string(), "2024-01-02T03:04:05");
        assert_eq!("2024-01-02t03:04:05".parse::<DateTime>().unwrap(), dt);
        assert_eq!("2024-01-02 3:4:5.000".parse::<DateTime>().unwrap(), dt);
        assert_eq!("03:04:05.5".parse::<Time>().unwrap().micros(), 500_000);
        assert_eq!(Time::MAX.to_string(), "23:59:59.999999");
        for bad in [
            "2024-01-02",
            "2024-01-02T",
            "2024-01-02T03:04",
            "2024-01-02T03:04:05Z",
            "2024-01-02  03:04:05",
            "2024-01-02T03:04:05.1234567",
            "2024-01-02T24:00:00",
        ] {
            let err = bad.parse::<DateTime>().unwrap_err();
            assert!(
                err.to_string().starts_with("invalid DATETIME text"),
                "{bad}: {err}"
            );
        }
        for bad in ["", "3:4", "03:04:05.", "03:04:60", "03:04:05 ", "-03:04:05"] {
            assert!(bad.parse::<Time>().is_err(), "{bad}");
        }
    }

    fn any_time() -> impl Strategy<Value = Time> {
        (0..civil::MICROS_PER_DAY).prop_map(|us| Time::from_micros_of_day(us).unwrap())
    }

    fn any_datetime() -> impl Strategy<Value = DateTime> {
        (Date::MIN.days()..=Date::MAX.days(), any_time())
            .prop_map(|(days, time)| DateTime::from_parts(Date::from_days(days).unwrap(), time))
    }

    proptest! {
        #[test]
        fn time_round_trips(time in any_time()) {
            prop_assert_eq!(Time::from_packed(time.packed()).unwrap(), time);
            prop_assert_eq!(time.to_string().parse::<Time>().unwrap(), time);
            prop_assert_eq!(
                Time::new(time.hour(), time.minute(), time.second(), time.micros()).unwrap(),
                time
            );
            prop_assert_eq!(Time::from_micros_of_day(time.micros_of_day()).unwrap(), time);
        }

        #[test]
        fn datetime_round_trips(dt in any_datetime()) {
            let packed = dt.packed();
            prop_assert_eq!(DateTime::from_packed(packed).unwrap(), dt);
            // The packed fields are where the spec puts them.
            prop_assert_eq!(packed >> 46, i64::from(dt.year()));
            prop_assert_eq!((packed >> 42) & 0xf, i64::from(dt.month()));
            prop_assert_eq!((packed >> 37) & 0x1f, i64::from(dt.day()));
            prop_assert_eq!(packed & 0x1f_ffff_ffff, dt.time().packed());
            prop_assert_eq!(dt.to_string().parse::<DateTime>().unwrap(), dt);
            prop_assert_eq!(
                DateTime::new(dt.year(), dt.month(), dt.day(), dt.hour(), dt.minute(), dt.second(), dt.micros()).unwrap(),
                dt
            );
        }

        #[test]
        fn packed_order_is_value_order(a in any_datetime(), b in any_datetime()) {
            prop_assert_eq!(a.cmp(&b), a.packed().cmp(&b.packed()));
        }
    }
}
