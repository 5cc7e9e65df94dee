//! proptest strategies: values of every bqwrite type, and rows made of them.

use bqwrite::types::{
    BigNumeric, Date, DateTime, Geography, I256, Interval, Json, Numeric, Range, Time, Timestamp,
};
use proptest::prelude::*;

use super::rows::{Deeper, Everything, Inner, Outer};

pub fn date() -> impl Strategy<Value = Date> {
    (-719_162..=2_932_896i32).prop_map(|days| Date::from_days(days).expect("in range"))
}

pub fn timestamp() -> impl Strategy<Value = Timestamp> {
    (Timestamp::MIN.micros()..=Timestamp::MAX.micros())
        .prop_map(|micros| Timestamp::from_micros(micros).expect("in range"))
}

pub fn time() -> impl Strategy<Value = Time> {
    (0..24u32, 0..60u32, 0..60u32, 0..1_000_000u32)
        .prop_map(|(h, m, s, us)| Time::new(h, m, s, us).expect("valid time"))
}

pub fn datetime() -> impl Strategy<Value = DateTime> {
    (date(), time()).prop_map(|(date, time)| DateTime::from_parts(date, time))
}

pub fn numeric() -> impl Strategy<Value = Numeric> {
    let max = 10i128.pow(38) - 1;
    prop_oneof![
        (-max..=max),
        (-1_000_000_000_000i128..=1_000_000_000_000),
        Just(max),
        Just(-max),
    ]
    .prop_map(|scaled| Numeric::from_scaled(scaled).expect("in range"))
}

pub fn bignumeric() -> impl Strategy<Value = BigNumeric> {
    prop_oneof![
        (any::<i128>(), any::<i128>()).prop_map(|(hi, lo)| I256::from_words(hi, lo)),
        any::<i64>().prop_map(I256::from),
        Just(I256::MAX),
        Just(I256::MIN),
    ]
    .prop_map(BigNumeric::from_scaled)
}

pub fn json() -> impl Strategy<Value = Json> {
    json_value().prop_map(|value| Json::new(value.to_string()).expect("valid JSON"))
}

pub fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

pub fn geography() -> impl Strategy<Value = Geography> {
    (-180.0..180.0f64, -90.0..90.0f64)
        .prop_map(|(x, y)| Geography::new(format!("POINT({x} {y})")).expect("valid WKT"))
}

pub fn interval() -> impl Strategy<Value = Interval> {
    (
        -120_000..=120_000i32,
        -3_660_000..=3_660_000i32,
        -316_224_000_000_000_000..=316_224_000_000_000_000i64,
    )
        .prop_map(|(months, days, micros)| Interval::new(months, days, micros).expect("in range"))
}

pub fn range<T, S>(element: fn() -> S) -> impl Strategy<Value = Range<T>>
where
    T: bqwrite::types::RangeElement,
    S: Strategy<Value = T>,
{
    (
        proptest::option::of(element()),
        proptest::option::of(element()),
    )
        .prop_map(|(a, b)| {
            match (a, b) {
                (Some(a), Some(b)) if a == b => Range::new(Some(a), None),
                (Some(a), Some(b)) if b < a => Range::new(Some(b), Some(a)),
                (a, b) => Range::new(a, b),
            }
            .expect("start < end")
        })
}

pub fn bytes() -> impl Strategy<Value = bytes::Bytes> {
    prop::collection::vec(any::<u8>(), 0..12).prop_map(bytes::Bytes::from)
}

pub fn small_vec<T: std::fmt::Debug>(
    element: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec(element, 0..4)
}

prop_compose! {
    pub fn inner()(
        id in any::<i64>(),
        label in proptest::option::of("\\PC{0,6}"),
        scores in small_vec(any::<f64>()),
        day in date(),
    ) -> Inner {
        Inner { id, label, scores, day }
    }
}

prop_compose! {
    pub fn deeper()(leaf in small_vec(inner()), at in timestamp()) -> Deeper {
        Deeper { leaf, at }
    }
}

prop_compose! {
    pub fn outer()(
        name in "\\PC{0,6}",
        inner in inner(),
        maybe in proptest::option::of(inner()),
        many in small_vec(inner()),
        deeper in proptest::option::of(deeper()),
    ) -> Outer {
        Outer { name, inner, maybe, many, deeper }
    }
}

