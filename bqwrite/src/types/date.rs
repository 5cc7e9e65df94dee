//! DATE: a civil date between 0001-01-01 and 9999-12-31.

use std::fmt;
use std::str::FromStr;

use super::ValueError;
use super::civil::{self, MAX_DAYS, MIN_DAYS, Scanner};
use crate::schema::FieldType;

/// A BigQuery DATE: a day of the proleptic Gregorian calendar, 0001-01-01 to 9999-12-31.
///
/// On the wire it is the `int32` number of days since 1970-01-01
/// ([`Date::days`]); its text form is `YYYY-MM-DD`.
///
/// ```
/// use bqwrite::types::Date;
///
/// let date = Date::from_ymd(2024, 1, 2)?;
/// assert_eq!(date.days(), 19724);
/// assert_eq!(date.to_string(), "2024-01-02");
/// assert_eq!("2024-01-02".parse::<Date>()?, date);
/// assert!(Date::from_ymd(2023, 2, 29).is_err());
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    /// The first DATE, 0001-01-01.
    pub const MIN: Date = Date(MIN_DAYS);
    /// The last DATE, 9999-12-31.
    pub const MAX: Date = Date(MAX_DAYS);
    /// 1970-01-01, day 0.
    pub const UNIX_EPOCH: Date = Date(0);

    /// The date `days` days after 1970-01-01 (negative: before).
    ///
    /// Fails outside -719162..=2932896 (0001-01-01..=9999-12-31).
    pub fn from_days(days: i32) -> Result<Self, ValueError> {
        if (MIN_DAYS..=MAX_DAYS).contains(&days) {
            Ok(Self(days))
        } else {
            Err(ValueError::out_of_range(
                FieldType::Date,
                format!("{days} days since 1970-01-01"),
                format!(
                    "DATE days must be within {MIN_DAYS}..={MAX_DAYS} (0001-01-01..=9999-12-31)"
                ),
            ))
        }
    }

    /// The date of a year, month (1..=12) and day of the month.
    ///
    /// Fails for a day that does not exist (2023-02-29) or a year outside 1..=9999.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Result<Self, ValueError> {
        civil::check_ymd(i64::from(year), month, day).map_err(|detail| {
            ValueError::out_of_range(
                FieldType::Date,
                format!("{year:04}-{month:02}-{day:02}"),
                detail,
            )
        })?;
        Ok(Self(Self::days_of(year, month, day)))
    }

    /// Days since 1970-01-01 of a date already checked.
    pub(crate) fn days_of(year: i32, month: u32, day: u32) -> i32 {
        // In range: checked by the caller, so the narrowing is exact.
        civil::days_from_civil(i64::from(year), month, day) as i32
    }

    /// The wire value: days since 1970-01-01.
    pub const fn days(self) -> i32 {
        self.0
    }

    /// The (year, month, day) of this date.
    pub const fn ymd(self) -> (i32, u32, u32) {
        let (y, m, d) = civil::civil_from_days(self.0 as i64);
        (y as i32, m, d)
    }

    /// The year, 1..=9999.
    pub const fn year(self) -> i32 {
        self.ymd().0
    }

    /// The month, 1..=12.
    pub const fn month(self) -> u32 {
        self.ymd().1
    }

    /// The day of the month, 1..=31.
    pub const fn day(self) -> u32 {
        self.ymd().2
    }

    pub(crate) fn parse_from(scanner: &mut Scanner<'_>) -> Result<Self, String> {
        let (y, m, d) = scanner.date()?;
        Ok(Self(Self::days_of(y as i32, m, d)))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = ValueError;

    /// Parses `YYYY-MM-DD` (one-digit month and day accepted).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut scanner = Scanner::new(text);
        Date::parse_from(&mut scanner)
            .and_then(|date| scanner.finish().map(|()| date))
            .map_err(|detail| ValueError::text(FieldType::Date, text, detail))
    }
}

impl TryFrom<i32> for Date {
    type Error = ValueError;

    /// Same as [`Date::from_days`].
    fn try_from(days: i32) -> Result<Self, Self::Error> {
        Self::from_days(days)
    }
}

impl From<Date> for i32 {
    fn from(date: Date) -> i32 {
        date.days()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vectors() {
        assert_eq!(Date::from_ymd(2024, 1, 2).unwrap().days(), 19_724);
        assert_eq!(Date::from_ymd(1970, 1, 1).unwrap(), Date::UNIX_EPOCH);
        assert_eq!(Date::from_ymd(1, 1, 1).unwrap(), Date::MIN);
        assert_eq!(Date::from_ymd(9999, 12, 31).unwrap(), Date::MAX);
        assert_eq!(Date::MIN.days(), -719_162);
        assert_eq!(Date::MAX.days(), 2_932_896);
        assert_eq!(Date::from_days(-1).unwrap().ymd(), (1969, 12, 31));
        assert_eq!(Date::MAX.to_string(), "9999-12-31");
        assert_eq!(Date::MIN.to_string(), "0001-01-01");
    }

    #[test]
    fn out_of_range() {
        let err = Date::from_days(2_932_897).unwrap_err();
        assert!(matches!(
            err,
            ValueError::OutOfRange {
                bq_type: FieldType::Date,
                ..
            }
        ));
        assert!(
            err.to_string().starts_with("DATE value 2932897 days"),
            "{err}"
        );
        assert!(Date::from_days(-719_163).is_err());
        assert!(Date::from_ymd(0, 12, 31).is_err());
        assert!(Date::from_ymd(10000, 1, 1).is_err());
        assert!(Date::from_ymd(2023, 2, 29).is_err());
        assert!(Date::from_ymd(2024, 2, 29).is_ok());
        assert!(Date::from_ymd(2024, 13, 1).is_err());
        assert!(Date::from_ymd(2024, 4, 31).is_err());
        assert!(Date::from_ymd(2024, 4, 0).is_err());
    }

    #[test]
    fn parse() {
        assert_eq!("2024-1-2".parse::<Date>().unwrap().days(), 19_724);
        for bad in [
            "",
            "2024-01",
            "2024-01-02T",
            "24-01-02",
            "2024/01/02",
            "2024-02-30",
            " 2024-01-02",
            "2024-001-02",
        ] {
            let err = bad.parse::<Date>().unwrap_err();
            assert!(
                err.to_string().starts_with("invalid DATE text"),
                "{bad}: {err}"
            );
        }
    }

    proptest! {
        #[test]
        fn text_round_trip(days in Date::MIN.days()..=Date::MAX.days()) {
            let date = Date::from_days(days).unwrap();
            let text = date.to_string();
            prop_assert_eq!(text.len(), 10);
            prop_assert_eq!(text.parse::<Date>().unwrap(), date);
            let (y, m, d) = date.ymd();
            prop_assert_eq!(Date::from_ymd(y, m, d).unwrap(), date);
        }
    }
}
