//! INTERVAL: a duration in months, days and microseconds.

use std::fmt;
use std::str::FromStr;

use super::ValueError;
use super::civil::Scanner;
use crate::schema::FieldType;

const MAX_MONTHS: i32 = 10_000 * 12;
const MAX_DAYS: i32 = 3_660_000;
const MICROS_PER_HOUR: i64 = 3_600_000_000;
const MAX_HOURS: i64 = 87_840_000;
const MAX_MICROS: i64 = MAX_HOURS * MICROS_PER_HOUR;

/// A BigQuery INTERVAL: months, days and microseconds, each with its own sign,
/// not normalized into one another (a month is not 30 days).
///
/// Ranges, as BigQuery's: months within ±120,000 (±10,000 years), days within
/// ±3,660,000, microseconds within ±87,840,000 hours.
///
/// On the wire it is a `string` in BigQuery's canonical form
/// `Y-M D H:M:S[.F]`: years and months share one sign (`-1-2` is minus 14
/// months), days and time each have their own (`0-0 0 -1:0:0` is minus one
/// hour). The fraction is printed with 3 or 6 digits.
///
/// ```
/// use bqwrite::types::Interval;
///
/// let interval = Interval::new(14, 3, 4 * 3_600_000_000 + 5 * 60_000_000 + 6_789_000)?;
/// assert_eq!(interval.to_string(), "1-2 3 4:5:6.789");
/// assert_eq!("1-2 3 4:5:6.789".parse::<Interval>()?, interval);
/// assert_eq!(Interval::new(0, 0, -3_600_000_000)?.to_string(), "0-0 0 -1:0:0");
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    months: i32,
    days: i32,
    micros: i64,
}

impl Interval {
    /// The empty interval, `0-0 0 0:0:0`.
    pub const ZERO: Interval = Interval {
        months: 0,
        days: 0,
        micros: 0,
    };

    /// The interval of `months`, `days` and `micros`; fails when one is
    /// outside BigQuery's range (see the type's documentation).
    pub fn new(months: i32, days: i32, micros: i64) -> Result<Self, ValueError> {
        let shown = || format!("(months {months}, days {days}, microseconds {micros})");
        if !(-MAX_MONTHS..=MAX_MONTHS).contains(&months) {
            return Err(ValueError::out_of_range(
                FieldType::Interval,
                shown(),
                format!("months must be within +-{MAX_MONTHS} (10000 years)"),
            ));
        }
        if !(-MAX_DAYS..=MAX_DAYS).contains(&days) {
            return Err(ValueError::out_of_range(
                FieldType::Interval,
                shown(),
                format!("days must be within +-{MAX_DAYS}"),
            ));
        }
        if !(-MAX_MICROS..=MAX_MICROS).contains(&micros) {
            return Err(ValueError::out_of_range(
                FieldType::Interval,
                shown(),
                format!("the time part must be within +-{MAX_HOURS} hours"),
            ));
        }
        Ok(Self {
            months,
            days,
            micros,
        })
    }

    /// The months part (years are 12 months).
    pub const fn months(self) -> i32 {
        self.months
    }

    /// The days part.
    pub const fn days(self) -> i32 {
        self.days
    }

    /// The time part, in microseconds.
    pub const fn micros(self) -> i64 {
        self.micros
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let months = self.months.unsigned_abs();
        let ym_sign = if self.months < 0 { "-" } else { "" };
        write!(f, "{ym_sign}{}-{} {} ", months / 12, months % 12, self.days)?;
        let micros = self.micros.unsigned_abs();
        let time_sign = if self.micros < 0 { "-" } else { "" };
        let seconds = micros / 1_000_000;
        let fraction = micros % 1_000_000;
        write!(
            f,
            "{time_sign}{}:{}:{}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )?;
        if fraction == 0 {
            Ok(())
        } else if fraction.is_multiple_of(1000) {
            write!(f, ".{:03}", fraction / 1000)
        } else {
            write!(f, ".{fraction:06}")
        }
    }
}

impl FromStr for Interval {
    type Err = ValueError;

