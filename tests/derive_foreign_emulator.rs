//! The types applications already use, through the writer into the
//! emulator and back in tabledata.list's form: a table written from
//! chrono, time, rust_decimal, std, newtype and enum values holds exactly
//! what a table written from the `bqwrite::types` counterparts holds, edge
//! values included; and a value BigQuery cannot hold exactly stops `append`
//! at its row, with every row before it written.

mod support;

use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use bqwrite::types::{self, BigNumeric, Interval, Numeric, Range, Timestamp};
use bqwrite::{BqField, BqRow, ErrorKind, Writer};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use support::{Env, bounded};

#[derive(BqField, Debug, Clone, Copy)]
struct UserId(i64);

#[derive(BqField, Debug, Clone, Copy)]
#[bq(rename_all = "SCREAMING_SNAKE_CASE")]
enum Status {
    Active,
    OnHold,
}

#[derive(BqRow, Debug, Clone)]
struct Foreign {
    at: DateTime<Utc>,
    at_offset: DateTime<FixedOffset>,
    civil: NaiveDateTime,
    day: NaiveDate,
    clock: NaiveTime,
    t_at: time::OffsetDateTime,
    t_civil: time::PrimitiveDateTime,
    t_day: time::Date,
    t_clock: time::Time,
    amount: Decimal,
    #[bq(type = "BIGNUMERIC")]
    big: Decimal,
    ip: IpAddr,
    took: Duration,
    seen: SystemTime,
    id: uuid::Uuid,
    doc: serde_json::Value,
    user: UserId,
    status: Status,
    maybe_day: Option<NaiveDate>,
    days: Vec<NaiveDate>,
    amounts: Vec<Decimal>,
    statuses: Vec<Status>,
    period: Range<types::Date>,
    periods: Vec<Range<DateTime<Utc>>>,
    nested: Option<Leg>,
    legs: Vec<Leg>,
}

#[derive(BqRow, Debug, Clone)]
struct Leg {
    from: DateTime<Utc>,
    price: Option<Decimal>,
}

/// The same columns written from `bqwrite::types` (and plain values).
#[derive(BqRow, Debug, Clone)]
struct Counterpart {
    at: Timestamp,
    at_offset: Timestamp,
    civil: types::DateTime,
    day: types::Date,
    clock: types::Time,
    t_at: Timestamp,
    t_civil: types::DateTime,
    t_day: types::Date,
    t_clock: types::Time,
    amount: Numeric,
    big: BigNumeric,
    ip: String,
    took: Interval,
    seen: Timestamp,
    id: String,
    doc: types::Json,
    user: i64,
    status: String,
    maybe_day: Option<types::Date>,
    days: Vec<types::Date>,
    amounts: Vec<Numeric>,
    statuses: Vec<String>,
    period: Range<types::Date>,
    periods: Vec<Range<Timestamp>>,
    nested: Option<LegCounterpart>,
    legs: Vec<LegCounterpart>,
}

#[derive(BqRow, Debug, Clone)]
struct LegCounterpart {
    from: Timestamp,
    price: Option<Numeric>,
}

fn exact<A, B: TryFrom<A>>(value: A) -> B
where
    B::Error: std::fmt::Debug,
{
    B::try_from(value).expect("exact")
}

fn counterpart(row: &Foreign) -> Counterpart {
    let leg = |leg: &Leg| LegCounterpart {
        from: exact(leg.from),
        price: leg.price.map(exact),
    };
    Counterpart {
        at: exact(row.at),
        at_offset: exact(row.at_offset),
        civil: exact(row.civil),
        day: exact(row.day),
        clock: exact(row.clock),
        t_at: exact(row.t_at),
        t_civil: exact(row.t_civil),
        t_day: exact(row.t_day),
        t_clock: exact(row.t_clock),
        amount: exact(row.amount),
        big: BigNumeric::from(row.big),
        ip: row.ip.to_string(),
        took: exact(row.took),
        seen: exact(row.seen),
        id: row.id.hyphenated().to_string(),
        doc: types::Json::new(row.doc.to_string()).expect("JSON"),
        user: row.user.0,
        status: match row.status {
            Status::Active => "ACTIVE",
            Status::OnHold => "ON_HOLD",
        }
        .to_owned(),
        maybe_day: row.maybe_day.map(exact),
        days: row.days.iter().copied().map(exact).collect(),
        amounts: row.amounts.iter().copied().map(exact).collect(),
        statuses: row
            .statuses
            .iter()
            .map(|s| match s {
                Status::Active => "ACTIVE".to_owned(),
                Status::OnHold => "ON_HOLD".to_owned(),
            })
            .collect(),
        period: row.period,
        periods: row
            .periods
            .iter()
            .map(|r| Range::new(r.start().map(exact), r.end().map(exact)).expect("range"))
            .collect(),
        nested: row.nested.as_ref().map(leg),
        legs: row.legs.iter().map(leg).collect(),
    }
}

