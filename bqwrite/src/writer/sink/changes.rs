//! The change sink: [`Sink`]'s batching for changes by primary key. It is
//! made on a table's `_default` stream only (the one stream the service
//! takes the pseudo-columns on), with the writer schema of the row plus
//! `_CHANGE_TYPE` and `_CHANGE_SEQUENCE_NUMBER`, and its `send` encodes a
//! change as its row's bytes followed by those two fields.

use super::kind::Changes;
use super::{Sink, SinkOptions, check_row, into_parts};
use crate::change::ChangeOf;
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::row::BqRow;
use crate::table::Table;
use crate::writer::Writer;
use crate::writer::changes::ChangeSchema;

/// Writes changes by primary key ([`Change`](crate::Change): upserts and
/// deletes, BigQuery change data capture) sent one at a time, from any
/// number of tasks, batched into requests for you: a [`Sink`] whose
/// [`send`](Sink::send) takes a change.
///
/// Made with [`Client::change_sink`]; batching, back-pressure, outcomes,
/// [`flush`](Sink::flush), [`close`](Sink::close), clones and the warning
/// when dropped unclosed are those of a [`Sink`] of rows. A change sink
/// writes through the table's `_default` stream, the only one that takes
/// changes, so it delivers at least once: give changes
/// [sequence numbers](crate::Change::sequence) when a change written twice
/// (after a lost answer, a broken connection, or beside a rejected change)
/// must not win over a newer change to its key. See
/// [`Writer::append_changes`] for what the table needs.
///
/// ```no_run
/// use bqwrite::{BqRow, Change, Client};
///
/// #[derive(BqRow)]
/// struct Account {
///     id: i64,
///     balance: i64,
/// }
///
/// # async fn run() -> bqwrite::Result<()> {
/// let client = Client::from_env().await?;
/// let table = client.table("my-project", "my_dataset", "accounts")?; // PRIMARY KEY (id)
/// let sink = client.change_sink::<Account>(&table).await?;
///
/// let mut tasks = Vec::new();
/// for (seq, id) in (0..1_000u64).zip((0..100).cycle()) {
///     let sink = sink.clone();
///     tasks.push(tokio::spawn(async move {
///         let change = Change::upsert(Account { id, balance: seq as i64 }).sequence(seq);
///         sink.send(change).await // this change's own outcome
///     }));
/// }
/// for task in tasks {
///     task.await.expect("task")?;
/// }
/// sink.close().await?;
/// # Ok(()) }
/// ```
pub type ChangeSink<T> = Sink<T, Changes>;

/// What a change sink's task and sends know beyond a row sink's.
pub(super) struct ChangeMode {
    pub(super) schema: &'static ChangeSchema,
    /// The table, for the error when the service refuses changes.
    pub(super) table: String,
}

impl Client {
    /// A [`ChangeSink`] writing changes of rows of `T` to `table`'s
    /// `_default` stream, with the default [`SinkOptions`]. `T` is checked
    /// against the table before it returns; the table's primary key is
    /// checked by the service when the first changes arrive (the Storage
    /// Write API does not show it).
    ///
    /// # Errors
    /// As [`Writer::default_stream`].
    pub async fn change_sink<T: BqRow>(&self, table: &Table) -> Result<ChangeSink<T>> {
        self.change_sink_with(table, SinkOptions::at_least_once())
            .await
    }

    /// A [`ChangeSink`] with the given options (linger, buffer bounds,
    /// writer options).
    ///
    /// # Errors
    /// - [`ErrorKind::Config`] for [`SinkOptions::exactly_once`]: the service
    ///   takes changes only on a table's `_default` stream, which writes at
    ///   least once (nothing is sent).
    /// - otherwise as [`Writer::default_stream`].
    pub async fn change_sink_with<T: BqRow>(
        &self,
        table: &Table,
        options: SinkOptions,
    ) -> Result<ChangeSink<T>> {
        if options.exactly_once {
            return Err(exactly_once_refused(table));
        }
        let table = Table::new(self.clone(), table.path().clone());
        let mut writer = Writer::<T>::default_stream_with(&table, options.writer.clone()).await?;
        writer.enter_change_mode().await?;
        let (handle, row_budget) = into_parts(writer);
        let changes = ChangeMode {
            schema: ChangeSchema::get::<T>(),
            table: table.path().to_string(),
        };
        Ok(Sink::start(handle, row_budget, &options, Some(changes)))
    }
}

fn exactly_once_refused(table: &Table) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "a change sink of `{}` cannot be exactly once: the service takes changes \
             (`_CHANGE_TYPE`, `_CHANGE_SEQUENCE_NUMBER`) only on a table's `_default` stream, \
             which writes at least once; use `SinkOptions::at_least_once()` and give the \
             changes sequence numbers so that one written twice alters nothing",
            table.path()
        ),
    )
}

impl<T: BqRow> Sink<T, Changes> {
    /// Sends one change and waits until it is acknowledged or rejected.
    /// Call it from as many tasks as you like: changes are batched into
    /// requests across all of them. BigQuery applies them by key: the
    /// change with the highest sequence wins; without sequences, the one
    /// that arrived last.
    ///
    /// The change's row is checked and encoded here, once the sink has room
    /// for it (back-pressure). If this future is dropped after the change
    /// was handed on, it is still written; a failure is then reported by
    /// the next [`flush`](Sink::flush).
    ///
    /// # Errors
    /// - [`ErrorKind::SchemaMismatch`]: the service refused changes to the
    ///   table (no primary key, or `T` lacks one of its columns); the
    ///   message is the service's. The sink's writer is then closed: the
    ///   other changes in flight and later fail with
    ///   [`ErrorKind::WriterClosed`] quoting it.
    /// - otherwise as [`Sink::send`] of a row: [`ErrorKind::RowErrors`] when
    ///   the service rejected this change (the others of its request are
    ///   written), [`ErrorKind::InvalidValue`], [`ErrorKind::RowTooLarge`],
    ///   [`ErrorKind::WriterClosed`].
    pub async fn send(&self, change: impl ChangeOf<T>) -> Result<()> {
        let (row, kind, sequence) = change.__parts();
        self.check_open()?;
        check_row(row)?;
        // Always set on a change sink: no lookup per change.
        let schema = self
            .inner
            .change_schema
            .unwrap_or_else(ChangeSchema::get::<T>);
        let len = row.encoded_len() + schema.fields_len(kind, sequence);
        let encode = |buf: &mut bytes::BytesMut| {
            row.encode(buf);
            schema.encode_fields(kind, sequence, buf);
        };
        self.deliver(len, encode).await
    }
}
