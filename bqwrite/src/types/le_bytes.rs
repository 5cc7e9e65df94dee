//! A small stack buffer for the minimal little-endian bytes of NUMERIC and BIGNUMERIC.

use std::fmt;
use std::ops::Deref;

/// Up to `N` bytes on the stack: the minimal two's-complement little-endian
/// encoding of a [`Numeric`](super::Numeric) (`N` = 16) or
/// [`BigNumeric`](super::BigNumeric) (`N` = 32), as sent on the wire.
///
/// Derefs to `[u8]`; never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeBytes<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> LeBytes<N> {
    /// The fewest leading bytes of the full-width two's-complement `full`
    /// that still carry its value and sign (at least one byte).
    pub(crate) fn minimal(full: [u8; N]) -> Self {
        let mut len = N;
        while len > 1 {
            let top = full[len - 1];
            let next_sign = full[len - 2] & 0x80;
            if (top == 0x00 && next_sign == 0) || (top == 0xff && next_sign != 0) {
                len -= 1;
            } else {
                break;
            }
        }
        let mut bytes = [0u8; N];
        bytes[..len].copy_from_slice(&full[..len]);
        Self { bytes, len }
    }

    /// The bytes as a slice.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Sign-extends little-endian two's-complement `bytes` (1..=N of them) to N bytes.
pub(crate) fn sign_extend<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    let last = *bytes.last()?;
    if bytes.len() > N {
        return None;
    }
    let mut full = if last & 0x80 != 0 { [0xff; N] } else { [0; N] };
    full[..bytes.len()].copy_from_slice(bytes);
    Some(full)
}

impl<const N: usize> Deref for LeBytes<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> AsRef<[u8]> for LeBytes<N> {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> fmt::Debug for LeBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeBytes({:02x?})", self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_keeps_the_sign() {
        assert_eq!(LeBytes::minimal(0i32.to_le_bytes()).as_slice(), &[0]);
        assert_eq!(LeBytes::minimal((-1i32).to_le_bytes()).as_slice(), &[0xff]);
        assert_eq!(LeBytes::minimal(127i32.to_le_bytes()).as_slice(), &[0x7f]);
        assert_eq!(
            LeBytes::minimal(128i32.to_le_bytes()).as_slice(),
            &[0x80, 0]
        );
        assert_eq!(
            LeBytes::minimal((-128i32).to_le_bytes()).as_slice(),
            &[0x80]
        );
        assert_eq!(
            LeBytes::minimal((-129i32).to_le_bytes()).as_slice(),
            &[0x7f, 0xff]
        );
        assert_eq!(LeBytes::minimal(i32::MIN.to_le_bytes()).len(), 4);
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sign_extend::<4>(&[0x80]), Some((-128i32).to_le_bytes()));
        assert_eq!(sign_extend::<4>(&[0x80, 0]), Some(128i32.to_le_bytes()));
        assert_eq!(sign_extend::<4>(&[]), None);
        assert_eq!(sign_extend::<4>(&[0; 5]), None);
    }
}
