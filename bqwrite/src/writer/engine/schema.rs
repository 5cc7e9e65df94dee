//! When the table changes under a running writer.
//!
//! - `updated_schema` on an answer: the row type is checked again against
//!   the table's new schema. A column the row type writes that the table no
//!   longer has closes the writer (the service would discard its values
//!   silently); REQUIRED relaxed to NULLABLE retires the connection once its
//!   requests are answered (the service applies the change to new
//!   connections only); anything else (a NULLABLE column the row type does
//!   not have) changes nothing.
//! - A writer schema field the service calls unknown (a column just added,
//!   not yet on the write path) or a table answering NOT_FOUND (recreated
//!   under the same name): reconnect with backoff within
//!   `WriterOptions::schema_wait`, then fail naming the columns or with the
//!   NOT_FOUND error. A field the table's metadata does not have at all
//!   fails at once.

use std::time::Duration;

use super::{Engine, Failure};
use crate::error::{Error, ErrorKind, SchemaMismatch};
use crate::proto::storage::storage_error::StorageErrorCode;
use crate::proto::storage::{GetWriteStreamRequest, TableSchema as WireSchema, WriteStreamView};
use crate::retry::{Budget, Retry, RetryPolicy};
use crate::schema::{Mode, TableSchema};
use crate::writer::Cause;

/// The engine's view of its table's schema.
#[derive(Debug)]
pub(super) struct SchemaWatch {
    /// Time left to wait for the table to catch up.
    budget: Budget,
    /// The table's schema as the service last described it.
    known: Option<TableSchema>,
    /// Answers still due on a connection being retired; new requests wait
    /// for the next connection.
    retire_after: Option<usize>,
    /// Waiting for a column to reach the write path: each try ends its
    /// call, so the tries go on a connection of the writer's own rather
    /// than end a shared one under other tables' writers.
    pub(super) own_connection: bool,
}

impl SchemaWatch {
    pub(super) fn new(wait: Duration, known: Option<TableSchema>) -> Self {
        let policy = RetryPolicy::default()
            .max_attempts(u32::MAX)
            .max_elapsed(wait)
            .initial_backoff(Duration::from_millis(50).min(wait / 4))
            .max_backoff(Duration::from_secs(5));
        Self {
            budget: policy.budget(),
            known,
            retire_after: None,
            own_connection: false,
        }
    }

    /// The table caught up: the next wait gets the whole budget again.
    pub(super) fn progress(&mut self) {
        self.budget.progress();
        self.own_connection = false;
    }

    /// The connection was dropped: the reconnect resends everything.
    pub(super) fn connection_dropped(&mut self) {
        self.retire_after = None;
    }
}

impl Engine {
    /// Whether new requests are held for the next connection.
    pub(super) fn retiring(&self) -> bool {
        self.schema.retire_after.is_some()
    }

    /// The answer carried `updated_schema`: checks the row type against it.
    /// `Err` is the error that closes the writer.
    pub(super) fn on_updated_schema(&mut self, wire: &WireSchema) -> Result<(), Error> {
        let schema = TableSchema::try_from(wire).map_err(|e| {
            Error::new(
                ErrorKind::Server,
                format!("the updated schema of `{}` is unreadable", self.cfg.table),
            )
            .with_source(e)
        })?;
        let mismatches = crate::compat::check(&self.cfg.row_schema, self.cfg.asks_default, &schema);
        if !mismatches.is_empty() {
            return Err(self.changed_under(mismatches));
        }
        let relaxed = self
            .schema
            .known
            .as_ref()
            .is_some_and(|before| relaxed(before, &schema));
        tracing::info!(stream = %self.cfg.stream, relaxed, "the table's schema changed");
        self.shared.set_table_schema(schema.clone());
        self.schema.known = Some(schema);
        if relaxed && self.conn.is_some() && self.schema.retire_after.is_none() {
            // The answer being read is one of the connection's.
            self.schema.retire_after = Some(self.inflight.len());
        }
        Ok(())
    }

