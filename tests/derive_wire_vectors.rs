//! `#[derive(BqRow)]` against hand-computed wire bytes: civil time, NUMERIC
//! and BIGNUMERIC, and edge values.

use bqwrite::BqRow;
use bqwrite::types::{BigNumeric, Date, DateTime, I256, Numeric, Time, Timestamp};

#[derive(BqRow)]
struct Civil {
    date: Date,
    timestamp: Timestamp,
    datetime: DateTime,
    time: Time,
    numeric: Numeric,
    bignumeric: BigNumeric,
}

fn civil(numeric: &str, bignumeric: BigNumeric) -> Civil {
    Civil {
        date: Date::from_ymd(2024, 1, 2).expect("valid date"),
        timestamp: "2024-01-02T03:04:05.000006Z"
            .parse()
            .expect("valid timestamp"),
        datetime: DateTime::new(2024, 1, 2, 3, 4, 5, 6).expect("valid datetime"),
        time: Time::new(3, 4, 5, 6).expect("valid time"),
        numeric: numeric.parse().expect("valid NUMERIC"),
        bignumeric,
    }
}

/// The civil fields of 2024-01-02 03:04:05.000006 (fields 1 to 4).
const CIVIL_PREFIX: &[u8] = &[
    // 1: DATE 19724 days, int32 varint
    0x08, 0x8c, 0x9a, 0x01, //
    // 2: TIMESTAMP 1704164645000006 µs, int64 varint
    0x10, 0xc6, 0xa6, 0xb7, 0x82, 0xdc, 0xbd, 0x83, 0x03, //
    // 3: DATETIME packed ((2024<<26)|(1<<22)|(2<<17)|(3<<12)|(4<<6)|5)<<20|6 = 142431024298590214
    0x18, 0x86, 0x80, 0xc0, 0x82, 0xb1, 0x88, 0x81, 0xfd, 0x01, //
    // 4: TIME packed ((3<<12)|(4<<6)|5)<<20|6 = 13158580230
    0x20, 0x86, 0x80, 0xc0, 0x82, 0x31,
];

fn civil_bytes(numeric: &[u8], bignumeric: &[u8]) -> Vec<u8> {
    let mut out = CIVIL_PREFIX.to_vec();
    out.extend_from_slice(&[0x2a, numeric.len() as u8]);
    out.extend_from_slice(numeric);
    out.extend_from_slice(&[0x32, bignumeric.len() as u8]);
    out.extend_from_slice(bignumeric);
    out
}

#[test]
fn civil_time_and_decimal_wire_vectors() {
    let big_123 = "123.456789"
        .parse::<BigNumeric>()
        .expect("valid BIGNUMERIC");
    let big_neg_123 = "-123.456789"
        .parse::<BigNumeric>()
        .expect("valid BIGNUMERIC");
    let cases: Vec<(Civil, Vec<u8>)> = vec![
        (
            civil("123.456789", big_123),
            civil_bytes(
                // 123456789000 = 0x1c_be99_1a08
                &[0x08, 0x1a, 0x99, 0xbe, 0x1c],
                // 123456789 * 10^32
                &[
                    0, 0, 0, 0, 0x95, 0xf2, 0xd4, 0x1c, 0x93, 0xe5, 0x7c, 0xf3, 0x89, 0x44, 0xdb,
                    0x47, 0x24,
                ],
            ),
        ),
        (
            civil("-123.456789", big_neg_123),
            civil_bytes(
                &[0xf8, 0xe5, 0x66, 0x41, 0xe3],
                &[
                    0, 0, 0, 0, 0x6b, 0x0d, 0x2b, 0xe3, 0x6c, 0x1a, 0x83, 0x0c, 0x76, 0xbb, 0x24,
                    0xb8, 0xdb,
                ],
            ),
        ),
        (
            // NUMERIC max 10^38 - 1 (scaled); BIGNUMERIC max 2^255 - 1 (scaled)
            civil(
                "99999999999999999999999999999.999999999",
                BigNumeric::from_scaled(I256::MAX),
            ),
            civil_bytes(
                &[
                    0xff, 0xff, 0xff, 0xff, 0x3f, 0x22, 0x8a, 0x09, 0x7a, 0xc4, 0x86, 0x5a, 0xa8,
                    0x4c, 0x3b, 0x4b,
                ],
                &[
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                    0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                ],
            ),
        ),
        (
            // NUMERIC min -(10^38 - 1); BIGNUMERIC min -2^255
            civil(
                "-99999999999999999999999999999.999999999",
                BigNumeric::from_scaled(I256::MIN),
            ),
            civil_bytes(
                &[
                    0x01, 0x00, 0x00, 0x00, 0xc0, 0xdd, 0x75, 0xf6, 0x85, 0x3b, 0x79, 0xa5, 0x57,
                    0xb3, 0xc4, 0xb4,
                ],
                &[
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0x80,
                ],
            ),
        ),
    ];
    for (row, expected) in cases {
        assert_eq!(row.encode_to_vec(), expected);
        assert_eq!(row.encoded_len(), expected.len());
    }
}

#[derive(BqRow)]
struct Edges {
    date: Date,
    #[bq(type = "NUMERIC")]
    unsigned: u64,
    ints: Vec<i32>,
    flag: Option<bool>,
}

#[test]
fn edge_wire_vectors() {
    let row = Edges {
        date: Date::from_days(-719_162).expect("0001-01-01"),
        unsigned: u64::MAX,
        ints: vec![1, -1, 300],
        flag: None,
    };
    let expected: Vec<u8> = [
        // 1: DATE -719162, int32 sign-extended to a 10-byte varint
        &[
            0x08, 0xc6, 0x8d, 0xd4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ][..],
        // 2: u64::MAX as NUMERIC: (2^64 - 1) * 10^9, 12 bytes
        &[
            0x12, 12, 0x00, 0x36, 0x65, 0xc4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc9, 0x9a, 0x3b,
        ],
        // 3: packed int64 [1, -1, 300]: 1 + 10 + 2 bytes
        &[
            0x1a, 13, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xac, 0x02,
        ],
        // 4: NULL writes nothing
    ]
    .concat();
    assert_eq!(row.encode_to_vec(), expected);
    assert_eq!(row.encoded_len(), expected.len());
}
