//! Columns of the types applications already have: chrono, time,
//! rust_decimal, std, newtypes and enums, encoded as their `bqwrite::types`
//! counterparts, and lossy values rejected by `validate` with their column.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use bqwrite::types::{self, ValueError};
use bqwrite::{BqField, BqRow};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;

#[derive(BqField, Debug, Clone, Copy, PartialEq)]
struct UserId(i64);

#[derive(BqField, Debug, Clone, Copy, PartialEq)]
#[bq(rename_all = "snake_case")]
enum Status {
    #[allow(dead_code)]
    Active,
    InReview,
    #[bq(rename = "gone")]
    Closed,
}

#[derive(BqRow, Debug, Clone)]
struct Chrono {
    at: DateTime<Utc>,
    at_offset: DateTime<FixedOffset>,
    civil: NaiveDateTime,
    day: NaiveDate,
    clock: NaiveTime,
    maybe_day: Option<NaiveDate>,
    days: Vec<NaiveDate>,
    #[bq(truncate)]
    rounded_down: DateTime<Utc>,
}

#[derive(BqRow, Debug, Clone)]
struct Time {
    at: time::OffsetDateTime,
    civil: time::PrimitiveDateTime,
    day: time::Date,
    clock: time::Time,
}

#[derive(BqRow, Debug, Clone)]
struct Money {
    amount: Decimal,
    #[bq(type = "BIGNUMERIC")]
    big: Decimal,
    #[bq(truncate)]
    cut: Decimal,
}

#[derive(BqRow, Debug, Clone)]
struct Std<'a> {
    ip: IpAddr,
    took: Duration,
    seen: SystemTime,
    names: &'a [String],
    strs: &'a [&'a str],
    user: UserId,
    users: Vec<UserId>,
    status: Status,
    maybe_status: Option<Status>,
    id: uuid::Uuid,
}

#[derive(BqRow, Debug, Clone)]
struct Outer {
    name: String,
    money: Option<Money>,
    history: Vec<Chrono>,
}

fn encoded<T: BqRow>(row: &T) -> Vec<u8> {
    row.validate().expect("valid row");
    row.encode_to_vec()
}

fn utc(secs: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, nanos).expect("valid instant")
}

fn chrono_row() -> Chrono {
    let at = utc(1_704_164_645, 6_000);
    Chrono {
        at,
        at_offset: at.with_timezone(&FixedOffset::east_opt(7200).expect("offset")),
        civil: at.naive_utc(),
        day: NaiveDate::from_ymd_opt(2024, 2, 29).expect("leap day"),
        clock: NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).expect("time"),
        maybe_day: None,
        days: vec![NaiveDate::from_ymd_opt(1, 1, 1).expect("min")],
        rounded_down: utc(-1, 999_999_999),
    }
}

