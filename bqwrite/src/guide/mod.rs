//! The guide: how to use bqwrite, topic by topic, beyond the API reference.
//!
//! Each page is a module with no items, only text. Read them in this order,
//! or jump to the one you need:
//!
//! | page | what it answers |
//! | --- | --- |
//! | [`stream_types`] | which stream type to write through: visibility, exactly once, cost, when to use each |
//! | [`rows`] | `#[derive(BqRow)]`, every `#[bq(...)]` attribute, and the types of other crates |
//! | [`writers`] | `append` or `send` and tickets, options, back-pressure, how rows are split into requests |
//! | [`sink`] | one row at a time from many tasks, and many connections for one load |
//! | [`tables`] | many tables over a few connections, tables that change, column defaults, CDC upserts and deletes |
//! | [`recovery`] | what survives a broken connection, a lost answer, a crash and a lost commit answer |
//! | [`testing`] | testing your code against the embedded emulator, with fault injection |
//! | [`bigquery`] | running against BigQuery: credentials, the emulator variable, locations, TLS, the live tests |
//! | [`migrating`] | from Google's Python sample and from the other Rust crates |
//!
//! Every example on these pages is a doctest: the ones that write run
//! against the embedded emulator (`bqwrite-emulator`), started by a few
//! hidden lines at the top of the example (the [`testing`] page shows them),
//! and each is bounded by a timeout.

// A new page: a markdown file in this directory (its first line is the
// page's summary), a `pub mod` below with `#[doc = include_str!(...)]`, and
// a row in the table above. Links between pages are `crate::guide::page`.

#[doc = include_str!("stream_types.md")]
pub mod stream_types {}

#[doc = include_str!("rows.md")]
pub mod rows {}

#[doc = include_str!("writers.md")]
pub mod writers {}

#[doc = include_str!("sink.md")]
pub mod sink {}

#[doc = include_str!("tables.md")]
pub mod tables {}

#[doc = include_str!("recovery.md")]
pub mod recovery {}

#[doc = include_str!("testing.md")]
pub mod testing {}

#[doc = include_str!("bigquery.md")]
pub mod bigquery {}

#[doc = include_str!("migrating.md")]
pub mod migrating {}
