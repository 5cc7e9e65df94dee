//! Tests of the civil date and time values.

use super::*;

#[test]
fn days_round_trip_at_the_edges() {
    for (ymd, days) in [
        ((1970, 1, 1), 0),
        ((1, 1, 1), MIN_DATE_DAYS),
        ((9999, 12, 31), MAX_DATE_DAYS),
        ((2000, 2, 29), 11_016),
    ] {
        let d = Ymd {
            year: ymd.0,
            month: ymd.1,
            day: ymd.2,
        };
        assert_eq!(d.to_days(), days);
        assert_eq!(Ymd::from_days(days), d);
    }
}

#[test]
fn packed_datetime_round_trips() {
    let packed = parse_datetime("2024-02-29 13:14:15.000016").unwrap();
    assert_eq!(format_datetime(packed), "2024-02-29T13:14:15.000016");
    assert!(unpack_datetime(packed | (1 << 62)).is_err());
    assert!(parse_datetime("2023-02-29 00:00:00").is_err());
    let t = parse_time("23:59:59.5").unwrap();
    assert_eq!(format_time(t), "23:59:59.500000");
    assert!(unpack_time(24 << 32).is_err());
}

#[test]
fn timestamps_parse_with_zones() {
    assert_eq!(parse_timestamp("1970-01-01T00:00:01Z").unwrap(), 1_000_000);
    assert_eq!(parse_timestamp("1970-01-01 01:00:00+01:00").unwrap(), 0);
    assert_eq!(parse_timestamp("1970-01-01 00:00 UTC").unwrap(), 0);
    assert!(parse_timestamp("10000-01-01T00:00:00Z").is_err());
    assert_eq!(
        format_timestamp_rfc3339(1_704_067_245_000_001),
        "2024-01-01T00:00:45.000001Z"
    );
}

#[test]
fn timestamp_seconds_text_matches_java_layout() {
    assert_eq!(
        format_timestamp_seconds(1_704_067_200_000_000),
        "1.7040672E9"
    );
    assert_eq!(
        format_timestamp_seconds(1_704_067_245_123_456),
        "1.704067245123456E9"
    );
    assert_eq!(format_timestamp_seconds(500_000), "0.5");
    assert_eq!(format_timestamp_seconds(1_000_000), "1.0");
    assert_eq!(format_timestamp_seconds(-100_000_000_000_000), "-1.0E8");
    assert_eq!(format_timestamp_seconds(1_000), "0.001");
    assert_eq!(format_timestamp_seconds(1), "1.0E-6");
}

#[test]
fn intervals() {
    assert!(check_interval("1-2 3 4:5:6.789").is_ok());
    assert!(check_interval("-0-0 0 -1:0:0").is_ok());
    assert!(check_interval("P1Y2M3DT4H5M6.5S").is_ok());
    assert!(check_interval("10001-0 0 0:0:0").is_err());
    assert!(check_interval("soon").is_err());
}
