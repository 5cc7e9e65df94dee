//! RANGE: a half-open range of DATE, DATETIME or TIMESTAMP values.

use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

use super::{Date, DateTime, Timestamp, ValueError};
use crate::schema::FieldType;

mod sealed {
    pub trait Sealed {}
}

/// The element types a BigQuery RANGE may have: [`Date`], [`DateTime`] and
/// [`Timestamp`], and with the feature of the same name chrono's
/// `NaiveDate`, `NaiveDateTime`, `DateTime<Utc>` and `DateTime<FixedOffset>`
/// and time's `Date`, `PrimitiveDateTime` and `OffsetDateTime` (written as
/// their counterparts, checked by `BqRow::validate` like any other column of
/// those types). Sealed: no other type can implement it.
pub trait RangeElement: sealed::Sealed + Copy + Ord + Hash + fmt::Debug + fmt::Display {
    /// The BigQuery type of the elements: DATE, DATETIME or TIMESTAMP.
    const ELEMENT_TYPE: FieldType;
}

macro_rules! range_elements {
    ($($(#[$meta:meta])* $ty:ty => $element:ident;)*) => {$(
        $(#[$meta])*
        impl sealed::Sealed for $ty {}
        $(#[$meta])*
        impl RangeElement for $ty {
            const ELEMENT_TYPE: FieldType = FieldType::$element;
        }
    )*};
}

range_elements! {
    Date => Date;
    DateTime => DateTime;
    Timestamp => Timestamp;
    #[cfg(feature = "chrono")]
    chrono::NaiveDate => Date;
    #[cfg(feature = "chrono")]
    chrono::NaiveDateTime => DateTime;
    #[cfg(feature = "chrono")]
    chrono::DateTime<chrono::Utc> => Timestamp;
    #[cfg(feature = "chrono")]
    chrono::DateTime<chrono::FixedOffset> => Timestamp;
    #[cfg(feature = "time")]
    time::Date => Date;
    #[cfg(feature = "time")]
    time::PrimitiveDateTime => DateTime;
    #[cfg(feature = "time")]
    time::OffsetDateTime => Timestamp;
}

/// A BigQuery `RANGE<T>`: the values from `start` (included) to `end`
/// (excluded); a missing bound is unbounded.
///
/// On the wire it is a message `{start = 1, end = 2}` of the element's
/// encoding, an unset field being unbounded. Its text form is
/// `[start, end)` with `UNBOUNDED` for a missing bound.
///
/// ```
/// use bqwrite::types::{Date, Range};
///
/// let q1 = Range::new(Some(Date::from_ymd(2024, 1, 1)?), Some(Date::from_ymd(2024, 4, 1)?))?;
/// assert_eq!(q1.to_string(), "[2024-01-01, 2024-04-01)");
/// assert!(q1.contains(Date::from_ymd(2024, 3, 31)?));
/// let since: Range<Date> = "[2024-01-01, UNBOUNDED)".parse()?;
/// assert_eq!(since.end(), None);
/// assert!(Range::new(q1.end(), q1.start()).is_err());
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Range<T: RangeElement> {
    start: Option<T>,
    end: Option<T>,
}

impl<T: RangeElement> Range<T> {
    /// The range `[start, end)`; `None` is unbounded. Fails unless
    /// `start < end` when both are set (BigQuery has no empty ranges).
    pub fn new(start: Option<T>, end: Option<T>) -> Result<Self, ValueError> {
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            return Err(ValueError::EmptyRange {
                element_type: T::ELEMENT_TYPE,
                start: s.to_string(),
                end: e.to_string(),
            });
        }
        Ok(Self { start, end })
    }

    /// The range of every value, `[UNBOUNDED, UNBOUNDED)`.
    pub const fn unbounded() -> Self {
        Self {
            start: None,
            end: None,
        }
    }

    /// The first value in the range; `None` when unbounded.
    pub const fn start(&self) -> Option<T> {
        self.start
    }

    /// The first value after the range; `None` when unbounded.
    pub const fn end(&self) -> Option<T> {
        self.end
    }

    /// Whether `value` is in the range.
    pub fn contains(&self, value: T) -> bool {
        self.start.is_none_or(|s| s <= value) && self.end.is_none_or(|e| value < e)
    }
}

fn write_bound<T: fmt::Display>(f: &mut fmt::Formatter<'_>, bound: Option<T>) -> fmt::Result {
    match bound {
        Some(value) => write!(f, "{value}"),
        None => f.write_str("UNBOUNDED"),
    }
}

impl<T: RangeElement> fmt::Display for Range<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        write_bound(f, self.start)?;
        f.write_str(", ")?;
        write_bound(f, self.end)?;
        f.write_str(")")
    }
}

