//! The protobuf wire format, read by hand: varints, fixed-width values and
//! length-delimited slices, with errors that say what was malformed.

/// The wire types the emulator accepts (groups are refused).
pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const FIXED32: u8 = 5;

/// A human name of a wire type, for messages.
pub(crate) fn wire_type_name(wire_type: u8) -> &'static str {
    match wire_type {
        VARINT => "varint",
        FIXED64 => "64-bit",
        LEN => "length-delimited",
        3 | 4 => "group",
        FIXED32 => "32-bit",
        _ => "invalid",
    }
}

/// One field's raw value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32(u32),
}

/// A cursor over one message's bytes.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(format!("truncated varint at byte {}", self.pos));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7F) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    break;
                }
                return Ok(value);
            }
        }
        Err(format!(
            "varint longer than 10 bytes ending at byte {}",
            self.pos
        ))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let slice = &self.buf[self.pos..end];
                self.pos = end;
                Ok(slice)
            }
            None => Err(format!(
                "a value of {n} bytes at byte {} runs past the end of the {}-byte message",
                self.pos,
                self.buf.len()
            )),
        }
    }

    /// Reads one value of a packed repeated field.
    pub(crate) fn packed(&mut self, wire_type: u8) -> Result<Raw<'a>, String> {
        match wire_type {
            VARINT => Ok(Raw::Varint(self.varint()?)),
            FIXED64 => {
                let b = self.take(8)?;
                Ok(Raw::Fixed64(u64::from_le_bytes(
                    b.try_into().unwrap_or([0; 8]),
                )))
            }
            FIXED32 => {
                let b = self.take(4)?;
                Ok(Raw::Fixed32(u32::from_le_bytes(
                    b.try_into().unwrap_or([0; 4]),
                )))
            }
            other => Err(format!("{} values cannot be packed", wire_type_name(other))),
        }
    }

    /// The offset of the next unread byte.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Reads the next key and raw value: `(field number, wire type, raw)`.
    #[inline]
    pub(crate) fn field(&mut self) -> Result<(u32, u8, Raw<'a>), String> {
        let key = self.varint()?;
        let wire_type = (key & 7) as u8;
        let number = key >> 3;
        if number == 0 || number > 536_870_911 {
            return Err(format!("invalid field number {number}"));
        }
        let number = number as u32;
        let raw = match wire_type {
            VARINT => Raw::Varint(self.varint()?),
            FIXED64 => {
                let b = self.take(8)?;
                Raw::Fixed64(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            }
            LEN => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| format!("length {len} is too large"))?;
                Raw::Len(self.take(len)?)
            }
            FIXED32 => {
                let b = self.take(4)?;
                Raw::Fixed32(u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
            }
            3 | 4 => return Err(format!("field {number} uses the deprecated group encoding")),
            other => return Err(format!("field {number} has invalid wire type {other}")),
        };
        Ok((number, wire_type, raw))
    }
}

/// Appends `value` as a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_reports_truncation() {
        // field 1 varint 150, field 2 "hi", field 3 fixed32 1
        let bytes = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d, 1, 0, 0, 0];
        let mut r = Reader::new(&bytes);
        assert!(matches!(r.field().unwrap(), (1, VARINT, Raw::Varint(150))));
        assert!(matches!(r.field().unwrap(), (2, LEN, Raw::Len(b"hi"))));
        assert!(matches!(r.field().unwrap(), (3, FIXED32, Raw::Fixed32(1))));
        assert!(r.is_done());
        let mut r = Reader::new(&[0x12, 0x05, b'a']);
        assert!(r.field().unwrap_err().contains("runs past the end"));
        let mut r = Reader::new(&[0x08, 0xFF]);
        assert!(r.field().unwrap_err().contains("truncated varint"));
    }
}