#[test]
fn fallibility_is_a_const_of_the_row() {
    const { assert!(<Chrono as BqRow>::__BQ_FALLIBLE) };
    const { assert!(<Outer as BqRow>::__BQ_FALLIBLE) };
    // SystemTime and Duration can be out of range.
    const { assert!(<Std<'static> as BqRow>::__BQ_FALLIBLE) };
    #[derive(BqRow)]
    struct Plain {
        a: i64,
        user: UserId,
        status: Status,
        ip: IpAddr,
    }
    const { assert!(!<Plain as BqRow>::__BQ_FALLIBLE) };
}

#[test]
fn chrono_encodes_as_its_counterparts() {
    #[derive(BqRow)]
    struct Chrono2 {
        at: types::Timestamp,
        at_offset: types::Timestamp,
        civil: types::DateTime,
        day: types::Date,
        clock: types::Time,
        maybe_day: Option<types::Date>,
        days: Vec<types::Date>,
        rounded_down: types::Timestamp,
    }
    let row = chrono_row();
    let expected = Chrono2 {
        at: row.at.try_into().expect("exact"),
        at_offset: row.at_offset.try_into().expect("exact"),
        civil: row.civil.try_into().expect("exact"),
        day: row.day.try_into().expect("exact"),
        clock: row.clock.try_into().expect("exact"),
        maybe_day: None,
        days: vec![types::Date::MIN],
        // -0.000000001 s truncated toward zero is the epoch.
        rounded_down: types::Timestamp::UNIX_EPOCH,
    };
    assert_eq!(encoded(&row), expected.encode_to_vec());
    assert_eq!(Chrono::table_schema(), Chrono2::table_schema());
    assert_eq!(Chrono::descriptor().field, Chrono2::descriptor().field);
}

#[test]
fn lossy_values_are_rejected_with_their_column() {
    let mut row = chrono_row();
    row.at = utc(0, 1);
    let err = row.validate().expect_err("nanoseconds");
    assert_eq!(err.column, "at");
    assert!(matches!(err.error, ValueError::Inexact { .. }), "{err}");

    let mut outer = Outer {
        name: "x".into(),
        money: Some(Money {
            amount: Decimal::from_str("1.0123456789").expect("decimal"),
            big: Decimal::ONE,
            cut: Decimal::ONE,
        }),
        history: vec![chrono_row()],
    };
    let err = outer.validate().expect_err("ten fractional digits");
    assert_eq!(err.column, "money.amount");
    assert_eq!(
        err.to_string(),
        "column `money.amount`: NUMERIC value 1.0123456789 cannot be represented exactly: more than 9 digits after the decimal point; it would have to be rounded"
    );
    outer.money = None;
    outer.history[0].day = NaiveDate::from_ymd_opt(10_000, 1, 1).expect("far");
    let err = outer.validate().expect_err("year 10000");
    assert_eq!(err.column, "history.day");
    assert!(matches!(err.error, ValueError::OutOfRange { .. }), "{err}");
}

#[test]
#[should_panic(expected = "`BqRow::encode` was called on a row that `BqRow::validate` rejects")]
fn encoding_an_unvalidated_lossy_value_panics_rather_than_rounds() {
    let mut row = chrono_row();
    row.clock = NaiveTime::from_hms_nano_opt(1, 2, 3, 4).expect("time");
    let _ = row.encode_to_vec();
}

#[test]
fn decimals_and_truncation() {
    #[derive(BqRow)]
    struct Money2 {
        amount: types::Numeric,
        big: types::BigNumeric,
        cut: types::Numeric,
    }
    let row = Money {
        amount: Decimal::from_str("-12345678901234567890.123456789").expect("decimal"),
        big: Decimal::from_str("-0.0000000000000000000000000001").expect("decimal"),
        cut: Decimal::from_str("-1.9999999999").expect("decimal"),
    };
    let expected = Money2 {
        amount: "-12345678901234567890.123456789".parse().expect("numeric"),
        big: "-0.0000000000000000000000000001"
            .parse()
            .expect("bignumeric"),
        cut: "-1.999999999".parse().expect("numeric"),
    };
    assert_eq!(encoded(&row), expected.encode_to_vec());
    assert_eq!(Money::table_schema(), Money2::table_schema());
}

#[test]
fn time_crate_and_std() {
    use time::macros::{date, datetime, time};
    #[derive(BqRow)]
    struct Time2 {
        at: types::Timestamp,
        civil: types::DateTime,
        day: types::Date,
        clock: types::Time,
    }
    let row = Time {
        at: datetime!(9999-12-31 23:59:59.999999 UTC),
        civil: datetime!(0001-01-01 00:00:00),
        day: date!(2024 - 02 - 29),
        clock: time!(23:59:59.999999),
    };
    let expected = Time2 {
        at: types::Timestamp::MAX,
        civil: types::DateTime::MIN,
        day: types::Date::from_ymd(2024, 2, 29).expect("date"),
        clock: types::Time::MAX,
    };
    assert_eq!(encoded(&row), expected.encode_to_vec());

    #[derive(BqRow)]
    struct Std2<'a> {
        ip: &'a str,
        took: types::Interval,
        seen: types::Timestamp,
        names: Vec<String>,
        strs: Vec<&'a str>,
        user: i64,
        users: Vec<i64>,
        status: &'a str,
        maybe_status: Option<&'a str>,
        id: uuid::Uuid,
    }
    let names = vec!["a".to_owned(), "b".to_owned()];
    let row = Std {
        ip: "2001:db8::1".parse().expect("ip"),
        took: Duration::from_micros(90_061_000_001),
        seen: SystemTime::UNIX_EPOCH - Duration::from_micros(5),
        names: &names,
        strs: &["x", "y"],
        user: UserId(7),
        users: vec![UserId(1), UserId(-2)],
        status: Status::InReview,
        maybe_status: Some(Status::Closed),
        id: uuid::Uuid::nil(),
    };
    let expected = Std2 {
        ip: "2001:db8::1",
        took: types::Interval::new(0, 0, 90_061_000_001).expect("interval"),
        seen: types::Timestamp::from_micros(-5).expect("timestamp"),
        names: names.clone(),
        strs: vec!["x", "y"],
        user: 7,
        users: vec![1, -2],
        status: "in_review",
        maybe_status: Some("gone"),
        id: uuid::Uuid::nil(),
    };
    assert_eq!(encoded(&row), expected.encode_to_vec());
    assert_eq!(Std::table_schema(), Std2::table_schema());
    assert_eq!(Std::descriptor().field, Std2::descriptor().field);
}

/// A type from a crate bqwrite does not know, written through `with`.
mod other_crate {
    #[derive(Debug, Clone)]
    pub struct Cents(pub u64);
}

/// `#[bq(with = "cents")]`: `to_bq(&Cents) -> Numeric`.
mod cents {
    use bqwrite::types::Numeric;

    pub fn to_bq(value: &super::other_crate::Cents) -> Numeric {
        Numeric::new(i128::from(value.0), 2).expect("every u64 of cents is a NUMERIC")
    }
}

/// `with` to a type whose values can be rejected.
mod nanos {
    pub fn to_bq(value: &i128) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_nanos(*value as i64)
    }
}