fn utc(secs: i64, micros: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, micros * 1000).expect("instant")
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal")
}

/// Edge values: the first and last instants BigQuery holds, leap days,
/// end-of-day times, negative decimals, empty and NULL columns.
fn rows() -> Vec<Foreign> {
    let min = utc(-62_135_596_800, 0);
    let max = utc(253_402_300_799, 999_999);
    let leap = NaiveDate::from_ymd_opt(2024, 2, 29).expect("leap day");
    let end_of_day = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).expect("time");
    let t_max = time::OffsetDateTime::from_unix_timestamp_nanos(253_402_300_799_999_999_000)
        .expect("time instant");
    (0..4)
        .map(|n| {
            let at = [min, max, utc(0, 0), utc(-1, 1)][n];
            Foreign {
                at,
                at_offset: at
                    .with_timezone(&FixedOffset::west_opt(3600 * (n as i32)).expect("offset")),
                civil: [min, max, utc(951_782_400, 5), at][n].naive_utc(),
                day: [
                    leap,
                    NaiveDate::MIN.max(min.date_naive()),
                    max.date_naive(),
                    leap,
                ][n],
                clock: [end_of_day, NaiveTime::MIN, end_of_day, NaiveTime::MIN][n],
                t_at: [time::OffsetDateTime::UNIX_EPOCH, t_max][n % 2],
                t_civil: time::macros::datetime!(2000-02-29 23:59:59.999999),
                t_day: time::macros::date!(9999 - 12 - 31),
                t_clock: time::macros::time!(23:59:59.999999),
                amount: [
                    dec("-9999999999999999999.999999999"),
                    dec("79228162514264337593.543950335"),
                    dec("-0.000000001"),
                    Decimal::ZERO,
                ][n],
                big: [
                    Decimal::MIN,
                    Decimal::MAX,
                    dec("-0.0000000000000000000000000001"),
                    Decimal::ONE,
                ][n],
                ip: [
                    "127.0.0.1",
                    "::1",
                    "2001:db8::ff00:42:8329",
                    "255.255.255.255",
                ][n]
                    .parse()
                    .expect("ip"),
                took: [
                    Duration::ZERO,
                    Duration::from_micros(90_061_000_001),
                    Duration::from_secs(87_840_000 * 3600),
                    Duration::from_micros(1),
                ][n],
                seen: SystemTime::UNIX_EPOCH - Duration::from_micros(n as u64 * 1_000_001),
                id: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef * n as u128),
                doc: serde_json::json!({"n": n, "list": [true, null, "ü"]}),
                user: UserId([i64::MIN, i64::MAX, 0, -1][n]),
                status: [Status::Active, Status::OnHold][n % 2],
                maybe_day: (n % 2 == 0).then_some(leap),
                days: vec![leap; n],
                amounts: vec![dec("-1.5"); n],
                statuses: vec![Status::OnHold; n],
                period: Range::new(Some(exact(leap)), None).expect("range"),
                periods: (0..n)
                    .map(|i| Range::new(Some(min), Some(utc(i as i64, 1))).expect("range"))
                    .collect(),
                nested: (n != 1).then(|| Leg {
                    from: max,
                    price: Some(dec("-0.5")),
                }),
                legs: (0..n)
                    .map(|i| Leg {
                        from: utc(i as i64, 1),
                        price: None,
                    })
                    .collect(),
            }
        })
        .collect()
}

async fn write<T: BqRow + Clone + Send + Sync + 'static>(env: &Env, name: &str, rows: Vec<T>) {
    let table = env.table_for::<T>(name);
    let mut writer = Writer::<T>::pending(&table).await.expect("stream");
    writer.append(rows).await.expect("rows accepted");
    writer
        .finalize()
        .await
        .expect("finalized")
        .commit()
        .await
        .expect("committed");
}

