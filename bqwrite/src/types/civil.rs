//! Proleptic Gregorian calendar arithmetic and the small text scanner the
//! date and time parsers share.
//!
//! The day conversions are Howard Hinnant's `days_from_civil` and
//! `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>).

/// Days from 1970-01-01 to 0001-01-01.
pub(crate) const MIN_DAYS: i32 = -719_162;
/// Days from 1970-01-01 to 9999-12-31.
pub(crate) const MAX_DAYS: i32 = 2_932_896;
/// Microseconds in a day.
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Whether `year` is a leap year in the proleptic Gregorian calendar.
pub(crate) const fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days in `month` (1..=12) of `year`.
pub(crate) const fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a valid civil date.
pub(crate) const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) `days` after 1970-01-01.
pub(crate) const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// A cursor over ASCII text for the hand-written parsers.
#[derive(Debug)]
pub(crate) struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    /// Whether all the text was consumed.
    pub(crate) fn is_done(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// The next byte, not consumed.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The rest of the text, not consumed.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    /// Consumes `byte` if it is next.
    pub(crate) fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `byte` or fails with `what`.
    pub(crate) fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    }

    /// Consumes a sign (`+` or `-`) if next; true for `-`.
    pub(crate) fn sign(&mut self) -> bool {
        if self.eat(b'-') {
            true
        } else {
            self.eat(b'+');
            false
        }
    }

    /// Consumes between `min` and `max` ASCII digits (at most 18) as a number.
    pub(crate) fn digits(&mut self, min: usize, max: usize, what: &str) -> Result<u64, String> {
        let start = self.pos;
        let mut value: u64 = 0;
        while self.pos - start < max {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    value = value * 10 + u64::from(b - b'0');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let count = self.pos - start;
        if count < min {
            return Err(if min == max {
                format!("expected {what} of {min} digits")
            } else {
                format!("expected {what} of {min} to {max} digits")
            });
        }
        if matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(format!("{what} has more than {max} digits"));
        }
        Ok(value)
    }

    /// Consumes exactly `count` ASCII digits as a number, whatever follows.
    pub(crate) fn fixed_digits(&mut self, count: usize, what: &str) -> Result<u64, String> {
        let digits = self
            .rest()
            .get(..count)
            .filter(|d| d.iter().all(u8::is_ascii_digit));
        let Some(digits) = digits else {
            return Err(format!("expected {what} of {count} digits"));
        };
        self.pos += count;
        Ok(digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
    }

    /// Consumes an optional `.fraction` and returns it in microseconds.
    /// Digits beyond the sixth must be zeros: nothing is truncated.
    pub(crate) fn fraction_micros(&mut self) -> Result<u32, String> {
        if !self.eat(b'.') {
            return Ok(0);
        }
        let mut micros = 0u32;
        let mut count = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            if count < 6 {
                micros = micros * 10 + u32::from(b - b'0');
            } else if b != b'0' {
                return Err("more than 6 fractional digits (microsecond precision); \
                            the value would be truncated"
                    .to_owned());
            }
            count += 1;
            self.pos += 1;
        }
        if count == 0 {
            return Err("expected digits after '.'".to_owned());
        }
        for _ in count..6 {
            micros *= 10;
        }
        Ok(micros)
    }

    /// Consumes `YYYY-[M]M-[D]D` and checks it is a date of the calendar.
    pub(crate) fn date(&mut self) -> Result<(i64, u32, u32), String> {
        let year = self.digits(4, 4, "year")? as i64;
        self.expect(b'-', "'-' after the year")?;
        let month = self.digits(1, 2, "month")? as u32;
        self.expect(b'-', "'-' after the month")?;
        let day = self.digits(1, 2, "day")? as u32;
        check_ymd(year, month, day)?;
        Ok((year, month, day))
    }

    /// Consumes `[H]H:[M]M:[S]S[.ffffff]` and checks the fields.
    pub(crate) fn time(&mut self) -> Result<(u32, u32, u32, u32), String> {
        let hour = self.digits(1, 2, "hour")? as u32;
        self.expect(b':', "':' after the hour")?;
        let minute = self.digits(1, 2, "minute")? as u32;
        self.expect(b':', "':' after the minute")?;
        let second = self.digits(1, 2, "second")? as u32;
        let micros = self.fraction_micros()?;
        check_hms(hour, minute, second, micros)?;
        Ok((hour, minute, second, micros))
    }

    /// Consumes the separator between date and time: `T`, `t` or one space.
    pub(crate) fn date_time_separator(&mut self) -> Result<(), String> {
        if self.eat(b'T') || self.eat(b't') || self.eat(b' ') {
            Ok(())
        } else {
            Err("expected 'T' or ' ' between date and time".to_owned())
        }
    }

    /// Fails unless all the text was consumed.
    pub(crate) fn finish(&self) -> Result<(), String> {
        if self.is_done() {
            Ok(())
        } else {
            Err(format!(
                "unexpected {:?} at byte {}",
                String::from_utf8_lossy(self.rest()),
                self.pos
            ))
        }
    }
}

