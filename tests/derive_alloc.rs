//! Encoding a derived row allocates nothing beyond the output buffer: no
//! intermediate message, no temporary strings. Measured with a counting
//! global allocator, so this file holds a single test (other tests running
//! on other threads would be counted too).

use std::alloc::System;

use bqwrite::BqRow;
use bqwrite::types::{
    BigNumeric, Date, DateTime, Geography, Interval, Json, Numeric, Range, Time, Timestamp,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(BqRow)]
struct Row<'a> {
    id: i64,
    name: &'a str,
    owned: String,
    score: Option<f64>,
    tags: Vec<String>,
    counts: Vec<i64>,
    day: Date,
    at: Timestamp,
    civil: DateTime,
    clock: Time,
    amount: Numeric,
    big: BigNumeric,
    doc: Json,
    value: serde_json::Value,
    place: Geography,
    span: Interval,
    period: Range<Date>,
    #[bq(type = "NUMERIC")]
    unsigned: u64,
    #[bq(type = "JSON")]
    raw_json: String,
    child: Child,
    children: Vec<Child>,
    maybe_child: Option<Child>,
    // Converted while encoding, without allocating either.
    instant: chrono::DateTime<chrono::Utc>,
    civil_day: chrono::NaiveDate,
    decimal: rust_decimal::Decimal,
    ip: std::net::IpAddr,
    took: std::time::Duration,
    status: Status,
    user: UserId,
}

#[derive(bqwrite::BqField)]
enum Status {
    Active,
}

#[derive(bqwrite::BqField)]
struct UserId(i64);

#[derive(BqRow)]
struct Child {
    key: String,
    values: Vec<f64>,
    grandchild: Option<Grandchild>,
}

#[derive(BqRow)]
struct Grandchild {
    note: String,
    when: Vec<Timestamp>,
}

fn child(n: i64) -> Child {
    Child {
        key: format!("child-{n}"),
        values: vec![n as f64, 0.5],
        grandchild: Some(Grandchild {
            note: "deep".into(),
            when: vec![Timestamp::from_micros(n).expect("valid timestamp")],
        }),
    }
}

#[test]
fn encoding_allocates_only_the_output_buffer() {
    let name = String::from("borrowed name");
    let rows: Vec<Row<'_>> = (0..100)
        .map(|n| Row {
            id: n,
            name: &name,
            owned: format!("row {n}"),
            score: (n % 2 == 0).then_some(n as f64 / 3.0),
            tags: vec!["a".into(), "bb".into()],
            counts: vec![n, -n, n * 1000],
            day: Date::from_days(n as i32).expect("valid date"),
            at: Timestamp::from_micros(n * 1_000_003).expect("valid timestamp"),
            civil: DateTime::new(2024, 1, 2, 3, 4, 5, n as u32).expect("valid datetime"),
            clock: Time::new(23, 59, 59, 999_999).expect("valid time"),
            amount: Numeric::from_scaled(-(n as i128) * 10_i128.pow(20)).expect("in range"),
            big: "-123.456789".parse().expect("valid BIGNUMERIC"),
            doc: Json::new(r#"{"a": [1, 2, {"b": null}]}"#).expect("valid JSON"),
            value: serde_json::json!({"key": "välue \"quoted\"", "n": n, "f": 1.5, "list": [true, null]}),
            place: Geography::new("POINT(1 2)").expect("valid WKT"),
            span: Interval::new(-120_000, 3_660_000, -316_224_000_000_000_000 + n)
                .expect("in range"),
            period: Range::new(Some(Date::from_days(0).expect("epoch")), None).expect("valid range"),
            unsigned: u64::MAX - n as u64,
            raw_json: "[1,2,3]".into(),
            child: child(n),
            children: (0..3).map(child).collect(),
            maybe_child: None,
            instant: chrono::DateTime::from_timestamp_micros(n * 1_000_003).expect("instant"),
            civil_day: chrono::NaiveDate::from_ymd_opt(2024, 2, 29).expect("date"),
            decimal: rust_decimal::Decimal::new(-n * 12_345_000, (n % 13) as u32),
            ip: std::net::IpAddr::from([n as u8, 0, 0, 1]),
            took: std::time::Duration::from_micros(n as u64 * 7),
            status: Status::Active,
            user: UserId(n),
        })
        .collect();
    // The descriptor is built on first use: build it before measuring.
    let _ = Row::descriptor();
    for row in &rows {
        row.validate().expect("exact values");
    }
    let total: usize = rows.iter().map(BqRow::encoded_len).sum();
    let mut buf = Vec::with_capacity(total);

    // The allocator counts every thread of the process, and the test
    // harness's own threads may allocate while we measure (seen once on a
    // loaded machine). An allocation in encoding happens on every pass, a
    // stray one from another thread does not: the fewest over a few passes
    // is encoding's own.
    let mut fewest = None;
    for _ in 0..5 {
        buf.clear();
        let region = Region::new(GLOBAL);
        let mut lengths = 0;
        for row in &rows {
            lengths += row.encoded_len();
            row.encode(&mut buf);
        }
        let _ = Row::descriptor();
        let stats = region.change();
        assert_eq!(buf.len(), total);
        assert_eq!(lengths, total);
        let count = stats.allocations + stats.reallocations;
        if fewest.is_none_or(|(n, _)| count < n) {
            fewest = Some((count, stats));
        }
    }
    let (count, stats) = fewest.expect("five passes");
    assert_eq!(
        count,
        0,
        "encoding {} rows allocated on every pass: {stats:?}",
        rows.len()
    );
}
