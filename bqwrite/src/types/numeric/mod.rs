//! NUMERIC and BIGNUMERIC: exact decimals at scale 9 and 38.

use std::fmt;
use std::str::FromStr;

use ethnum::{I256, U256};

use super::ValueError;
use super::le_bytes::{LeBytes, sign_extend};
use crate::schema::FieldType;

const NUMERIC_SCALE: u32 = 9;
const BIGNUMERIC_SCALE: u32 = 38;
/// 10^38 - 1: the largest NUMERIC, scaled.
const NUMERIC_MAX_SCALED: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// A BigQuery NUMERIC: an exact decimal with 38 digits of precision, 9 after
/// the point, from -99999999999999999999999999999.999999999 to
/// 99999999999999999999999999999.999999999.
///
/// It is held as the value × 10⁹ in an `i128` ([`Numeric::scaled`]). On the
/// wire it is the two's-complement little-endian bytes of that integer, in as
/// few bytes as keep the sign ([`Numeric::to_le_bytes`]); zero is one `0x00`
/// byte. This is what Google's `BigDecimalByteStringEncoder` sends.
/// Its text form is the plain decimal without trailing zeros (`123.456789`, `-5`).
///
/// ```
/// use bqwrite::types::Numeric;
///
/// let n: Numeric = "-123.456789".parse()?;
/// assert_eq!(n.scaled(), -123_456_789_000);
/// assert_eq!(n.to_le_bytes().as_ref(), &[0xf8, 0xe5, 0x66, 0x41, 0xe3]);
/// assert_eq!(Numeric::from_le_bytes(&n.to_le_bytes())?, n);
/// assert_eq!(n.to_string(), "-123.456789");
/// // Ten digits after the point would need rounding: an error, never rounded.
/// assert!("0.1234567891".parse::<Numeric>().is_err());
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Numeric(i128);

impl Numeric {
    /// The number of digits after the decimal point, 9.
    pub const SCALE: u32 = NUMERIC_SCALE;
    /// 99999999999999999999999999999.999999999.
    pub const MAX: Numeric = Numeric(NUMERIC_MAX_SCALED);
    /// -99999999999999999999999999999.999999999.
    pub const MIN: Numeric = Numeric(-NUMERIC_MAX_SCALED);
    /// 0.
    pub const ZERO: Numeric = Numeric(0);

    /// The NUMERIC `scaled` × 10⁻⁹; fails when |scaled| > 10³⁸ - 1.
    pub fn from_scaled(scaled: i128) -> Result<Self, ValueError> {
        if (-NUMERIC_MAX_SCALED..=NUMERIC_MAX_SCALED).contains(&scaled) {
            Ok(Self(scaled))
        } else {
            Err(ValueError::out_of_range(
                FieldType::Numeric,
                format_scaled(
                    scaled < 0,
                    &scaled.unsigned_abs().to_string(),
                    NUMERIC_SCALE,
                ),
                "at most 29 digits before the decimal point (precision 38, scale 9)",
            ))
        }
    }

    /// The NUMERIC `mantissa` × 10^-`scale`, e.g. `new(12345, 2)` is 123.45.
    ///
    /// Fails when the value is out of range, or has non-zero digits beyond
    /// the ninth after the point (it is never rounded).
    pub fn new(mantissa: i128, scale: u32) -> Result<Self, ValueError> {
        let digits = rescale(
            mantissa < 0,
            mantissa.unsigned_abs().to_string(),
            scale,
            FieldType::Numeric,
        )?;
        Self::from_digits(mantissa < 0, &digits)
    }

    /// The value × 10⁹.
    pub const fn scaled(self) -> i128 {
        self.0
    }

    /// The wire bytes: two's complement, little-endian, minimal length (1 to 16 bytes).
    pub fn to_le_bytes(self) -> LeBytes<16> {
        LeBytes::minimal(self.0.to_le_bytes())
    }