#[test]
fn with_writes_what_to_bq_returns() {
    use other_crate::Cents;
    #[derive(BqRow)]
    struct Invoice {
        #[bq(with = "cents")]
        total: Cents,
        #[bq(with = "cents")]
        discount: Option<Cents>,
        #[bq(with = "cents")]
        lines: Vec<Cents>,
        #[bq(with = "nanos")]
        at: i128,
    }
    #[derive(BqRow)]
    struct Invoice2 {
        total: types::Numeric,
        discount: Option<types::Numeric>,
        lines: Vec<types::Numeric>,
        at: types::Timestamp,
    }
    let row = Invoice {
        total: Cents(1999),
        discount: None,
        lines: vec![Cents(1), Cents(u64::MAX)],
        at: 1_000,
    };
    let expected = Invoice2 {
        total: "19.99".parse().expect("numeric"),
        discount: None,
        lines: vec![
            "0.01".parse().expect("numeric"),
            "184467440737095516.15".parse().expect("numeric"),
        ],
        at: types::Timestamp::from_micros(1).expect("timestamp"),
    };
    assert_eq!(encoded(&row), expected.encode_to_vec());
    assert_eq!(Invoice::table_schema(), Invoice2::table_schema());
    assert_eq!(Invoice::descriptor().field, Invoice2::descriptor().field);
    const { assert!(<Invoice as BqRow>::__BQ_FALLIBLE) };
    let lossy = Invoice { at: 1, ..row };
    assert_eq!(lossy.validate().expect_err("a nanosecond").column, "at");
}

#[test]
fn a_type_override_may_restate_the_column_type() {
    #[derive(BqRow)]
    struct Stated {
        #[bq(type = "TIMESTAMP")]
        at: DateTime<Utc>,
        #[bq(type = "DATE")]
        day: Option<NaiveDate>,
        #[bq(type = "NUMERIC")]
        amount: Vec<Decimal>,
        #[bq(type = "STRING")]
        status: Status,
    }
    #[derive(BqRow)]
    struct Plain {
        at: DateTime<Utc>,
        day: Option<NaiveDate>,
        amount: Vec<Decimal>,
        status: Status,
    }
    let at = utc(1, 2_000);
    let stated = Stated {
        at,
        day: None,
        amount: vec![Decimal::ONE],
        status: Status::Active,
    };
    let plain = Plain {
        at,
        day: None,
        amount: vec![Decimal::ONE],
        status: Status::Active,
    };
    assert_eq!(encoded(&stated), encoded(&plain));
    assert_eq!(Stated::table_schema(), Plain::table_schema());
}

#[test]
fn ranges_of_foreign_types() {
    use bqwrite::types::Range;
    #[derive(BqRow)]
    struct Periods {
        days: Range<NaiveDate>,
        instants: Option<Range<DateTime<Utc>>>,
        civil: Vec<Range<time::PrimitiveDateTime>>,
    }
    #[derive(BqRow)]
    struct Periods2 {
        days: Range<types::Date>,
        instants: Option<Range<types::Timestamp>>,
        civil: Vec<Range<types::DateTime>>,
    }
    let leap = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
    let row = Periods {
        days: Range::new(Some(leap), None).expect("range"),
        instants: Some(Range::new(None, Some(utc(5, 6_000))).expect("range")),
        civil: vec![
            Range::new(
                Some(time::macros::datetime!(2024-01-01 0:00)),
                Some(time::macros::datetime!(2024-12-31 23:59:59.999999)),
            )
            .expect("range"),
        ],
    };
    let expected = Periods2 {
        days: Range::new(Some(leap.try_into().expect("date")), None).expect("range"),
        instants: Some(
            Range::new(None, Some(utc(5, 6_000).try_into().expect("ts"))).expect("range"),
        ),
        civil: vec![
            Range::new(
                Some(types::DateTime::new(2024, 1, 1, 0, 0, 0, 0).expect("dt")),
                Some(types::DateTime::new(2024, 12, 31, 23, 59, 59, 999_999).expect("dt")),
            )
            .expect("range"),
        ],
    };
    assert_eq!(encoded(&row), expected.encode_to_vec());
    assert_eq!(Periods::table_schema(), Periods2::table_schema());
    assert_eq!(Periods::descriptor().field, Periods2::descriptor().field);
    const { assert!(<Periods as BqRow>::__BQ_FALLIBLE) };
    let far = NaiveDate::from_ymd_opt(10_000, 1, 1).expect("date");
    let lossy = Periods {
        days: Range::new(None, Some(far)).expect("range"),
        ..row
    };
    let err = lossy.validate().expect_err("year 10000");
    assert_eq!(err.column, "days");
}