impl<T: RangeElement + FromStr<Err: fmt::Display>> FromStr for Range<T> {
    type Err = ValueError;

    /// Parses `[start, end)`, each bound the element's text form or
    /// `UNBOUNDED` (or `NULL`), case-insensitively.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |detail: String| ValueError::InvalidText {
            bq_type: FieldType::Range,
            text: text.to_owned(),
            detail,
        };
        let inner = text
            .trim()
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(')'))
            .ok_or_else(|| invalid("expected [start, end)".to_owned()))?;
        let (start, end) = inner
            .split_once(',')
            .ok_or_else(|| invalid("expected ',' between start and end".to_owned()))?;
        let bound = |part: &str| -> Result<Option<T>, ValueError> {
            let part = part.trim();
            if part.eq_ignore_ascii_case("UNBOUNDED") || part.eq_ignore_ascii_case("NULL") {
                Ok(None)
            } else {
                part.parse::<T>()
                    .map(Some)
                    .map_err(|err| invalid(format!("bad {} bound: {err}", T::ELEMENT_TYPE)))
            }
        };
        Range::new(bound(start)?, bound(end)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds() {
        let a = Timestamp::from_micros(0).unwrap();
        let b = Timestamp::from_micros(1).unwrap();
        let r = Range::new(Some(a), Some(b)).unwrap();
        assert!(r.contains(a) && !r.contains(b));
        let err = Range::new(Some(a), Some(a)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid RANGE<TIMESTAMP>: start 1970-01-01T00:00:00Z is not before end 1970-01-01T00:00:00Z"
        );
        assert_eq!(err.bq_type(), FieldType::Range);
        assert!(Range::new(Some(b), Some(a)).is_err());
        assert!(Range::<Timestamp>::unbounded().contains(Timestamp::MIN));
        assert_eq!(
            Range::<DateTime>::unbounded().to_string(),
            "[UNBOUNDED, UNBOUNDED)"
        );
        assert_eq!(Range::new(None, Some(b)).unwrap().start(), None);
    }

    #[test]
    fn text() {
        let r: Range<DateTime> = "[2024-01-01 00:00:00, unbounded)".parse().unwrap();
        assert_eq!(r.to_string(), "[2024-01-01T00:00:00, UNBOUNDED)");
        let r: Range<Timestamp> = " [NULL,2024-01-01T00:00:00Z) ".parse().unwrap();
        assert_eq!(r.end(), Some("2024-01-01T00:00:00Z".parse().unwrap()));
        for bad in [
            "2024-01-01, 2024-02-01",
            "[2024-01-01 2024-02-01)",
            "[2024-01-01, 2024-02-01]",
            "[2024-02-30, UNBOUNDED)",
        ] {
            let err = bad.parse::<Range<Date>>().unwrap_err();
            assert!(
                err.to_string().starts_with("invalid RANGE text"),
                "{bad}: {err}"
            );
        }
        assert!(matches!(
            "[2024-02-01, 2024-01-01)".parse::<Range<Date>>(),
            Err(ValueError::EmptyRange { .. })
        ));
    }

    proptest! {
        #[test]
        fn text_round_trip(
            a in proptest::option::of(Date::MIN.days()..=Date::MAX.days()),
            b in proptest::option::of(Date::MIN.days()..=Date::MAX.days()),
        ) {
            let start = a.map(|d| Date::from_days(d).unwrap());
            let end = b.map(|d| Date::from_days(d).unwrap());
            match Range::new(start, end) {
                Ok(range) => prop_assert_eq!(range.to_string().parse::<Range<Date>>().unwrap(), range),
                Err(_) => prop_assert!(matches!((a, b), (Some(a), Some(b)) if a >= b)),
            }
        }
    }
}