    /// One answer of a retiring connection was read: after the last one,
    /// the held requests go out on a new connection.
    pub(super) fn after_answer(&mut self) {
        let Some(due) = self.schema.retire_after else {
            return;
        };
        let due = due.saturating_sub(1);
        if due > 0 && self.conn.is_some() {
            self.schema.retire_after = Some(due);
            return;
        }
        self.schema.retire_after = None;
        let Some(old) = self.conn.take() else {
            return; // a failure dropped it already; the reconnect resends all
        };
        // a shared connection would be given to this writer again
        old.abandon("a table's schema changed: its writer needs a new AppendRows connection");
        self.counters().reconnected(Cause::Schema);
        tracing::info!(stream = %self.cfg.stream, "new AppendRows connection for the table's new schema");
        for i in 0..self.inflight.len() {
            if !self.resend(i) {
                break;
            }
        }
    }

    /// The writer's row type no longer fits the table.
    fn changed_under(&self, mismatches: Vec<SchemaMismatch>) -> Error {
        let columns: Vec<String> = mismatches
            .iter()
            .map(|m| format!("`{}`", m.path()))
            .collect();
        Error::new(
            ErrorKind::SchemaMismatch,
            format!(
                "the schema of `{}` changed under the writer: `{}` no longer fits it ({}); \
                 the service would discard or refuse the values, so the writer stopped \
                 (rows in flight may have landed without them):",
                self.cfg.table,
                self.cfg.row_type,
                columns.join(", ")
            ),
        )
        .with_mismatches(mismatches)
        .with_stream(self.cfg.stream.to_string())
    }

    /// A failure that ends a call: an unknown field or a missing table is
    /// waited out (within `schema_wait`) rather than fatal.
    pub(super) async fn schema_failure(&mut self, failure: Failure) -> Failure {
        let Failure::Fatal(error) = failure else {
            return failure;
        };
        self.classify(error).await
    }

    /// An error (ending the call, or answering a request in-band): fatal,
    /// or to be retried on a new connection with [`Cause::Schema`].
    pub(super) async fn classify(&mut self, error: Error) -> Failure {
        let fields = extra_fields(&error);
        if fields.iter().any(|f| is_change_pseudo_column(f)) {
            // a table without a primary key: no column will ever appear
            return Failure::Fatal(error);
        }
        if !fields.is_empty() {
            return match self.missing_from_table(&fields).await {
                Ok(()) => {
                    self.schema.own_connection = true;
                    Failure::Retryable(error, Retry::Transient, Cause::Schema)
                }
                Err(fatal) => Failure::Fatal(fatal),
            };
        }
        if table_not_found(&error) {
            return Failure::Retryable(error, Retry::Transient, Cause::Schema);
        }
        Failure::Fatal(error)
    }

    /// The service called `fields` unknown: if the table's metadata lacks
    /// them too, they will not appear by waiting.
    async fn missing_from_table(&mut self, fields: &[String]) -> Result<(), Error> {
        let found = self
            .cfg
            .client
            .get_write_stream(GetWriteStreamRequest {
                name: self.cfg.stream.to_string(),
                view: WriteStreamView::Full as i32,
            })
            .await;
        // When the table cannot be read, waiting decides.
        let Some(wire) = found.ok().and_then(|s| s.table_schema) else {
            return Ok(());
        };
        let Ok(schema) = TableSchema::try_from(&wire) else {
            return Ok(());
        };
        let mismatches = crate::compat::check(&self.cfg.row_schema, self.cfg.asks_default, &schema);
        self.shared.set_table_schema(schema.clone());
        self.schema.known = Some(schema);
        if mismatches.is_empty() {
            tracing::info!(stream = %self.cfg.stream, ?fields, "columns not on the write path yet; waiting");
            return Ok(());
        }
        Err(self.changed_under(mismatches))
    }

