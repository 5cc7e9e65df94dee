//! Conversions to and from `rust_decimal::Decimal` (feature `rust_decimal`).
//!
//! Every `Decimal` with at most 9 digits after the point is a [`Numeric`]
//! (its 96-bit mantissa is below 10²⁹); a `Decimal` with more non-zero
//! fractional digits is an error, never rounded. Every `Decimal` is a
//! [`BigNumeric`]. The other way, a value whose digits do not fit a 96-bit
//! mantissa is an error.

use rust_decimal::Decimal;

use super::{BigNumeric, I256, Numeric, ValueError};
use crate::schema::FieldType;

impl TryFrom<Decimal> for Numeric {
    type Error = ValueError;

    /// Fails when the decimal has non-zero digits beyond the ninth after the point.
    fn try_from(decimal: Decimal) -> Result<Self, Self::Error> {
        Numeric::new(decimal.mantissa(), decimal.scale()).map_err(|err| match err {
            ValueError::Inexact {
                bq_type, detail, ..
            } => ValueError::Inexact {
                bq_type,
                value: decimal.to_string(),
                detail,
            },
            other => other,
        })
    }
}

impl From<Decimal> for BigNumeric {
    /// Exact: a `Decimal` has at most 28 digits after the point.
    fn from(decimal: Decimal) -> Self {
        let factor = I256::from(10u8).pow(BigNumeric::SCALE - decimal.scale());
        BigNumeric::from_scaled(I256::from(decimal.mantissa()) * factor)
    }
}

/// The `Decimal` of `scaled` × 10^-`scale`, trailing zeros removed first.
fn to_decimal(
    mut scaled: I256,
    mut scale: u32,
    bq_type: FieldType,
    shown: impl Fn() -> String,
) -> Result<Decimal, ValueError> {
    let ten = I256::from(10u8);
    while scale > 0 && scaled % ten == 0 {
        scaled /= ten;
        scale -= 1;
    }
    let too_precise = || {
        ValueError::OutOfRange {
        bq_type,
        value: shown(),
        detail: "does not fit rust_decimal::Decimal (96-bit mantissa, at most 28 digits after the point)".to_owned(),
    }
    };
    if scale > 28 {
        return Err(too_precise());
    }
    let mantissa = i128::try_from(scaled).map_err(|_| too_precise())?;
    Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| too_precise())
}

impl TryFrom<Numeric> for Decimal {
    type Error = ValueError;

    /// Fails when the value's digits do not fit a 96-bit mantissa (about 7.9 × 10²⁸).
    fn try_from(numeric: Numeric) -> Result<Self, Self::Error> {
        to_decimal(
            I256::from(numeric.scaled()),
            Numeric::SCALE,
            FieldType::Numeric,
            || numeric.to_string(),
        )
    }
}

impl TryFrom<BigNumeric> for Decimal {
    type Error = ValueError;

    /// Fails when the value needs more than 28 digits after the point or its
    /// digits do not fit a 96-bit mantissa.
    fn try_from(big: BigNumeric) -> Result<Self, Self::Error> {
        to_decimal(
            big.scaled(),
            BigNumeric::SCALE,
            FieldType::BigNumeric,
            || big.to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    #[test]
    fn known_values() {
        let d = Decimal::from_str("123.456789").unwrap();
        assert_eq!(Numeric::try_from(d).unwrap().scaled(), 123_456_789_000);
        assert_eq!(Decimal::try_from(Numeric::try_from(d).unwrap()).unwrap(), d);
        assert_eq!(
            Decimal::try_from(Numeric::from(5)).unwrap().to_string(),
            "5"
        );
        assert_eq!(
            Numeric::try_from(Decimal::MAX).unwrap().to_string(),
            Decimal::MAX.to_string()
        );
        assert_eq!(
            Numeric::try_from(Decimal::MIN).unwrap().to_string(),
            Decimal::MIN.to_string()
        );
        assert_eq!(
            BigNumeric::from(Decimal::from_str("0.0000000000000000000000000001").unwrap())
                .to_string(),
            "0.0000000000000000000000000001"
        );
        // Trailing zeros within 9 places are fine.
        assert!(Numeric::try_from(Decimal::from_str("1.1000000000000").unwrap()).is_ok());
    }

    #[test]
    fn errors() {
        let err = Numeric::try_from(Decimal::from_str("0.0000000001").unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("NUMERIC value 0.0000000001 cannot be represented exactly"),
            "{err}"
        );
        let err = Decimal::try_from(Numeric::MAX).unwrap_err();
        assert!(
            err.to_string()
                .contains("does not fit rust_decimal::Decimal"),
            "{err}"
        );
        assert!(Decimal::try_from(BigNumeric::from_str("1e-30").unwrap()).is_err());
        assert!(Decimal::try_from(BigNumeric::MAX).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(mantissa in -(1i128 << 96) + 1..(1i128 << 96), scale in 0u32..=28) {
            let decimal = Decimal::from_i128_with_scale(mantissa, scale);
            let big = BigNumeric::from(decimal);
            prop_assert_eq!(Decimal::try_from(big).unwrap(), decimal);
            prop_assert_eq!(big.to_string(), decimal.normalize().to_string());
            match Numeric::try_from(decimal) {
                Ok(numeric) => {
                    prop_assert_eq!(Decimal::try_from(numeric).unwrap(), decimal);
                    prop_assert_eq!(numeric.to_string(), decimal.normalize().to_string());
                }
                Err(_) => prop_assert!(decimal.normalize().scale() > 9),
            }
        }
    }
}
