//! TIMESTAMP: an instant, microseconds since the Unix epoch.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use super::civil::{MICROS_PER_DAY, Scanner};
use super::{Date, DateTime, Time, ValueError};
use crate::schema::FieldType;

const MIN_MICROS: i64 = -62_135_596_800_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// A BigQuery TIMESTAMP: an instant with microsecond precision,
/// 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z.
///
/// On the wire it is the `int64` number of microseconds since
/// 1970-01-01T00:00:00Z ([`Timestamp::micros`]). Its text form is RFC 3339 in
/// UTC, `2024-01-02T03:04:05.000006Z` (the fraction only when not zero).
///
/// ```
/// use bqwrite::types::Timestamp;
///
/// let ts: Timestamp = "2024-01-02T03:04:05.000006Z".parse()?;
/// assert_eq!(ts.micros(), 1_704_164_645_000_006);
/// assert_eq!(ts.to_string(), "2024-01-02T03:04:05.000006Z");
/// // BigQuery's own text form, with a space and an offset, parses too.
/// assert_eq!("2024-01-02 05:04:05.000006+02:00".parse::<Timestamp>()?, ts);
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 0001-01-01T00:00:00Z, the first TIMESTAMP.
    pub const MIN: Timestamp = Timestamp(MIN_MICROS);
    /// 9999-12-31T23:59:59.999999Z, the last TIMESTAMP.
    pub const MAX: Timestamp = Timestamp(MAX_MICROS);
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// The instant `micros` microseconds after 1970-01-01T00:00:00Z.
    ///
    /// Fails outside -62135596800000000..=253402300799999999.
    pub fn from_micros(micros: i64) -> Result<Self, ValueError> {
        if (MIN_MICROS..=MAX_MICROS).contains(&micros) {
            Ok(Self(micros))
        } else {
            Err(ValueError::out_of_range(
                FieldType::Timestamp,
                format!("{micros} microseconds since the Unix epoch"),
                format!(
                    "must be within {MIN_MICROS}..={MAX_MICROS} \
                     (0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z)"
                ),
            ))
        }
    }

    /// The instant `seconds` seconds after 1970-01-01T00:00:00Z.
    pub fn from_seconds(seconds: i64) -> Result<Self, ValueError> {
        match seconds.checked_mul(1_000_000) {
            Some(micros) => Self::from_micros(micros),
            None => Err(ValueError::out_of_range(
                FieldType::Timestamp,
                format!("{seconds} seconds since the Unix epoch"),
                "must be within 0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z",
            )),
        }
    }

    /// The current time from the system clock, truncated to the microsecond.
    pub fn now() -> Self {
        let micros = match SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_micros()).unwrap_or(MAX_MICROS),
            Err(before) => i64::try_from(before.duration().as_micros())
                .map(|m| -m)
                .unwrap_or(MIN_MICROS),
        };
        Self(micros.clamp(MIN_MICROS, MAX_MICROS))
    }

    /// The wire value: microseconds since 1970-01-01T00:00:00Z.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The instant at which UTC's wall clock shows `datetime`.
    pub const fn from_utc(datetime: DateTime) -> Self {
        Self(datetime.date().days() as i64 * MICROS_PER_DAY + datetime.time().micros_of_day())
    }

    /// What UTC's wall clock shows at this instant.
    pub fn to_utc(self) -> DateTime {
        let days = self.0.div_euclid(MICROS_PER_DAY);
        let micros = self.0.rem_euclid(MICROS_PER_DAY);
        // In range by construction: days within Date's range, micros within a day.
        let date = Date::from_days(days as i32).unwrap_or(Date::MIN);
        DateTime::from_parts(date, Time::from_micros_of_day_unchecked(micros))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Z", self.to_utc())
    }
}

impl FromStr for Timestamp {
    type Err = ValueError;

    /// Parses `YYYY-MM-DD[T ]HH:MM:SS[.ffffff]` followed by a time zone:
    /// `Z`, `+HH:MM`, `+HHMM`, `+HH` (optionally after a space) or ` UTC`.
    /// Text without a zone is read as UTC, as BigQuery does. More than six
    /// fractional digits are accepted only when the extra ones are zeros.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parse = || -> Result<i64, String> {
            let mut scanner = Scanner::new(text);
            let local = DateTime::parse_from(&mut scanner)?;
            let offset_minutes = parse_zone(&mut scanner)?;
            scanner.finish()?;
            Ok(Timestamp::from_utc(local).micros() - offset_minutes * 60_000_000)
        };
        let micros =
            parse().map_err(|detail| ValueError::text(FieldType::Timestamp, text, detail))?;
        Timestamp::from_micros(micros).map_err(|_| {
            ValueError::out_of_range(
                FieldType::Timestamp,
                format!("{text:?}"),
                "must be within 0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z",
            )
        })
    }
}

/// The zone suffix of a timestamp, as minutes east of UTC.
fn parse_zone(scanner: &mut Scanner<'_>) -> Result<i64, String> {
    if scanner.is_done() || scanner.eat(b'Z') || scanner.eat(b'z') {
        return Ok(0);
    }
    scanner.eat(b' ');
    if scanner.rest() == b"UTC" {
        scanner.eat(b'U');
        scanner.eat(b'T');
        scanner.eat(b'C');
        return Ok(0);
    }
    let negative = match scanner.peek() {
        Some(b'+') => false,
        Some(b'-') => true,
        _ => return Err("expected a time zone: 'Z', '+HH:MM' or '-HH:MM'".to_owned()),
    };
    scanner.sign();
    let hours = scanner.fixed_digits(2, "zone hours")? as i64;
    let minutes = if scanner.eat(b':') || matches!(scanner.peek(), Some(b'0'..=b'9')) {
        scanner.digits(2, 2, "zone minutes")? as i64
    } else {
        0
    };
    if hours > 14 || minutes > 59 {
        return Err(format!(
            "zone offset {hours:02}:{minutes:02} is not a valid UTC offset"
        ));
    }
    let total = hours * 60 + minutes;
    Ok(if negative { -total } else { total })
}