#[tokio::test]
async fn foreign_values_land_as_their_counterparts_do() {
    bounded(60, async {
        let env = Env::start().await;
        let rows = rows();
        let counterparts: Vec<Counterpart> = rows.iter().map(counterpart).collect();
        let schema = Foreign::table_schema();
        let mut expected = Counterpart::table_schema();
        // `doc` is JSON either way; the counterpart of the enum and the
        // newtype are STRING and INT64.
        assert_eq!(schema.fields.len(), expected.fields.len());
        expected.fields.retain(|f| schema.field(&f.name) == Some(f));
        assert_eq!(expected.fields.len(), schema.fields.len());
        write(&env, "foreign", rows).await;
        write(&env, "counterpart", counterparts).await;
        let foreign = env.cells("foreign");
        assert_eq!(foreign.len(), 4);
        assert_eq!(foreign, env.cells("counterpart"));
        // A few values spelled out, as the emulator decoded them.
        let stored = env.emulator.rows(&Env::path("foreign")).expect("rows");
        let column = |row: usize, name: &str| {
            stored[row]
                .columns()
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .expect("a column")
        };
        use bqwrite_emulator::Value;
        assert_eq!(column(0, "at"), Value::Timestamp(-62_135_596_800_000_000));
        assert_eq!(column(1, "at"), Value::Timestamp(253_402_300_799_999_999));
        assert_eq!(column(1, "t_at"), Value::Timestamp(253_402_300_799_999_999));
        assert_eq!(column(0, "day"), Value::Date("2024-02-29".into()));
        assert_eq!(column(0, "clock"), Value::Time("23:59:59.999999".into()));
        assert_eq!(
            column(0, "amount"),
            Value::Numeric("-9999999999999999999.999999999".into())
        );
        assert_eq!(column(2, "amount"), Value::Numeric("-0.000000001".into()));
        assert_eq!(
            column(0, "big"),
            Value::BigNumeric("-79228162514264337593543950335".into())
        );
        assert_eq!(
            column(1, "took"),
            Value::Interval("0-0 0 25:1:1.000001".into())
        );
        assert_eq!(column(1, "status"), Value::String("ON_HOLD".into()));
        assert_eq!(
            column(2, "ip"),
            Value::String("2001:db8::ff00:42:8329".into())
        );
    })
    .await;
}

/// Puts one lossy value into a row.
type Breaks = Box<dyn Fn(&mut Foreign)>;

#[tokio::test]
async fn a_lossy_value_stops_append_at_its_row() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Foreign>("lossy");
        let cases: Vec<(Breaks, &str, &str)> = vec![
            (
                Box::new(|r| r.at = DateTime::from_timestamp(0, 1).expect("ns")),
                "at",
                "1970-01-01T00:00:00.000000001+00:00",
            ),
            (
                Box::new(|r| r.amount = dec("1.0123456789")),
                "amount",
                "1.0123456789",
            ),
            (
                Box::new(|r| r.day = NaiveDate::from_ymd_opt(10_000, 1, 1).expect("far")),
                "day",
                "10000-01-01",
            ),
            (
                Box::new(|r| r.legs[0].from = DateTime::from_timestamp(0, 999).expect("ns")),
                "legs.from",
                "1970-01-01T00:00:00.000000999+00:00",
            ),
            (
                Box::new(|r| r.took = Duration::from_nanos(1)),
                "took",
                "1ns",
            ),
            (
                Box::new(|r| r.t_clock = time::macros::time!(12:00:00.000000001)),
                "t_clock",
                "12:00:00.000000001",
            ),
        ];
        let cases_len = cases.len();
        for (break_row, column, value) in cases {
            let mut rows = rows();
            break_row(&mut rows[3]);
            let mut writer = Writer::<Foreign>::pending(&table).await.expect("stream");
            let err = writer.append(rows).await.expect_err("a lossy value");
            assert_eq!(err.kind(), ErrorKind::InvalidValue, "{err}");
            let row_errors = err.row_errors();
            assert_eq!(row_errors.len(), 1, "{err}");
            assert_eq!(row_errors[0].index, 3, "{err}");
            assert_eq!(row_errors[0].column.as_deref(), Some(column), "{err}");
            assert!(row_errors[0].message.contains(value), "{err}");
            // The rows before it were written: committing keeps them.
            writer
                .finalize()
                .await
                .expect("finalized")
                .commit()
                .await
                .expect("committed");
        }
        assert_eq!(env.cells("lossy").len(), 3 * cases_len);
    })
    .await;
}
