//! What a sink sends: plain rows, or changes by primary key. The batching,
//! back-pressure and outcomes are the same for both; only what `send`
//! takes, how it encodes it and which stream it may write to differ.

mod sealed {
    pub trait Sealed {}
}

/// What a [`Sink`](super::Sink) sends: [`Rows`] or [`Changes`]. Sealed:
/// the two are all there is.
pub trait SinkKind: sealed::Sealed + Send + Sync + 'static {
    /// What one `send` hands on, for messages: `row` or `change`.
    #[doc(hidden)]
    const ITEM: &'static str;
    #[doc(hidden)]
    const NAME: &'static str;
}

/// A sink of plain rows ([`Sink<T>`](super::Sink)): `send(row)`, through
/// `_default` or, exactly once, a COMMITTED stream.
#[derive(Debug)]
pub enum Rows {}

impl sealed::Sealed for Rows {}

impl SinkKind for Rows {
    const ITEM: &'static str = "row";
    const NAME: &'static str = "rows";
}

/// A sink of changes by primary key
/// ([`ChangeSink<T>`](super::ChangeSink)): `send(Change::upsert(row))`,
/// through `_default` only.
#[derive(Debug)]
pub enum Changes {}

impl sealed::Sealed for Changes {}

impl SinkKind for Changes {
    const ITEM: &'static str = "change";
    const NAME: &'static str = "changes";
}
