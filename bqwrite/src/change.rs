//! Changes by primary key (BigQuery change data capture): a row to upsert or
//! delete, with an optional sequence number that orders it among the other
//! changes of its key.
//!
//! ```
//! use bqwrite::{BqRow, Change, ChangeSequence};
//!
//! #[derive(BqRow)]
//! struct Customer {
//!     id: i64,
//!     name: Option<String>,
//! }
//!
//! let upsert = Change::upsert(Customer { id: 1, name: Some("Alice".into()) })
//!     .sequence(ChangeSequence::new([0x1, 0x2a])?);
//! assert_eq!(upsert.sequence_number().map(|s| s.to_string()).as_deref(), Some("1/2A"));
//! let delete = Change::delete(Customer { id: 2, name: None });
//! assert!(delete.is_delete());
//! # Ok::<(), bqwrite::Error>(())
//! ```
//!
//! Changes are written with
//! [`Writer::append_changes`](crate::Writer::append_changes) on a table's
//! `_default` stream (see that method for what the table needs), or sent
//! one at a time from many tasks through a
//! [`ChangeSink`](crate::ChangeSink), which batches them.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};
use crate::row::{BqRow, RowOf};

/// The most sections a [`ChangeSequence`] may have.
pub const MAX_SEQUENCE_SECTIONS: usize = 4;

/// What a [`Change`] does to the row of its primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeType {
    /// Inserts the row, or replaces the whole row with the same key:
    /// columns the row leaves NULL become NULL.
    Upsert,
    /// Removes the row with the same key, if there is one.
    Delete,
}

impl ChangeType {
    /// The value of the `_CHANGE_TYPE` pseudo-column: `UPSERT` or `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Upsert => "UPSERT",
            ChangeType::Delete => "DELETE",
        }
    }
}

impl fmt::Display for ChangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `_CHANGE_SEQUENCE_NUMBER`: one to four sections, each any `u64` (up to
/// 16 hexadecimal digits), written as `1/2A`.
///
/// Sequences compare section by section, as numbers, from the first; when
/// one sequence is a prefix of the other the shorter one is lower
/// (`1/2 < 1/2/0`). Per primary key the change with the highest sequence
/// wins, whatever order the changes arrive in. Use the same number of
/// sections throughout a table (a log position `file/offset`, a commit
/// timestamp and a counter, ...) and the prefix rule never matters.
///
/// ```
/// use bqwrite::ChangeSequence;
///
/// let a: ChangeSequence = "ff/1".parse()?;
/// let b = ChangeSequence::new([0x100])?;
/// assert!(a < b); // FF < 100, whatever the digit count
/// assert_eq!(a.sections(), &[0xff, 1]);
/// assert!(ChangeSequence::parse("1/2/3/4/5").is_err()); // five sections
/// # Ok::<(), bqwrite::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ChangeSequence {
    sections: [u64; MAX_SEQUENCE_SECTIONS],
    len: u8,
}

impl ChangeSequence {
    /// A sequence of `sections` (one to four).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidValue`] for no section or more than four.
    pub fn new(sections: impl IntoIterator<Item = u64>) -> Result<Self> {
        let mut out = [0; MAX_SEQUENCE_SECTIONS];
        let mut len = 0;
        for section in sections {
            if len == MAX_SEQUENCE_SECTIONS {
                return Err(invalid(format!(
                    "a change sequence has at most {MAX_SEQUENCE_SECTIONS} sections; more were given"
                )));
            }
            out[len] = section;
            len += 1;
        }
        if len == 0 {
            return Err(invalid(
                "a change sequence needs at least one section".into(),
            ));
        }
        Ok(Self {
            sections: out,
            len: len as u8,
        })
    }

    /// Parses `1/2A`: one to four sections of 1 to 16 hexadecimal digits
    /// (either case), separated by `/`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidValue`] naming the text and what is wrong with it.
    pub fn parse(text: &str) -> Result<Self> {
        let sections = text
            .split('/')
            .map(|section| parse_section(text, section))
            .collect::<Result<Vec<u64>>>()?;
        if sections.len() > MAX_SEQUENCE_SECTIONS {
            return Err(invalid(format!(
                "`{text}` is not a change sequence: it has {} sections, at most {MAX_SEQUENCE_SECTIONS} are allowed",
                sections.len()
            )));
        }
        Self::new(sections)
    }