    /// Decodes wire bytes: 1 to 16 bytes of two's complement little-endian,
    /// sign-extended, of the value × 10⁹. Fails when empty, longer than 16
    /// bytes, or out of NUMERIC's range.
    pub fn from_le_bytes(bytes: &[u8]) -> Result<Self, ValueError> {
        let full =
            sign_extend::<16>(bytes).ok_or_else(|| bytes_error(FieldType::Numeric, bytes, 16))?;
        Self::from_scaled(i128::from_le_bytes(full))
    }

    /// Whether the value is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    fn from_digits(negative: bool, digits: &str) -> Result<Self, ValueError> {
        let out_of_range = || {
            ValueError::out_of_range(
                FieldType::Numeric,
                format_scaled(negative, digits, NUMERIC_SCALE),
                "at most 29 digits before the decimal point (precision 38, scale 9)",
            )
        };
        if digits.len() > 38 {
            return Err(out_of_range());
        }
        // At most 38 decimal digits: fits in i128.
        let magnitude: i128 = digits.parse().map_err(|_| out_of_range())?;
        Self::from_scaled(if negative { -magnitude } else { magnitude })
    }
}

/// A BigQuery BIGNUMERIC: an exact decimal with 76.76 digits of precision,
/// 38 after the point: every 256-bit two's-complement integer × 10⁻³⁸, about
/// ±5.7896 × 10³⁸.
///
/// It is held as the value × 10³⁸ in an [`I256`] ([`BigNumeric::scaled`]).
/// On the wire it is the two's-complement little-endian bytes of that integer,
/// in as few bytes as keep the sign ([`BigNumeric::to_le_bytes`]); zero is one
/// `0x00` byte. Its text form is the plain decimal without trailing zeros.
///
/// ```
/// use bqwrite::types::{BigNumeric, I256};
///
/// let n: BigNumeric = "0.00000000000000000000000000000000000001".parse()?;
/// assert_eq!(n.scaled(), I256::ONE);
/// assert_eq!(n.to_le_bytes().as_ref(), &[1]);
/// assert_eq!(BigNumeric::MAX.to_string(),
///     "578960446186580977117854925043439539266.34992332820282019728792003956564819967");
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BigNumeric(I256);

impl BigNumeric {
    /// The number of digits after the decimal point, 38.
    pub const SCALE: u32 = BIGNUMERIC_SCALE;
    /// (2²⁵⁵ - 1) × 10⁻³⁸, the largest BIGNUMERIC.
    pub const MAX: BigNumeric = BigNumeric(I256::MAX);
    /// -2²⁵⁵ × 10⁻³⁸, the smallest BIGNUMERIC.
    pub const MIN: BigNumeric = BigNumeric(I256::MIN);
    /// 0.
    pub const ZERO: BigNumeric = BigNumeric(I256::ZERO);

    /// The BIGNUMERIC `scaled` × 10⁻³⁸. Every 256-bit integer is in range,
    /// so this cannot fail.
    pub const fn from_scaled(scaled: I256) -> Self {
        Self(scaled)
    }

    /// The BIGNUMERIC `mantissa` × 10^-`scale`.
    ///
    /// Fails when the value has non-zero digits beyond the 38th after the
    /// point (it is never rounded).
    pub fn new(mantissa: i128, scale: u32) -> Result<Self, ValueError> {
        let digits = rescale(
            mantissa < 0,
            mantissa.unsigned_abs().to_string(),
            scale,
            FieldType::BigNumeric,
        )?;
        Self::from_digits(mantissa < 0, &digits)
    }

    /// The value × 10³⁸.
    pub const fn scaled(self) -> I256 {
        self.0
    }

    /// The wire bytes: two's complement, little-endian, minimal length (1 to 32 bytes).
    pub fn to_le_bytes(self) -> LeBytes<32> {
        LeBytes::minimal(self.0.to_le_bytes())
    }

    /// Decodes wire bytes: 1 to 32 bytes of two's complement little-endian,
    /// sign-extended, of the value × 10³⁸. Fails when empty or longer than 32 bytes.
    pub fn from_le_bytes(bytes: &[u8]) -> Result<Self, ValueError> {
        let full = sign_extend::<32>(bytes)
            .ok_or_else(|| bytes_error(FieldType::BigNumeric, bytes, 32))?;
        Ok(Self(I256::from_le_bytes(full)))
    }

