//! NUMERIC and BIGNUMERIC: their two's-complement little-endian byte form,
//! decimal text, and BigQuery's ranges, on a small 256-bit magnitude.

/// An unsigned 256-bit magnitude, little-endian 64-bit limbs.
type U256 = [u64; 4];

/// A sign and a magnitude scaled by 10^scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scaled {
    pub negative: bool,
    pub magnitude: U256,
}

/// NUMERIC: scale 9, |value * 10^9| <= 10^38 - 1.
pub(crate) const NUMERIC_SCALE: u32 = 9;
/// BIGNUMERIC: scale 38, the full 256-bit two's-complement range.
pub(crate) const BIGNUMERIC_SCALE: u32 = 38;

const NUMERIC_MAX: u128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// Which of the two decimal types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalKind {
    Numeric,
    BigNumeric,
}

impl DecimalKind {
    fn name(self) -> &'static str {
        match self {
            DecimalKind::Numeric => "NUMERIC",
            DecimalKind::BigNumeric => "BIGNUMERIC",
        }
    }
    pub(crate) fn scale(self) -> u32 {
        match self {
            DecimalKind::Numeric => NUMERIC_SCALE,
            DecimalKind::BigNumeric => BIGNUMERIC_SCALE,
        }
    }
    fn in_range(self, v: &Scaled) -> bool {
        match self {
            DecimalKind::Numeric => {
                v.magnitude[2] == 0 && v.magnitude[3] == 0 && low_u128(&v.magnitude) <= NUMERIC_MAX
            }
            DecimalKind::BigNumeric => {
                let top = v.magnitude[3];
                if top < 1 << 63 {
                    true
                } else {
                    // only -2^255 has the top bit set
                    v.negative && top == 1 << 63 && v.magnitude[..3].iter().all(|&l| l == 0)
                }
            }
        }
    }
    fn range_text(self) -> &'static str {
        match self {
            DecimalKind::Numeric => {
                "-99999999999999999999999999999.999999999..=99999999999999999999999999999.999999999"
            }
            DecimalKind::BigNumeric => "the 256-bit two's-complement range of value * 10^38",
        }
    }
}

fn low_u128(m: &U256) -> u128 {
    u128::from(m[0]) | (u128::from(m[1]) << 64)
}

fn is_zero(m: &U256) -> bool {
    m.iter().all(|&l| l == 0)
}

/// m = m * 10 + digit; false on overflow past 256 bits.
fn mul10_add(m: &mut U256, digit: u64) -> bool {
    let mut carry = u128::from(digit);
    for limb in m.iter_mut() {
        let v = u128::from(*limb) * 10 + carry;
        *limb = v as u64;
        carry = v >> 64;
    }
    carry == 0
}

fn negate(m: &mut U256) {
    let mut carry = 1u128;
    for limb in m.iter_mut() {
        let v = u128::from(!*limb) + carry;
        *limb = v as u64;
        carry = v >> 64;
    }
}

/// Decodes two's-complement little-endian bytes (what BigQuery's own encoders
/// send) into a sign and magnitude, checking the type's range.
pub(crate) fn from_le_bytes(kind: DecimalKind, bytes: &[u8]) -> Result<Scaled, String> {
    if bytes.is_empty() {
        return Err(format!(
            "{} bytes are empty (zero is encoded as one 0x00 byte)",
            kind.name()
        ));
    }
    let mut len = bytes.len();
    // drop redundant sign-extension bytes
    while len > 1 {
        let last = bytes[len - 1];
        let below_negative = bytes[len - 2] & 0x80 != 0;
        if (last == 0x00 && !below_negative) || (last == 0xFF && below_negative) {
            len -= 1;
        } else {
            break;
        }
    }
    let too_big = || {
        format!(
            "{} bytes ({} bytes long) encode a value outside {}",
            kind.name(),
            bytes.len(),
            kind.range_text()
        )
    };
    if len > 32 {
        return Err(too_big());
    }
    let negative = bytes[len - 1] & 0x80 != 0;
    let mut full = [if negative { 0xFF } else { 0x00 }; 32];
    full[..len].copy_from_slice(&bytes[..len]);
    let mut magnitude = [0u64; 4];
    for (i, limb) in magnitude.iter_mut().enumerate() {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&full[i * 8..i * 8 + 8]);
        *limb = u64::from_le_bytes(chunk);
    }
    if negative {
        negate(&mut magnitude);
    }
    let value = Scaled {
        negative,
        magnitude,
    };
    if kind.in_range(&value) {
        Ok(value)
    } else {
        Err(too_big())
    }
}

