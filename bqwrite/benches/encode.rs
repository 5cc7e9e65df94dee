//! Encoding a row: `#[derive(BqRow)]` against prost encoding the equivalent
//! hand-written `#[derive(prost::Message)]` struct, in the same run.
//!
//! Two rows: 5 scalar columns, and 30 columns with nested and repeated
//! STRUCTs. Each is measured writing into a reused buffer (`encode` vs
//! prost's `encode_raw`, neither pre-computing the top-level length) and
//! into a new exact-size `Vec` (`encode_to_vec` on both sides).
//!
//! A third row holds chrono and rust_decimal values, converted while they
//! are encoded, against prost with the same values converted beforehand
//! (with `--features chrono,rust_decimal`).
//!
//! `cargo bench -p bqwrite --bench encode --features chrono,rust_decimal` (a
//! few seconds per case; add `-- --measurement-time 1` for a quicker run).

use std::hint::black_box;
use std::time::Duration;

use bqwrite::BqRow;
use bqwrite::types::{Date, Numeric, Timestamp};
use criterion::{Criterion, criterion_group, criterion_main};
use prost::Message;

// --- 5 columns -------------------------------------------------------------

#[derive(BqRow)]
struct Small {
    id: i64,
    name: String,
    score: f64,
    active: bool,
    created: Timestamp,
}

#[derive(Clone, PartialEq, Message)]
struct SmallProst {
    #[prost(int64, required, tag = "1")]
    id: i64,
    #[prost(string, required, tag = "2")]
    name: String,
    #[prost(double, required, tag = "3")]
    score: f64,
    #[prost(bool, required, tag = "4")]
    active: bool,
    #[prost(int64, required, tag = "5")]
    created: i64,
}

fn small() -> (Small, SmallProst) {
    let created = Timestamp::from_micros(1_704_164_645_000_006).expect("valid timestamp");
    let row = Small {
        id: 1_234_567,
        name: "Ada Lovelace".into(),
        score: 98.25,
        active: true,
        created,
    };
    let prost = SmallProst {
        id: row.id,
        name: row.name.clone(),
        score: row.score,
        active: row.active,
        created: created.micros(),
    };
    (row, prost)
}

// --- 30 columns, nested and repeated ----------------------------------------

#[derive(BqRow, Clone)]
struct Address {
    street: String,
    city: String,
    zip: Option<String>,
    lat: f64,
    lon: f64,
}

#[derive(BqRow, Clone)]
struct Item {
    sku: String,
    quantity: i64,
    price: Numeric,
    tags: Vec<String>,
}

#[derive(BqRow)]
struct Wide {
    c01: i64,
    c02: i64,
    c03: i32,
    c04: f64,
    c05: f64,
    c06: bool,
    c07: String,
    c08: String,
    c09: String,
    c10: Option<i64>,
    c11: Option<String>,
    c12: Option<f64>,
    c13: Timestamp,
    c14: Date,
    c15: Numeric,
    c16: Vec<i64>,
    c17: Vec<String>,
    c18: Vec<f64>,
    c19: Address,
    c20: Vec<Address>,
    c21: Option<Address>,
    c22: bool,
    c23: i64,
    c24: String,
    c25: Option<bool>,
    c26: bytes::Bytes,
    c27: Vec<Item>,
    c28: f32,
    c29: Option<i64>,
    c30: String,
}

#[derive(Clone, PartialEq, Message)]
struct AddressProst {
    #[prost(string, required, tag = "1")]
    street: String,
    #[prost(string, required, tag = "2")]
    city: String,
    #[prost(string, optional, tag = "3")]
    zip: Option<String>,
    #[prost(double, required, tag = "4")]
    lat: f64,
    #[prost(double, required, tag = "5")]
    lon: f64,
}