    /// The sections, from the most significant.
    pub fn sections(&self) -> &[u64] {
        &self.sections[..self.len as usize]
    }

    /// The length of the text sent (`1/2A`), as [`Display`](fmt::Display)
    /// writes it.
    pub(crate) fn text_len(&self) -> usize {
        let digits: usize = self.sections().iter().map(|&s| hex_digits(s)).sum();
        digits + self.sections().len() - 1
    }

    /// Writes the text sent (`1/2A`) into `out`, with no allocation.
    pub(crate) fn write_text(&self, out: &mut impl bytes::BufMut) {
        for (i, &section) in self.sections().iter().enumerate() {
            if i > 0 {
                out.put_u8(b'/');
            }
            for digit in (0..hex_digits(section)).rev() {
                let nibble = (section >> (4 * digit)) & 0xf;
                out.put_u8(b"0123456789ABCDEF"[nibble as usize]);
            }
        }
    }
}

/// How many hexadecimal digits `section` is written with (at least one).
fn hex_digits(section: u64) -> usize {
    (64 - section.max(1).leading_zeros() as usize).div_ceil(4)
}

fn parse_section(text: &str, section: &str) -> Result<u64> {
    let problem = if section.is_empty() {
        Some("a section is empty")
    } else if section.len() > 16 {
        Some("a section has more than 16 hexadecimal digits")
    } else if !section.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some("a section holds a character that is not a hexadecimal digit")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(invalid(format!(
            "`{text}` is not a change sequence: {problem} (expected 1 to 4 sections of 1 to 16 hexadecimal digits separated by `/`)"
        ))),
        // 16 hexadecimal digits always fit a u64
        None => Ok(u64::from_str_radix(section, 16).unwrap_or(u64::MAX)),
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidValue, message)
}

impl Ord for ChangeSequence {
    fn cmp(&self, other: &Self) -> Ordering {
        // slices compare element by element, a prefix first
        self.sections().cmp(other.sections())
    }
}

impl PartialOrd for ChangeSequence {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ChangeSequence {
    /// Upper-case hexadecimal sections separated by `/`: what is sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, section) in self.sections().iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{section:X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ChangeSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChangeSequence({self})")
    }
}

impl FromStr for ChangeSequence {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl From<u64> for ChangeSequence {
    /// A one-section sequence.
    fn from(section: u64) -> Self {
        let mut sections = [0; MAX_SEQUENCE_SECTIONS];
        sections[0] = section;
        Self { sections, len: 1 }
    }
}

/// A row to upsert or delete by the table's primary key, with an optional
/// [`ChangeSequence`].
///
/// `R` is the row: a `T` of the writer, or anything it takes as a row
/// (`&T`, `Box<T>`, ...). A delete carries a whole row too, of which only
/// the primary-key columns matter: fill the others with anything (`None`,
/// `Default::default()`).
#[derive(Debug, Clone, PartialEq)]
pub struct Change<R> {
    row: R,
    kind: ChangeType,
    sequence: Option<ChangeSequence>,
}

impl<R> Change<R> {
    /// Inserts `row`, or replaces the row with its primary key.
    pub fn upsert(row: R) -> Self {
        Self::new(ChangeType::Upsert, row)
    }

    /// Deletes the row with `row`'s primary key (its other columns are
    /// ignored).
    pub fn delete(row: R) -> Self {
        Self::new(ChangeType::Delete, row)
    }

    /// A change of type `kind`.
    pub fn new(kind: ChangeType, row: R) -> Self {
        Self {
            row,
            kind,
            sequence: None,
        }
    }

    /// Orders the change among the other changes of its key: the highest
    /// sequence wins, whatever the order of arrival.
    #[must_use]
    pub fn sequence(mut self, sequence: impl Into<ChangeSequence>) -> Self {
        self.sequence = Some(sequence.into());
        self
    }

    /// The row.
    pub fn row(&self) -> &R {
        &self.row
    }