    /// Whether the value is below zero.
    pub const fn is_negative(self) -> bool {
        self.0.is_negative()
    }

    fn from_digits(negative: bool, digits: &str) -> Result<Self, ValueError> {
        let out_of_range = || {
            ValueError::out_of_range(
                FieldType::BigNumeric,
                format_scaled(negative, digits, BIGNUMERIC_SCALE),
                "BIGNUMERIC holds (-2^255..=2^255-1) x 10^-38, about +-5.7896e38",
            )
        };
        if digits.len() > 78 {
            return Err(out_of_range());
        }
        let magnitude = U256::from_str_radix(digits, 10).map_err(|_| out_of_range())?;
        let value = if negative {
            if magnitude > I256::MIN.unsigned_abs() {
                return Err(out_of_range());
            }
            I256::ZERO.wrapping_sub(magnitude.as_i256())
        } else {
            I256::try_from(magnitude).map_err(|_| out_of_range())?
        };
        Ok(Self(value))
    }
}

fn bytes_error(bq_type: FieldType, bytes: &[u8], max: usize) -> ValueError {
    ValueError::InvalidBytes {
        bq_type,
        detail: if bytes.is_empty() {
            "no bytes (zero is one 0x00 byte)".to_owned()
        } else {
            format!("{} bytes, at most {max} allowed", bytes.len())
        },
    }
}

/// Writes the decimal `digits` (no sign, maybe leading zeros) × 10^-`scale`
/// without trailing fractional zeros.
fn format_scaled(negative: bool, digits: &str, scale: u32) -> String {
    let scale = scale as usize;
    let digits = digits.trim_start_matches('0');
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits.to_owned()
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    let frac = frac.trim_end_matches('0');
    let sign = if negative && !(int == "0" && frac.is_empty()) {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// The digits of `digits` × 10^-`scale` × 10^`target` (no leading zeros,
/// "0" for zero), failing if that is not an integer.
fn rescale_to(
    mut digits: String,
    scale: i64,
    target: u32,
    bq_type: FieldType,
    shown: impl Fn() -> String,
) -> Result<String, ValueError> {
    let shift = i64::from(target) - scale;
    if shift < 0 {
        let drop = usize::try_from(-shift)
            .unwrap_or(usize::MAX)
            .min(digits.len());
        if digits[digits.len() - drop..].bytes().any(|b| b != b'0') {
            return Err(ValueError::Inexact {
                bq_type,
                value: shown(),
                detail: format!(
                    "more than {target} digits after the decimal point; it would have to be rounded"
                ),
            });
        }
        digits.truncate(digits.len() - drop);
    }
    let digits = digits.trim_start_matches('0').to_owned();
    if digits.is_empty() {
        return Ok("0".to_owned());
    }
    if shift > 0 {
        // A non-zero value shifted past 80 digits is out of range of both types.
        if digits.len() as i64 + shift > 80 {
            return Err(ValueError::out_of_range(bq_type, shown(), "far too large"));
        }
        return Ok(format!("{digits}{}", "0".repeat(shift as usize)));
    }
    Ok(digits)
}

fn rescale(
    negative: bool,
    digits: String,
    scale: u32,
    bq_type: FieldType,
) -> Result<String, ValueError> {
    let target = if bq_type == FieldType::Numeric {
        NUMERIC_SCALE
    } else {
        BIGNUMERIC_SCALE
    };
    let shown = || format!("{}{digits}e-{scale}", if negative { "-" } else { "" });
    rescale_to(digits.clone(), i64::from(scale), target, bq_type, shown)
}

/// Parses `[+-]digits[.digits][e[+-]digits]` into (negative, scaled digits).
fn parse_decimal(
    text: &str,
    bq_type: FieldType,
    target: u32,
) -> Result<(bool, String), ValueError> {
    let invalid = |detail: &str| ValueError::text(bq_type, text, detail);
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => {
            let exp_text = &body[at + 1..];
            let unsigned = exp_text.strip_prefix(['+', '-']).unwrap_or(exp_text);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("expected digits after the exponent 'e'"));
            }
            let exponent: i64 = exp_text
                .parse()
                .ok()
                .filter(|e: &i64| e.abs() <= 1000)
                .ok_or_else(|| invalid("exponent beyond +-1000"))?;
            (&body[..at], exponent)
        }
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(invalid("expected a decimal number such as 123.45"));
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(invalid("expected a decimal number such as 123.45"));
    }
    let digits = format!("{int}{frac}");
    let scale = frac.len() as i64 - exponent;
    let digits = rescale_to(digits, scale, target, bq_type, || text.to_owned())?;
    Ok((negative, digits))
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(
            self.0 < 0,
            &self.0.unsigned_abs().to_string(),
            NUMERIC_SCALE,
        ))
    }
}