    /// Waits before reconnecting for a [`Cause::Schema`] failure; `Err` is
    /// the error once `schema_wait` is spent.
    pub(super) async fn wait_for_table(&mut self, error: &Error) -> Result<(), Error> {
        if self.schema.budget.wait(Retry::Transient).await {
            return Ok(());
        }
        let waited = self.cfg.schema_wait;
        let fields = extra_fields(error);
        if fields.is_empty() {
            return Err(error.duplicate().context(format!(
                "the table did not answer within schema_wait ({waited:?})"
            )));
        }
        let mismatches = fields
            .iter()
            .map(|f| SchemaMismatch::MissingColumn { field: f.clone() })
            .collect();
        Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!(
                "the write path of `{}` still refused column(s) `{}` after schema_wait ({waited:?}): \
                 a column just added takes from seconds to a minute to be writable ({error})",
                self.cfg.table,
                fields.join("`, `"),
            ),
        )
        .with_mismatches(mismatches)
        .with_stream(self.cfg.stream.to_string()))
    }
}

/// Whether a column REQUIRED in `before` is NULLABLE in `after`.
fn relaxed(before: &TableSchema, after: &TableSchema) -> bool {
    before.fields.iter().any(|b| {
        b.mode == Mode::Required
            && after
                .fields
                .iter()
                .any(|a| a.name.eq_ignore_ascii_case(&b.name) && a.mode == Mode::Nullable)
    })
}

/// Whether `field` is one of CDC's pseudo-columns (`_CHANGE_TYPE`,
/// `_CHANGE_SEQUENCE_NUMBER`), which no table has as a column.
fn is_change_pseudo_column(field: &str) -> bool {
    ["_CHANGE_TYPE", "_CHANGE_SEQUENCE_NUMBER"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(field))
}

/// The fields an "extra fields" error names (SCHEMA_MISMATCH_EXTRA_FIELDS,
/// or BigQuery's message "Input schema has more fields than BigQuery schema,
/// extra fields: 'a,b'").
fn extra_fields(error: &Error) -> Vec<String> {
    let message = error.status().map_or("", |s| s.message());
    let marked = error.storage_error() == Some(StorageErrorCode::SchemaMismatchExtraFields);
    let Some(at) = message.find("extra fields: '") else {
        return if marked {
            vec!["(unnamed)".to_owned()]
        } else {
            Vec::new()
        };
    };
    let rest = &message[at + "extra fields: '".len()..];
    let list = rest.split('\'').next().unwrap_or_default();
    list.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

/// NOT_FOUND for the table (not for the stream, which waiting cannot bring back).
fn table_not_found(error: &Error) -> bool {
    error.code() == Some(tonic::Code::NotFound)
        && error.storage_error() != Some(StorageErrorCode::StreamNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{FieldSchema, FieldType};

    fn status_error(code: tonic::Code, message: &str) -> Error {
        Error::from_status("AppendRows", tonic::Status::new(code, message))
    }

    #[test]
    fn extra_fields_are_read_from_bigquerys_message() {
        let e = status_error(
            tonic::Code::InvalidArgument,
            "Input schema has more fields than BigQuery schema, extra fields: 'note,tags' Entity: x",
        );
        assert_eq!(extra_fields(&e), vec!["note", "tags"]);
        let other = status_error(tonic::Code::InvalidArgument, "bad request");
        assert!(extra_fields(&other).is_empty());
    }

    #[test]
    fn only_a_missing_table_is_waited_for() {
        assert!(table_not_found(&status_error(
            tonic::Code::NotFound,
            "Table not found"
        )));
        let stream = status_error(tonic::Code::NotFound, "Stream not found")
            .with_storage_error(StorageErrorCode::StreamNotFound);
        assert!(!table_not_found(&stream));
    }

    #[test]
    fn relaxing_required_is_noticed() {
        let before = TableSchema::new(vec![FieldSchema::new(
            "note",
            FieldType::String,
            Mode::Required,
        )]);
        let after = TableSchema::new(vec![FieldSchema::new(
            "NOTE",
            FieldType::String,
            Mode::Nullable,
        )]);
        assert!(relaxed(&before, &after));
        assert!(!relaxed(&after, &before));
    }
}