impl TryFrom<i64> for Timestamp {
    type Error = ValueError;

    /// Same as [`Timestamp::from_micros`].
    fn try_from(micros: i64) -> Result<Self, Self::Error> {
        Self::from_micros(micros)
    }
}

impl From<Timestamp> for i64 {
    fn from(ts: Timestamp) -> i64 {
        ts.micros()
    }
}

impl From<Timestamp> for SystemTime {
    fn from(ts: Timestamp) -> SystemTime {
        let magnitude = Duration::from_micros(ts.0.unsigned_abs());
        if ts.0 >= 0 {
            SystemTime::UNIX_EPOCH + magnitude
        } else {
            SystemTime::UNIX_EPOCH - magnitude
        }
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = ValueError;

    /// Fails outside TIMESTAMP's range and when the time has a fraction of a
    /// microsecond (which would otherwise be truncated).
    fn try_from(time: SystemTime) -> Result<Self, Self::Error> {
        let (negative, duration) = match time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => (false, after),
            Err(before) => (true, before.duration()),
        };
        let sign = if negative { "-" } else { "" };
        let shown = || {
            format!(
                "{sign}{}.{:09}s since the Unix epoch",
                duration.as_secs(),
                duration.subsec_nanos()
            )
        };
        if duration.subsec_nanos() % 1000 != 0 {
            return Err(ValueError::Inexact {
                bq_type: FieldType::Timestamp,
                value: shown(),
                detail: "TIMESTAMP has microsecond precision".to_owned(),
            });
        }
        let micros = i64::try_from(duration.as_micros()).map_err(|_| {
            ValueError::out_of_range(FieldType::Timestamp, shown(), "too far from 1970")
        })?;
        Self::from_micros(if negative { -micros } else { micros })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vectors() {
        let ts = Timestamp::from_utc(DateTime::new(2024, 1, 2, 3, 4, 5, 6).unwrap());
        // 19724 days * 86400 s + 3*3600 + 4*60 + 5 = 1704164645 s, then 6 micros.
        assert_eq!(ts.micros(), 1_704_164_645_000_006);
        assert_eq!(ts.to_string(), "2024-01-02T03:04:05.000006Z");
        assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999999Z");
        assert_eq!(
            Timestamp::from_micros(-1).unwrap().to_string(),
            "1969-12-31T23:59:59.999999Z"
        );
        assert_eq!(Timestamp::MIN, Timestamp::from_utc(DateTime::MIN));
        assert_eq!(Timestamp::MAX, Timestamp::from_utc(DateTime::MAX));
    }

    #[test]
    fn range() {
        assert!(Timestamp::from_micros(MAX_MICROS + 1).is_err());
        let err = Timestamp::from_micros(MIN_MICROS - 1).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("TIMESTAMP value -62135596800000001"),
            "{err}"
        );
        assert!(Timestamp::from_seconds(i64::MAX).is_err());
        assert_eq!(Timestamp::from_seconds(1).unwrap().micros(), 1_000_000);
        let err = "9999-12-31T23:59:59-01:00"
            .parse::<Timestamp>()
            .unwrap_err();
        assert!(matches!(err, ValueError::OutOfRange { .. }), "{err}");
        assert!("0001-01-01T00:00:00+00:01".parse::<Timestamp>().is_err());
    }

    #[test]
    fn parse_forms() {
        let expected = Timestamp::from_micros(1_704_164_645_000_000).unwrap();
        for text in [
            "2024-01-02T03:04:05Z",
            "2024-01-02 03:04:05",
            "2024-01-02 03:04:05+00",
            "2024-01-02 03:04:05 UTC",
            "2024-01-02T03:04:05.000z",
            "2024-01-02T04:04:05+01:00",
            "2024-01-02T04:34:05+0130",
            "2024-01-01T22:04:05 -05:00",
        ] {
            assert_eq!(text.parse::<Timestamp>().unwrap(), expected, "{text}");
        }
        for bad in [
            "2024-01-02T03:04:05.0000001Z",
            "2024-01-02T03:04:05+1",
            "2024-01-02T03:04:05+15:00",
            "2024-01-02T03:04:05 PST",
            "2024-01-02",
            "2024-01-02T03:04:05ZZ",
        ] {
            let err = bad.parse::<Timestamp>().unwrap_err();
            assert!(
                err.to_string().starts_with("invalid TIMESTAMP text"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn system_time() {
        let ts = Timestamp::from_micros(-1_500_000).unwrap();
        assert_eq!(Timestamp::try_from(SystemTime::from(ts)).unwrap(), ts);
        let odd = SystemTime::UNIX_EPOCH + Duration::from_nanos(1);
        assert!(matches!(
            Timestamp::try_from(odd),
            Err(ValueError::Inexact { .. })
        ));
        assert!(Timestamp::now() > Timestamp::from_seconds(1_700_000_000).unwrap());
    }

    proptest! {
        #[test]
        fn text_round_trip(micros in MIN_MICROS..=MAX_MICROS) {
            let ts = Timestamp::from_micros(micros).unwrap();
            let text = ts.to_string();
            prop_assert!(text.ends_with('Z'));
            prop_assert_eq!(text.parse::<Timestamp>().unwrap(), ts);
            prop_assert_eq!(text.replace('T', " ").replace('Z', "+00:00").parse::<Timestamp>().unwrap(), ts);
            prop_assert_eq!(Timestamp::from_utc(ts.to_utc()), ts);
        }
    }
}
