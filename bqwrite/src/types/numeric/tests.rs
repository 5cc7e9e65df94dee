//! Tests of NUMERIC and BIGNUMERIC: parsing, display, encoding and ranges.

use super::*;
use proptest::prelude::*;

#[test]
fn numeric_vectors() {
    // 123.456789 * 10^9 = 123456789000 = 0x1C_BE99_1A08.
    let n: Numeric = "123.456789".parse().unwrap();
    assert_eq!(n.scaled(), 123_456_789_000);
    assert_eq!(n.to_le_bytes().as_ref(), &[0x08, 0x1a, 0x99, 0xbe, 0x1c]);
    // Its negation is the two's complement: !0x1C_BE99_1A08 + 1 = 0xE3_4166_E5F8.
    let m: Numeric = "-123.456789".parse().unwrap();
    assert_eq!(m.scaled(), -123_456_789_000);
    assert_eq!(m.to_le_bytes().as_ref(), &[0xf8, 0xe5, 0x66, 0x41, 0xe3]);
    assert_eq!(
        Numeric::from_le_bytes(&[0xf8, 0xe5, 0x66, 0x41, 0xe3]).unwrap(),
        m
    );
    assert_eq!(Numeric::ZERO.to_le_bytes().as_ref(), &[0]);
    assert_eq!(
        Numeric::from(1).to_le_bytes().as_ref(),
        &[0x00, 0xca, 0x9a, 0x3b]
    );
}

#[test]
fn numeric_extremes() {
    let max: Numeric = "99999999999999999999999999999.999999999".parse().unwrap();
    assert_eq!(max, Numeric::MAX);
    assert_eq!(max.scaled(), 10i128.pow(38) - 1);
    assert_eq!(max.to_string(), "99999999999999999999999999999.999999999");
    let min: Numeric = "-99999999999999999999999999999.999999999".parse().unwrap();
    assert_eq!(min, Numeric::MIN);
    // 10^38 - 1 needs 127 bits: 16 bytes with the sign.
    assert_eq!(max.to_le_bytes().len(), 16);
    assert_eq!(min.to_le_bytes().len(), 16);
    assert_eq!(Numeric::from_le_bytes(&max.to_le_bytes()).unwrap(), max);
    assert_eq!(Numeric::from_le_bytes(&min.to_le_bytes()).unwrap(), min);
    assert_eq!(
        Numeric::from_le_bytes(&max.scaled().to_le_bytes()).unwrap(),
        max
    );
}