pub type Scalars = (
    (i64, i32, i16, i8, isize, u32, u16, u8),
    (f64, f32, bool, String, bytes::Bytes, Vec<u8>),
);

pub fn scalars() -> impl Strategy<Value = Scalars> {
    (
        any::<(i64, i32, i16, i8, isize, u32, u16, u8)>(),
        (
            any::<f64>(),
            any::<f32>(),
            any::<bool>(),
            "\\PC{0,12}",
            bytes(),
            prop::collection::vec(any::<u8>(), 0..12),
        ),
    )
}

prop_compose! {
    pub fn everything()(
        ((int64, int32, int16, int8, isize_, uint32, uint16, uint8),
         (float64, float32, boolean, string, bytes, vec_bytes)) in scalars(),
        (date, timestamp, datetime, time, numeric, bignumeric) in
            (date(), timestamp(), datetime(), time(), numeric(), bignumeric()),
        (json, json_value, geography, interval) in (json(), json_value(), geography(), interval()),
        (date_range, datetime_range, timestamp_range) in
            (range(date), range(datetime), range(timestamp)),
        (u64_as_numeric, i64_as_numeric, string_as_json, string_as_bytes, vec_u8_as_int64) in
            (any::<u64>(), any::<i64>(), json(), "\\PC{0,8}", small_vec(any::<u8>())),
        (opt_int64, opt_float64, opt_bool, opt_string, opt_bytes, opt_date) in (
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<f64>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of("\\PC{0,8}"),
            proptest::option::of(prop::collection::vec(any::<u8>(), 0..8)),
            proptest::option::of(date()),
        ),
        (opt_timestamp, opt_numeric, opt_interval, opt_range, opt_u64_as_numeric, opt_inner) in (
            proptest::option::of(timestamp()),
            proptest::option::of(numeric()),
            proptest::option::of(interval()),
            proptest::option::of(range(date)),
            proptest::option::of(any::<u64>()),
            proptest::option::of(inner()),
        ),
        (rep_int64, rep_int32, rep_float64, rep_float32, rep_bool, rep_string, rep_bytes, rep_vec_bytes) in (
            small_vec(any::<i64>()),
            small_vec(any::<i32>()),
            small_vec(any::<f64>()),
            small_vec(any::<f32>()),
            small_vec(any::<bool>()),
            small_vec("\\PC{0,6}"),
            small_vec(bytes()),
            small_vec(prop::collection::vec(any::<u8>(), 0..6)),
        ),
        (rep_date, rep_timestamp, rep_datetime, rep_time, rep_numeric, rep_bignumeric, rep_json, rep_u64_as_numeric) in (
            small_vec(date()),
            small_vec(timestamp()),
            small_vec(datetime()),
            small_vec(time()),
            small_vec(numeric()),
            small_vec(bignumeric()),
            small_vec(json()),
            small_vec(any::<u64>()),
        ),
        (inner, rep_inner, outer, rep_outer) in
            (inner(), small_vec(inner()), outer(), small_vec(outer())),
    ) -> Everything {
        Everything {
            int64, int32, int16, int8, isize_, uint32, uint16, uint8,
            float64, float32, boolean, string, bytes, vec_bytes,
            date, timestamp, datetime, time, numeric, bignumeric,
            json, json_value, geography, interval,
            date_range, datetime_range, timestamp_range,
            u64_as_numeric, i64_as_numeric,
            string_as_json: string_as_json.as_str().to_owned(),
            string_as_bytes, vec_u8_as_int64,
            opt_int64, opt_float64, opt_bool, opt_string, opt_bytes, opt_date,
            opt_timestamp, opt_numeric, opt_interval, opt_range, opt_u64_as_numeric, opt_inner,
            rep_int64, rep_int32, rep_float64, rep_float32, rep_bool, rep_string, rep_bytes,
            rep_vec_bytes, rep_date, rep_timestamp, rep_datetime, rep_time, rep_numeric,
            rep_bignumeric, rep_json, rep_u64_as_numeric,
            inner, rep_inner, outer, rep_outer,
            not_a_column: Default::default(),
        }
    }
}