#[derive(Clone, PartialEq, Message)]
struct ItemProst {
    #[prost(string, required, tag = "1")]
    sku: String,
    #[prost(int64, required, tag = "2")]
    quantity: i64,
    /// NUMERIC, already in its wire form.
    #[prost(bytes = "vec", required, tag = "3")]
    price: Vec<u8>,
    #[prost(string, repeated, tag = "4")]
    tags: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct WideProst {
    #[prost(int64, required, tag = "1")]
    c01: i64,
    #[prost(int64, required, tag = "2")]
    c02: i64,
    #[prost(int64, required, tag = "3")]
    c03: i64,
    #[prost(double, required, tag = "4")]
    c04: f64,
    #[prost(double, required, tag = "5")]
    c05: f64,
    #[prost(bool, required, tag = "6")]
    c06: bool,
    #[prost(string, required, tag = "7")]
    c07: String,
    #[prost(string, required, tag = "8")]
    c08: String,
    #[prost(string, required, tag = "9")]
    c09: String,
    #[prost(int64, optional, tag = "10")]
    c10: Option<i64>,
    #[prost(string, optional, tag = "11")]
    c11: Option<String>,
    #[prost(double, optional, tag = "12")]
    c12: Option<f64>,
    #[prost(int64, required, tag = "13")]
    c13: i64,
    #[prost(int32, required, tag = "14")]
    c14: i32,
    #[prost(bytes = "vec", required, tag = "15")]
    c15: Vec<u8>,
    #[prost(int64, repeated, packed = "true", tag = "16")]
    c16: Vec<i64>,
    #[prost(string, repeated, tag = "17")]
    c17: Vec<String>,
    #[prost(double, repeated, packed = "true", tag = "18")]
    c18: Vec<f64>,
    #[prost(message, required, tag = "19")]
    c19: AddressProst,
    #[prost(message, repeated, tag = "20")]
    c20: Vec<AddressProst>,
    #[prost(message, optional, tag = "21")]
    c21: Option<AddressProst>,
    #[prost(bool, required, tag = "22")]
    c22: bool,
    #[prost(int64, required, tag = "23")]
    c23: i64,
    #[prost(string, required, tag = "24")]
    c24: String,
    #[prost(bool, optional, tag = "25")]
    c25: Option<bool>,
    #[prost(bytes = "bytes", required, tag = "26")]
    c26: bytes::Bytes,
    #[prost(message, repeated, tag = "27")]
    c27: Vec<ItemProst>,
    #[prost(float, required, tag = "28")]
    c28: f32,
    #[prost(int64, optional, tag = "29")]
    c29: Option<i64>,
    #[prost(string, required, tag = "30")]
    c30: String,
}

fn address(n: usize) -> Address {
    Address {
        street: format!("{n} Main Street"),
        city: "Springfield".into(),
        zip: n.is_multiple_of(2).then(|| format!("{:05}", 10_000 + n)),
        lat: 40.0 + n as f64 / 100.0,
        lon: -73.0 - n as f64 / 100.0,
    }
}

fn address_prost(a: &Address) -> AddressProst {
    AddressProst {
        street: a.street.clone(),
        city: a.city.clone(),
        zip: a.zip.clone(),
        lat: a.lat,
        lon: a.lon,
    }
}

fn wide() -> (Wide, WideProst) {
    let items: Vec<Item> = (0..3)
        .map(|n| Item {
            sku: format!("SKU-{n:04}"),
            quantity: n as i64 + 1,
            price: Numeric::from_scaled(19_990_000_000 * (n as i128 + 1)).expect("in range"),
            tags: vec!["sale".into(), format!("tag{n}")],
        })
        .collect();
    let row = Wide {
        c01: 1,
        c02: -42_000_000_000,
        c03: 7,
        c04: 3.5,
        c05: -0.001,
        c06: true,
        c07: "alpha".into(),
        c08: "a somewhat longer string value for a column".into(),
        c09: String::new(),
        c10: Some(99),
        c11: None,
        c12: Some(2.75),
        c13: Timestamp::from_micros(1_704_164_645_000_006).expect("valid timestamp"),
        c14: Date::from_ymd(2024, 1, 2).expect("valid date"),
        c15: Numeric::from_scaled(123_456_789_000).expect("in range"),
        c16: (0..8).map(|n| n * 1_000).collect(),
        c17: vec!["red".into(), "green".into(), "blue".into()],
        c18: vec![0.5, 1.5, 2.5, 3.5],
        c19: address(1),
        c20: (2..5).map(address).collect(),
        c21: Some(address(5)),
        c22: false,
        c23: 1 << 40,
        c24: "omega".into(),
        c25: Some(true),
        c26: bytes::Bytes::from_static(b"\x00\x01\x02\x03binary"),
        c27: items,
        c28: 1.25,
        c29: None,
        c30: "end".into(),
    };
    let prost = WideProst {
        c01: row.c01,
        c02: row.c02,
        c03: i64::from(row.c03),
        c04: row.c04,
        c05: row.c05,
        c06: row.c06,
        c07: row.c07.clone(),
        c08: row.c08.clone(),
        c09: row.c09.clone(),
        c10: row.c10,
        c11: row.c11.clone(),
        c12: row.c12,
        c13: row.c13.micros(),
        c14: row.c14.days(),
        c15: row.c15.to_le_bytes().to_vec(),
        c16: row.c16.clone(),
        c17: row.c17.clone(),
        c18: row.c18.clone(),
        c19: address_prost(&row.c19),
        c20: row.c20.iter().map(address_prost).collect(),
        c21: row.c21.as_ref().map(address_prost),
        c22: row.c22,
        c23: row.c23,
        c24: row.c24.clone(),
        c25: row.c25,
        c26: row.c26.clone(),
        c27: row
            .c27
            .iter()
            .map(|item| ItemProst {
                sku: item.sku.clone(),
                quantity: item.quantity,
                price: item.price.to_le_bytes().to_vec(),
                tags: item.tags.clone(),
            })
            .collect(),
        c28: row.c28,
        c29: row.c29,
        c30: row.c30.clone(),
    };
    (row, prost)
}

// --- chrono and rust_decimal columns ---------------------------------------

/// A row of the types applications hold (converted while encoding) against
/// prost with the same values converted beforehand. Needs the `chrono` and
/// `rust_decimal` features.
#[cfg(all(feature = "chrono", feature = "rust_decimal"))]
mod foreign {
    use bqwrite::BqRow;
    use bqwrite::types::{Date, DateTime, Numeric, Timestamp};
    use chrono::{NaiveDate, NaiveDateTime, Utc};
    use rust_decimal::Decimal;