    /// Parses BigQuery's canonical form `[-]Y-M [-]D [-]H:M:S[.F]` (a `+`
    /// sign is accepted too). Fails when a field is out of range, and on
    /// fractions finer than a microsecond.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parse = || -> Result<(i64, i64, i64), String> {
            let mut s = Scanner::new(text);
            let ym_negative = s.sign();
            let years = s.digits(1, 5, "years")? as i64;
            s.expect(b'-', "'-' between years and months")?;
            let months = s.digits(1, 2, "months")? as i64;
            if months > 11 {
                return Err(format!("month {months} is outside 0..=11"));
            }
            spaces(&mut s)?;
            let days_negative = s.sign();
            let days = s.digits(1, 7, "days")? as i64;
            spaces(&mut s)?;
            let time_negative = s.sign();
            let hours = s.digits(1, 8, "hours")? as i64;
            s.expect(b':', "':' after the hours")?;
            let minutes = s.digits(1, 2, "minutes")? as i64;
            s.expect(b':', "':' after the minutes")?;
            let seconds = s.digits(1, 2, "seconds")? as i64;
            let fraction = i64::from(s.fraction_micros()?);
            s.finish()?;
            if minutes > 59 || seconds > 59 {
                return Err("minutes and seconds must be within 0..=59".to_owned());
            }
            let total_months = years * 12 + months;
            let micros = hours * MICROS_PER_HOUR + (minutes * 60 + seconds) * 1_000_000 + fraction;
            let signed = |negative: bool, v: i64| if negative { -v } else { v };
            Ok((
                signed(ym_negative, total_months),
                signed(days_negative, days),
                signed(time_negative, micros),
            ))
        };
        let (months, days, micros) =
            parse().map_err(|detail| ValueError::text(FieldType::Interval, text, detail))?;
        let months = i32::try_from(months).unwrap_or(i32::MAX);
        let days = i32::try_from(days).unwrap_or(i32::MAX);
        Interval::new(months, days, micros).map_err(|err| match err {
            ValueError::OutOfRange { detail, .. } => {
                ValueError::out_of_range(FieldType::Interval, format!("{text:?}"), detail)
            }
            other => other,
        })
    }
}

fn spaces(s: &mut Scanner<'_>) -> Result<(), String> {
    if !s.eat(b' ') {
        return Err("expected ' ' between the parts".to_owned());
    }
    while s.eat(b' ') {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn canonical_text() {
        let cases = [
            (
                (14, 3, 4 * MICROS_PER_HOUR + 5 * 60_000_000 + 6_789_000),
                "1-2 3 4:5:6.789",
            ),
            ((0, 0, 0), "0-0 0 0:0:0"),
            ((-14, -3, -1), "-1-2 -3 -0:0:0.000001"),
            ((-1, 0, 0), "-0-1 0 0:0:0"),
            ((0, 0, -MICROS_PER_HOUR), "0-0 0 -1:0:0"),
            ((0, 0, 37_230_520_000), "0-0 0 10:20:30.520"),
            (
                (MAX_MONTHS, MAX_DAYS, MAX_MICROS),
                "10000-0 3660000 87840000:0:0",
            ),
            (
                (-MAX_MONTHS, -MAX_DAYS, -MAX_MICROS),
                "-10000-0 -3660000 -87840000:0:0",
            ),
        ];
        for ((months, days, micros), text) in cases {
            let interval = Interval::new(months, days, micros).unwrap();
            assert_eq!(interval.to_string(), text);
            assert_eq!(text.parse::<Interval>().unwrap(), interval, "{text}");
        }
        assert_eq!(
            "+1-2 +3 +4:05:06.5".parse::<Interval>().unwrap(),
            Interval::new(14, 3, 14_706_500_000).unwrap()
        );
    }

    #[test]
    fn out_of_range() {
        assert!(Interval::new(MAX_MONTHS + 1, 0, 0).is_err());
        assert!(Interval::new(0, -MAX_DAYS - 1, 0).is_err());
        let err = Interval::new(0, 0, MAX_MICROS + 1).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "INTERVAL value (months 0, days 0, microseconds 316224000000000001) is out of range"
            ),
            "{err}"
        );
        let err = "10001-0 0 0:0:0".parse::<Interval>().unwrap_err();
        assert!(matches!(err, ValueError::OutOfRange { .. }), "{err}");
        assert!("0-0 0 87840000:0:0.000001".parse::<Interval>().is_err());
    }

    #[test]
    fn bad_text() {
        for bad in [
            "",
            "1-2",
            "1-2 3",
            "1-12 0 0:0:0",
            "1-2 3 4:60:0",
            "1-2 3 4:5:6.1234567",
            "1-2 3 4:5:6 ",
            "1 2 3 4:5:6",
            "P1Y",
            "--1-2 3 4:5:6",
        ] {
            let err = bad.parse::<Interval>().unwrap_err();
            assert!(
                err.to_string().starts_with("invalid INTERVAL text"),
                "{bad}: {err}"
            );
        }
    }

    proptest! {
        #[test]
        fn text_round_trip(
            months in -MAX_MONTHS..=MAX_MONTHS,
            days in -MAX_DAYS..=MAX_DAYS,
            micros in prop_oneof![-MAX_MICROS..=MAX_MICROS, -10_000_000i64..10_000_000],
        ) {
            let interval = Interval::new(months, days, micros).unwrap();
            prop_assert_eq!(interval.to_string().parse::<Interval>().unwrap(), interval);
        }
    }
}