/// Checks that (year, month, day) is a date between 0001-01-01 and 9999-12-31.
pub(crate) fn check_ymd(year: i64, month: u32, day: u32) -> Result<(), String> {
    if !(1..=9999).contains(&year) {
        return Err(format!("year {year} is outside 1..=9999"));
    }
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is outside 1..=12"));
    }
    let last = days_in_month(year, month);
    if day < 1 || day > last {
        return Err(format!(
            "day {day} is outside 1..={last} for {year:04}-{month:02}"
        ));
    }
    Ok(())
}

/// Checks hour, minute, second and microseconds of a civil time.
pub(crate) fn check_hms(hour: u32, minute: u32, second: u32, micros: u32) -> Result<(), String> {
    if hour > 23 {
        return Err(format!("hour {hour} is outside 0..=23"));
    }
    if minute > 59 {
        return Err(format!("minute {minute} is outside 0..=59"));
    }
    if second > 59 {
        return Err(format!("second {second} is outside 0..=59"));
    }
    if micros > 999_999 {
        return Err(format!("microseconds {micros} is outside 0..=999999"));
    }
    Ok(())
}

/// Writes `.ffffff` when `micros` is not zero.
pub(crate) fn write_fraction(f: &mut std::fmt::Formatter<'_>, micros: u32) -> std::fmt::Result {
    if micros == 0 {
        Ok(())
    } else {
        write!(f, ".{micros:06}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 1, 2), 19_724);
        assert_eq!(days_from_civil(1, 1, 1), i64::from(MIN_DAYS));
        assert_eq!(days_from_civil(9999, 12, 31), i64::from(MAX_DAYS));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn leap_years() {
        assert!(is_leap(2000) && is_leap(2024) && !is_leap(1900) && !is_leap(2023));
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
    }

    #[test]
    fn fraction_is_never_truncated() {
        assert_eq!(Scanner::new(".5").fraction_micros(), Ok(500_000));
        assert_eq!(Scanner::new(".000006000").fraction_micros(), Ok(6));
        assert!(Scanner::new(".0000061").fraction_micros().is_err());
        assert!(Scanner::new(".").fraction_micros().is_err());
    }

    proptest! {
        #[test]
        fn days_round_trip(days in MIN_DAYS..=MAX_DAYS) {
            let (y, m, d) = civil_from_days(i64::from(days));
            prop_assert!(check_ymd(y, m, d).is_ok());
            prop_assert_eq!(days_from_civil(y, m, d), i64::from(days));
        }

        #[test]
        fn consecutive_days_are_consecutive_dates(days in MIN_DAYS..MAX_DAYS) {
            let (y, m, d) = civil_from_days(i64::from(days));
            let next = civil_from_days(i64::from(days) + 1);
            let expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            prop_assert_eq!(next, expected);
        }
    }
}