#[test]
fn numeric_errors() {
    let err = "100000000000000000000000000000"
        .parse::<Numeric>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "NUMERIC value 100000000000000000000000000000 is out of range: \
         at most 29 digits before the decimal point (precision 38, scale 9)"
    );
    let err = "1e40".parse::<Numeric>().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("NUMERIC value 1e40 is out of range"),
        "{err}"
    );
    let err = "0.1234567891".parse::<Numeric>().unwrap_err();
    assert!(matches!(err, ValueError::Inexact { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("NUMERIC value 0.1234567891 cannot be represented exactly"),
        "{err}"
    );
    assert!(Numeric::from_scaled(10i128.pow(38)).is_err());
    assert!(Numeric::from_scaled(-(10i128.pow(38))).is_err());
    assert!(Numeric::from_le_bytes(&i128::MAX.to_le_bytes()).is_err());
    let err = Numeric::from_le_bytes(&[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid NUMERIC bytes: no bytes (zero is one 0x00 byte)"
    );
    assert!(Numeric::from_le_bytes(&[0; 17]).is_err());
    for bad in [
        "", "-", ".", "1.2.3", "1,5", " 1", "1 ", "0x10", "1e", "1e+", "NaN", "inf", "--1",
        "1e99999",
    ] {
        let err = bad.parse::<Numeric>().unwrap_err();
        assert!(
            err.to_string().starts_with("invalid NUMERIC text"),
            "{bad:?}: {err}"
        );
    }
    assert!(matches!(
        Numeric::new(1, 10),
        Err(ValueError::Inexact { .. })
    ));
}

#[test]
fn numeric_text_forms() {
    for (text, scaled) in [
        ("0", 0),
        ("-0", 0),
        ("+1", 1_000_000_000),
        (".5", 500_000_000),
        ("5.", 5_000_000_000),
        ("-0.000000001", -1),
        ("1.5e3", 1_500_000_000_000),
        ("15E-1", 1_500_000_000),
        ("0.1234567890000", 123_456_789),
        ("000123.400", 123_400_000_000),
        ("1e-9", 1),
        ("0e-20", 0),
    ] {
        assert_eq!(text.parse::<Numeric>().unwrap().scaled(), scaled, "{text}");
    }
    assert_eq!(
        Numeric::from_scaled(-1).unwrap().to_string(),
        "-0.000000001"
    );
    assert_eq!(
        Numeric::from_scaled(1_500_000_000_000).unwrap().to_string(),
        "1500"
    );
    assert_eq!(Numeric::new(12345, 2).unwrap().to_string(), "123.45");
    assert_eq!(Numeric::new(-5, 0).unwrap().to_string(), "-5");
    assert_eq!(Numeric::new(1_000, 12).unwrap().to_string(), "0.000000001");
}

#[test]
fn bignumeric_vectors_and_extremes() {
    let n: BigNumeric = "123.456789".parse().unwrap();
    assert_eq!(
        n.scaled(),
        I256::from(123_456_789i64) * I256::from(10u8).pow(32)
    );
    assert_eq!(BigNumeric::from_le_bytes(&n.to_le_bytes()).unwrap(), n);
    let max_text = "578960446186580977117854925043439539266.34992332820282019728792003956564819967";
    let min_text =
        "-578960446186580977117854925043439539266.34992332820282019728792003956564819968";
    assert_eq!(BigNumeric::MAX.to_string(), max_text);
    assert_eq!(BigNumeric::MIN.to_string(), min_text);
    assert_eq!(max_text.parse::<BigNumeric>().unwrap(), BigNumeric::MAX);
    assert_eq!(min_text.parse::<BigNumeric>().unwrap(), BigNumeric::MIN);
    let max_bytes = BigNumeric::MAX.to_le_bytes();
    assert_eq!(max_bytes.len(), 32);
    assert_eq!(max_bytes[31], 0x7f);
    assert!(max_bytes[..31].iter().all(|&b| b == 0xff));
    let min_bytes = BigNumeric::MIN.to_le_bytes();
    assert_eq!(min_bytes[31], 0x80);
    assert!(min_bytes[..31].iter().all(|&b| b == 0));
    assert_eq!(
        BigNumeric::from_le_bytes(&max_bytes).unwrap(),
        BigNumeric::MAX
    );
    assert_eq!(
        BigNumeric::from_le_bytes(&min_bytes).unwrap(),
        BigNumeric::MIN
    );
    assert_eq!(BigNumeric::ZERO.to_le_bytes().as_ref(), &[0]);
    assert_eq!(
        BigNumeric::from_le_bytes(&[0xff]).unwrap().to_string(),
        "-0.00000000000000000000000000000000000001"
    );
}

#[test]
fn bignumeric_errors() {
    let err = "578960446186580977117854925043439539266.34992332820282019728792003956564819968"
        .parse::<BigNumeric>()
        .unwrap_err();
    assert!(
        err.to_string().starts_with("BIGNUMERIC value 5789"),
        "{err}"
    );
    assert!(
        "-578960446186580977117854925043439539266.34992332820282019728792003956564819969"
            .parse::<BigNumeric>()
            .is_err()
    );
    let err = "1e-39".parse::<BigNumeric>().unwrap_err();
    assert!(
        matches!(
            err,
            ValueError::Inexact {
                bq_type: FieldType::BigNumeric,
                ..
            }
        ),
        "{err}"
    );
    assert!(BigNumeric::from_le_bytes(&[0; 33]).is_err());
    assert!(BigNumeric::from_le_bytes(&[]).is_err());
    assert!("1e80".parse::<BigNumeric>().is_err());
}

#[test]
fn numeric_bignumeric_conversions() {
    assert_eq!(
        BigNumeric::from(Numeric::MAX).to_string(),
        Numeric::MAX.to_string()
    );
    assert_eq!(
        Numeric::try_from(BigNumeric::from(Numeric::MIN)).unwrap(),
        Numeric::MIN
    );
    let fine: BigNumeric = "1e-10".parse().unwrap();
    assert!(matches!(
        Numeric::try_from(fine),
        Err(ValueError::Inexact { .. })
    ));
    let big: BigNumeric = "1e29".parse().unwrap();
    assert!(matches!(
        Numeric::try_from(big),
        Err(ValueError::OutOfRange { .. })
    ));
    assert_eq!(BigNumeric::from(u64::MAX).to_string(), u64::MAX.to_string());
    assert_eq!(Numeric::from(i64::MIN).to_string(), i64::MIN.to_string());
}

fn any_numeric() -> impl Strategy<Value = Numeric> {
    prop_oneof![
        (-NUMERIC_MAX_SCALED..=NUMERIC_MAX_SCALED),
        (-1_000_000_000_000i128..1_000_000_000_000),
        Just(NUMERIC_MAX_SCALED),
        Just(-NUMERIC_MAX_SCALED),
    ]
    .prop_map(|s| Numeric::from_scaled(s).unwrap())
}

fn any_bignumeric() -> impl Strategy<Value = BigNumeric> {
    prop_oneof![
        any::<[u8; 32]>().prop_map(I256::from_le_bytes),
        any::<i64>().prop_map(I256::from),
        Just(I256::MAX),
        Just(I256::MIN),
    ]
    .prop_map(BigNumeric::from_scaled)
}

proptest! {
    #[test]
    fn numeric_round_trips(n in any_numeric()) {
        let bytes = n.to_le_bytes();
        prop_assert_eq!(Numeric::from_le_bytes(&bytes).unwrap(), n);
        // Minimal: one byte fewer would change the value or the sign.
        if bytes.len() > 1 {
            let shorter = sign_extend::<16>(&bytes[..bytes.len() - 1]).unwrap();
            prop_assert_ne!(i128::from_le_bytes(shorter), n.scaled());
        }
        // Any sign-extended longer form decodes to the same value.
        prop_assert_eq!(Numeric::from_le_bytes(&n.scaled().to_le_bytes()).unwrap(), n);
        let text = n.to_string();
        prop_assert_eq!(text.parse::<Numeric>().unwrap(), n);
        prop_assert_eq!(BigNumeric::from(n).to_string(), text);
    }

    #[test]
    fn bignumeric_round_trips(n in any_bignumeric()) {
        let bytes = n.to_le_bytes();
        prop_assert_eq!(BigNumeric::from_le_bytes(&bytes).unwrap(), n);
        if bytes.len() > 1 {
            let shorter = sign_extend::<32>(&bytes[..bytes.len() - 1]).unwrap();
            prop_assert_ne!(I256::from_le_bytes(shorter), n.scaled());
        }
        prop_assert_eq!(n.to_string().parse::<BigNumeric>().unwrap(), n);
    }

    #[test]
    fn numeric_order_matches_text_value(a in any_numeric(), b in any_numeric()) {
        let big_a: BigNumeric = a.to_string().parse().unwrap();
        let big_b: BigNumeric = b.to_string().parse().unwrap();
        prop_assert_eq!(a.cmp(&b), big_a.cmp(&big_b));
    }
}
