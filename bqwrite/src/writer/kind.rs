//! The four stream types as marker types: [`Writer<T, S>`](super::Writer)
//! has the methods of its stream type `S` and no others, so a method that
//! does not apply (committing a COMMITTED stream, flushing rows into
//! visibility on a PENDING one, finalizing `_default`) does not compile.

use std::fmt;
use std::ops::Range;

use crate::proto::storage::write_stream::Type as StreamType;

mod sealed {
    pub trait Sealed {}
}

/// A stream type: [`Pending`], [`Committed`], [`Buffered`] or
/// [`DefaultStream`]. Sealed: the four are all there is.
pub trait StreamKind: sealed::Sealed + Send + Sync + 'static {
    /// What a ticket of this stream type resolves to: the offsets of the
    /// rows in the stream for explicit streams, the number of rows written
    /// for `_default`, which has no offsets.
    type Ack: fmt::Debug + Send + 'static;

    #[doc(hidden)]
    const NAME: &'static str;
    /// Whether requests carry offsets (every type but `_default`).
    #[doc(hidden)]
    const OFFSETS: bool;
    /// What dropping the writer without ending the stream leaves behind,
    /// when that loses something.
    #[doc(hidden)]
    const DROP_WARNING: Option<&'static str>;

    #[doc(hidden)]
    fn ack(offsets: Range<i64>, rows: u64) -> Self::Ack;
}

/// An explicit (application-created) stream: PENDING, COMMITTED or
/// BUFFERED. Requests carry offsets, so every row is written exactly once,
/// and the stream can be [resumed](super::Writer::resume) by name.
pub trait ExplicitStream: StreamKind<Ack = Range<i64>> {
    #[doc(hidden)]
    const TYPE: StreamType;
}

macro_rules! explicit {
    ($(#[$doc:meta])* $name:ident, $type:ident, $warning:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {}

        impl sealed::Sealed for $name {}

        impl StreamKind for $name {
            type Ack = Range<i64>;
            const NAME: &'static str = stringify!($type);
            const OFFSETS: bool = true;
            const DROP_WARNING: Option<&'static str> = $warning;

            fn ack(offsets: Range<i64>, _rows: u64) -> Range<i64> {
                offsets
            }
        }

        impl ExplicitStream for $name {
            const TYPE: StreamType = StreamType::$type;
        }
    };
}

explicit!(
    /// A PENDING stream: rows stay invisible until the stream is finalized
    /// and committed, atomically with other streams of the table if you like.
    Pending,
    Pending,
    Some("nothing of this PENDING stream is committed: finalize and commit it")
);
explicit!(
    /// A COMMITTED stream: each row is visible as soon as it is acknowledged,
    /// and written exactly once.
    Committed,
    Committed,
    None
);
explicit!(
    /// A BUFFERED stream: rows become visible when the stream is flushed up
    /// to them, and are written exactly once.
    Buffered,
    Buffered,
    Some("rows of this BUFFERED stream not flushed stay invisible: flush it")
);

/// A table's `_default` stream: always there, rows visible when
/// acknowledged, no offsets, so a request resent after a lost answer can be
/// written twice (at-least-once). Many writers may share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultStream {}

impl sealed::Sealed for DefaultStream {}

impl StreamKind for DefaultStream {
    type Ack = u64;
    const NAME: &'static str = "_default";
    const OFFSETS: bool = false;
    const DROP_WARNING: Option<&'static str> = None;

    fn ack(_offsets: Range<i64>, rows: u64) -> u64 {
        rows
    }
}