    /// The row, taken out of the change.
    pub fn into_row(self) -> R {
        self.row
    }

    /// Upsert or delete.
    pub fn change_type(&self) -> ChangeType {
        self.kind
    }

    /// Whether this is a delete.
    pub fn is_delete(&self) -> bool {
        self.kind == ChangeType::Delete
    }

    /// The sequence number, if one was given.
    pub fn sequence_number(&self) -> Option<&ChangeSequence> {
        self.sequence.as_ref()
    }
}

/// What a writer of `T` takes as a change: a [`Change`] of any row of `T`
/// ([`RowOf<T>`](crate::RowOf)), or a reference to one. Implemented for
/// those only; its items are hidden.
pub trait ChangeOf<T: ?Sized> {
    /// The row that is encoded.
    #[doc(hidden)]
    type __Row: BqRow + ?Sized;
    /// The row, what the change does, its sequence.
    #[doc(hidden)]
    fn __parts(&self) -> (&Self::__Row, ChangeType, Option<&ChangeSequence>);
}

impl<T: ?Sized, R: RowOf<T>> ChangeOf<T> for Change<R> {
    type __Row = R::__Row;
    #[inline]
    fn __parts(&self) -> (&Self::__Row, ChangeType, Option<&ChangeSequence>) {
        (self.row.__row(), self.kind, self.sequence.as_ref())
    }
}

impl<T: ?Sized, C: ChangeOf<T> + ?Sized> ChangeOf<T> for &C {
    type __Row = C::__Row;
    #[inline]
    fn __parts(&self) -> (&Self::__Row, ChangeType, Option<&ChangeSequence>) {
        (**self).__parts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let s = ChangeSequence::parse("0/ffffffffffffffff/a/00B").unwrap();
        assert_eq!(s.sections(), &[0, u64::MAX, 10, 11]);
        assert_eq!(s.to_string(), "0/FFFFFFFFFFFFFFFF/A/B");
        assert_eq!(ChangeSequence::from(0x2a).to_string(), "2A");
        assert_eq!(ChangeSequence::new([1, 0x2a]).unwrap().to_string(), "1/2A");
    }

    #[test]
    fn the_text_written_without_allocating_is_the_displayed_one() {
        for text in [
            "0",
            "F",
            "10",
            "1/2A",
            "0/FFFFFFFFFFFFFFFF/A/B",
            "1000000000000000",
        ] {
            let s = ChangeSequence::parse(text).unwrap();
            let mut out = Vec::new();
            s.write_text(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), s.to_string());
            assert_eq!(s.text_len(), s.to_string().len(), "{text}");
        }
    }

    #[test]
    fn refuses_bad_text_and_counts() {
        for bad in [
            "",
            "/",
            "1/",
            "/1",
            "1//2",
            "g",
            "1/2/3/4/5",
            "10000000000000000",
            "+1",
            "1 ",
        ] {
            let err = ChangeSequence::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidValue, "{bad:?}");
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
        assert!(ChangeSequence::new([]).is_err());
        assert!(ChangeSequence::new([1, 2, 3, 4, 5]).is_err());
        assert!(ChangeSequence::new([1, 2, 3, 4]).is_ok());
    }

    #[test]
    fn orders_section_by_section() {
        let p = |s: &str| ChangeSequence::parse(s).unwrap();
        assert!(p("ff") < p("100"));
        assert!(p("1/ffff") < p("2/0"));
        assert!(p("1/2") < p("1/2/0"));
        assert!(p("1/2/0") < p("1/3"));
        assert_eq!(p("0a"), p("A"));
        let mut all = [p("2"), p("1/1"), p("1"), p("0/ff/ff/ff")];
        all.sort();
        let text: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["0/FF/FF/FF", "1", "1/1", "2"]);
    }

    #[test]
    fn change_accessors() {
        let c = Change::upsert(7).sequence(3);
        assert_eq!(c.change_type(), ChangeType::Upsert);
        assert_eq!(c.sequence_number(), Some(&ChangeSequence::from(3)));
        assert_eq!(*c.row(), 7);
        assert!(Change::delete(1).is_delete());
        assert_eq!(ChangeType::Delete.to_string(), "DELETE");
    }
}