    #[derive(BqRow)]
    pub struct Payment {
        id: i64,
        at: chrono::DateTime<Utc>,
        day: NaiveDate,
        booked: NaiveDateTime,
        amount: Decimal,
        fee: Option<Decimal>,
        settled: Option<chrono::DateTime<Utc>>,
        due: Vec<NaiveDate>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PaymentProst {
        #[prost(int64, required, tag = "1")]
        id: i64,
        #[prost(int64, required, tag = "2")]
        at: i64,
        #[prost(int32, required, tag = "3")]
        day: i32,
        #[prost(int64, required, tag = "4")]
        booked: i64,
        #[prost(bytes = "vec", required, tag = "5")]
        amount: Vec<u8>,
        #[prost(bytes = "vec", optional, tag = "6")]
        fee: Option<Vec<u8>>,
        #[prost(int64, optional, tag = "7")]
        settled: Option<i64>,
        #[prost(int32, repeated, packed = "true", tag = "8")]
        due: Vec<i32>,
    }

    fn numeric(d: Decimal) -> Vec<u8> {
        Numeric::try_from(d)
            .expect("exact")
            .to_le_bytes()
            .as_ref()
            .to_vec()
    }

    pub fn payment() -> (Payment, PaymentProst) {
        let at = chrono::DateTime::from_timestamp(1_704_164_645, 6_000).expect("instant");
        let day = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
        let row = Payment {
            id: 42,
            at,
            day,
            booked: at.naive_utc(),
            amount: "-1234.56".parse().expect("decimal"),
            fee: Some("0.35".parse().expect("decimal")),
            settled: Some(at),
            due: vec![day, day.succ_opt().expect("date")],
        };
        let ts = |t: chrono::DateTime<Utc>| Timestamp::try_from(t).expect("exact").micros();
        let date = |d: NaiveDate| Date::try_from(d).expect("exact").days();
        let prost = PaymentProst {
            id: row.id,
            at: ts(row.at),
            day: date(row.day),
            booked: DateTime::try_from(row.booked).expect("exact").packed(),
            amount: numeric(row.amount),
            fee: row.fee.map(numeric),
            settled: row.settled.map(ts),
            due: row.due.iter().copied().map(date).collect(),
        };
        (row, prost)
    }
}

// --- benchmarks -------------------------------------------------------------

fn compare<R: BqRow, P: Message>(c: &mut Criterion, name: &str, row: &R, prost: &P) {
    // Same bytes on both sides, or the comparison means nothing.
    assert_eq!(
        row.encode_to_vec(),
        prost.encode_to_vec(),
        "{name}: same wire bytes"
    );

    let mut group = c.benchmark_group(name);
    let mut buf = Vec::with_capacity(4096);
    group.bench_function("derive/encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(row).encode(&mut buf);
            black_box(buf.len())
        })
    });
    group.bench_function("prost/encode_raw", |b| {
        b.iter(|| {
            buf.clear();
            black_box(prost).encode_raw(&mut buf);
            black_box(buf.len())
        })
    });
    group.bench_function("derive/encoded_len", |b| {
        b.iter(|| black_box(row).encoded_len())
    });
    group.bench_function("prost/encoded_len", |b| {
        b.iter(|| black_box(prost).encoded_len())
    });
    group.bench_function("derive/encode_to_vec", |b| {
        b.iter(|| black_box(row).encode_to_vec())
    });
    group.bench_function("prost/encode_to_vec", |b| {
        b.iter(|| black_box(prost).encode_to_vec())
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let (row, prost) = small();
    compare(c, "row_5_columns", &row, &prost);
    let (row, prost) = wide();
    compare(c, "row_30_columns_nested", &row, &prost);
    #[cfg(all(feature = "chrono", feature = "rust_decimal"))]
    {
        let (row, prost) = foreign::payment();
        compare(c, "row_8_columns_chrono_decimal", &row, &prost);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = encode
}
criterion_main!(benches);