/// Parses a plain decimal text ("-123.456", "1e3", ".5") exactly: more
/// fractional digits than the type's scale is an error, never a rounding.
pub(crate) fn parse(kind: DecimalKind, text: &str) -> Result<Scaled, String> {
    let err = |why: &str| format!("{} text {text:?} is invalid: {why}", kind.name());
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => {
            let e: i32 = s[i + 1..]
                .parse()
                .map_err(|_| err("the exponent is not an integer"))?;
            (&s[..i], e)
        }
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(err("there are no digits"));
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(err(
            "expected digits, an optional `.` and an optional exponent",
        ));
    }
    // value = digits * 10^(exponent - frac_len); scaled = digits * 10^(scale + exponent - frac_len)
    let shift = i64::from(kind.scale()) + i64::from(exponent) - frac_part.len() as i64;
    let digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b - b'0')
        .collect();
    let mut magnitude = [0u64; 4];
    let kept = if shift < 0 {
        let drop = (-shift) as usize;
        let cut = digits.len().saturating_sub(drop);
        if digits[cut..].iter().any(|&d| d != 0) {
            return Err(err(&format!(
                "it has more than {} fractional digits (the emulator never rounds)",
                kind.scale()
            )));
        }
        &digits[..cut]
    } else {
        &digits[..]
    };
    let overflow = || err(&format!("it is outside {}", kind.range_text()));
    for &d in kept {
        if !mul10_add(&mut magnitude, u64::from(d)) {
            return Err(overflow());
        }
    }
    if shift > 0 && !is_zero(&magnitude) {
        for _ in 0..shift.min(100) {
            if !mul10_add(&mut magnitude, 0) {
                return Err(overflow());
            }
        }
        if shift > 100 {
            return Err(overflow());
        }
    }
    let value = Scaled {
        negative: negative && !is_zero(&magnitude),
        magnitude,
    };
    if kind.in_range(&value) {
        Ok(value)
    } else {
        Err(overflow())
    }
}

/// The plain decimal text of a scaled value: "-1.5", "100", "0.000000001".
pub(crate) fn format(kind: DecimalKind, value: &Scaled) -> String {
    let mut m = value.magnitude;
    let mut chunks = Vec::new();
    const CHUNK: u128 = 10_000_000_000_000_000_000;
    while !is_zero(&m) {
        let mut rem = 0u128;
        for limb in m.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / CHUNK) as u64;
            rem = cur % CHUNK;
        }
        chunks.push(rem as u64);
    }
    let mut digits = String::new();
    for (i, chunk) in chunks.iter().rev().enumerate() {
        if i == 0 {
            digits.push_str(&chunk.to_string());
        } else {
            digits.push_str(&format!("{chunk:019}"));
        }
    }
    let scale = kind.scale() as usize;
    if digits.len() <= scale {
        digits = format!("{digits:0>width$}", width = scale + 1);
    }
    let (int, frac) = digits.split_at(digits.len() - scale);
    let frac = frac.trim_end_matches('0');
    let mut out = String::new();
    if value.negative && !is_zero(&value.magnitude) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(v: i128) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    #[test]
    fn numeric_bytes_and_text() {
        let v = from_le_bytes(DecimalKind::Numeric, &le(-1_500_000_000)).unwrap();
        assert_eq!(format(DecimalKind::Numeric, &v), "-1.5");
        let v = from_le_bytes(DecimalKind::Numeric, &[0x00]).unwrap();
        assert_eq!(format(DecimalKind::Numeric, &v), "0");
        let v = from_le_bytes(DecimalKind::Numeric, &[0x01]).unwrap();
        assert_eq!(format(DecimalKind::Numeric, &v), "0.000000001");
        let max = 10i128.pow(38) - 1;
        assert!(from_le_bytes(DecimalKind::Numeric, &le(max)).is_ok());
        assert!(from_le_bytes(DecimalKind::Numeric, &le(max + 1)).is_err());
        assert!(from_le_bytes(DecimalKind::Numeric, &le(-max - 1)).is_err());
        assert!(from_le_bytes(DecimalKind::Numeric, &[]).is_err());
        assert_eq!(
            parse(DecimalKind::Numeric, "123.456").unwrap(),
            from_le_bytes(DecimalKind::Numeric, &le(123_456_000_000)).unwrap()
        );
        assert!(parse(DecimalKind::Numeric, "0.0000000001").is_err());
        assert!(parse(DecimalKind::Numeric, "1e29").is_err());
        assert!(parse(DecimalKind::Numeric, "1e28").is_ok());
        assert!(parse(DecimalKind::Numeric, "abc").is_err());
    }

    #[test]
    fn bignumeric_range_is_256_bits() {
        let mut min = vec![0u8; 32];
        min[31] = 0x80;
        let v = from_le_bytes(DecimalKind::BigNumeric, &min).unwrap();
        assert_eq!(
            format(DecimalKind::BigNumeric, &v),
            "-578960446186580977117854925043439539266.34992332820282019728792003956564819968"
        );
        let mut too_big = vec![0u8; 33];
        too_big[32] = 0x01;
        assert!(from_le_bytes(DecimalKind::BigNumeric, &too_big).is_err());
        let v = parse(
            DecimalKind::BigNumeric,
            "0.00000000000000000000000000000000000001",
        )
        .unwrap();
        assert_eq!(v.magnitude, [1, 0, 0, 0]);
        assert!(parse(DecimalKind::BigNumeric, "1e39").is_err());
    }
}