impl FromStr for Numeric {
    type Err = ValueError;

    /// Parses a decimal: `123`, `-123.456789`, `.5`, `1.5e3`. Fails on more
    /// than 9 non-zero digits after the point (never rounds) and out of range.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (negative, digits) = parse_decimal(text, FieldType::Numeric, NUMERIC_SCALE)?;
        Self::from_digits(negative, &digits).map_err(|err| match err {
            ValueError::OutOfRange {
                bq_type, detail, ..
            } => ValueError::OutOfRange {
                bq_type,
                value: text.to_owned(),
                detail,
            },
            other => other,
        })
    }
}

impl fmt::Display for BigNumeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(
            self.0.is_negative(),
            &self.0.unsigned_abs().to_string(),
            BIGNUMERIC_SCALE,
        ))
    }
}

impl FromStr for BigNumeric {
    type Err = ValueError;

    /// Parses a decimal: `123`, `-123.456789`, `.5`, `1.5e3`. Fails on more
    /// than 38 non-zero digits after the point (never rounds) and out of range.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (negative, digits) = parse_decimal(text, FieldType::BigNumeric, BIGNUMERIC_SCALE)?;
        Self::from_digits(negative, &digits).map_err(|err| match err {
            ValueError::OutOfRange {
                bq_type, detail, ..
            } => ValueError::OutOfRange {
                bq_type,
                value: text.to_owned(),
                detail,
            },
            other => other,
        })
    }
}

macro_rules! from_int {
    ($($int:ty),*) => {$(
        impl From<$int> for Numeric {
            /// Exact: every value of this integer type is a NUMERIC.
            fn from(value: $int) -> Self {
                Numeric(i128::from(value) * 1_000_000_000)
            }
        }
        impl From<$int> for BigNumeric {
            /// Exact: every value of this integer type is a BIGNUMERIC.
            fn from(value: $int) -> Self {
                BigNumeric(I256::from(value) * I256::from(10u8).pow(BIGNUMERIC_SCALE))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl From<Numeric> for BigNumeric {
    /// Exact: every NUMERIC is a BIGNUMERIC.
    fn from(value: Numeric) -> Self {
        BigNumeric(I256::from(value.0) * I256::from(10u8).pow(BIGNUMERIC_SCALE - NUMERIC_SCALE))
    }
}

impl TryFrom<BigNumeric> for Numeric {
    type Error = ValueError;

    /// Fails when the value is out of NUMERIC's range or has non-zero digits
    /// beyond the ninth after the point.
    fn try_from(value: BigNumeric) -> Result<Self, Self::Error> {
        let divisor = I256::from(10u8).pow(BIGNUMERIC_SCALE - NUMERIC_SCALE);
        if value.0 % divisor != 0 {
            return Err(ValueError::Inexact {
                bq_type: FieldType::Numeric,
                value: value.to_string(),
                detail: "more than 9 digits after the decimal point; it would have to be rounded"
                    .to_owned(),
            });
        }
        let scaled = i128::try_from(value.0 / divisor).unwrap_or(i128::MAX);
        Numeric::from_scaled(scaled).map_err(|_| {
            ValueError::out_of_range(
                FieldType::Numeric,
                value,
                "at most 29 digits before the decimal point (precision 38, scale 9)",
            )
        })
    }
}

#[cfg(test)]
mod tests;
