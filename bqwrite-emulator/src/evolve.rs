//! Schema evolution: a table's schema versions, which changes BigQuery
//! allows, and when each change reaches the write path.
//!
//! A table's *metadata* (tables.get, GetWriteStream) shows a change at once.
//! The *write path* (what a new AppendRows connection checks a writer schema
//! against, and what `updated_schema` reports) follows after the emulator's
//! schema propagation delay, as BigQuery's does after seconds to a minute:
//! until then a writer schema naming an added column is refused as naming an
//! unknown field, and a dropped column is still accepted. Rows are read back
//! in the current metadata's columns: a dropped column's values, written
//! before or after the drop, are gone; a column added later reads as NULL.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bqwrite::proto::storage::table_field_schema::Mode;
use bqwrite::proto::storage::{TableFieldSchema, TableSchema};
use tokio::time::Instant;

use crate::Error;
use crate::schema::{self, Column};
use crate::store::Table;
use crate::values::{Row, Value};

/// The emulator's settings for schema changes and recreated tables.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Settings {
    /// How long a schema change takes to reach the write path.
    pub propagation: Duration,
    /// How long a table recreated under a deleted table's name answers
    /// AppendRows with NOT_FOUND.
    pub recreate_window: Duration,
}

/// Changes `table`'s schema to `schema` if BigQuery allows it (see
/// [`check_change`]); the change reaches the write path after
/// `settings.propagation`. Returns the new version's number.
pub(crate) fn alter(
    table: &Table,
    schema: TableSchema,
    drops: Drops,
    settings: &Settings,
) -> Result<u64, Error> {
    let id = format!(
        "{}:{}.{}",
        table.name.project, table.name.dataset, table.name.table
    );
    let mut history = table.history.lock().unwrap_or_else(|p| p.into_inner());
    let columns = check_change(&id, &history.current().schema, &schema, drops)
        .map_err(Error::InvalidSchemaChange)?;
    let gone = dropped(&history.current().schema, &schema);
    emulator_limits(table, &history.current().schema, &schema, &gone)
        .map_err(Error::InvalidSchemaChange)?;
    history.push(schema, columns, settings.propagation);
    let number = history.current().number;
    tracing::info!(table = %table.path, version = number, dropped = ?gone, "table schema changed");
    Ok(number)
}

/// Changes BigQuery allows that the emulator refuses, saying so: it keeps
/// a table's primary key and default value expressions by column position,
/// as the table was made, so it drops no column of a table with either, and
/// it applies no default value expression added by a change.
fn emulator_limits(
    table: &Table,
    old: &TableSchema,
    new: &TableSchema,
    gone: &[String],
) -> Result<(), String> {
    if !gone.is_empty() && (table.primary_key.is_some() || !table.defaults.is_empty()) {
        return Err(format!(
            "the emulator does not drop columns ({}) of a table with a primary key or column \
             default values",
            gone.join(", ")
        ));
    }
    let added_default = new.fields.iter().find(|f| {
        !f.default_value_expression.trim().is_empty()
            && !old
                .fields
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&f.name))
    });
    if let Some(field) = added_default {
        return Err(format!(
            "the emulator does not apply a default value expression added by a schema change \
             (column {})",
            field.name
        ));
    }
    Ok(())
}

/// One version of a table's schema.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    /// 0 for the schema the table was created with, then one more per change.
    pub number: u64,
    pub schema: TableSchema,
    pub columns: Arc<[Column]>,
    /// When the version reaches the write path.
    pub writable_at: Instant,
}

/// Every schema version of a table, oldest first (never empty).
#[derive(Debug)]
pub(crate) struct History {
    versions: Vec<Version>,
}

impl History {
    pub(crate) fn new(schema: TableSchema, columns: Arc<[Column]>) -> Self {
        History {
            versions: vec![Version {
                number: 0,
                schema,
                columns,
                writable_at: Instant::now(),
            }],
        }
    }

    /// The table's metadata: the newest version.
    pub(crate) fn current(&self) -> &Version {
        self.versions.last().expect("a history is never empty")
    }

    /// The newest version the write path knows at `now`.
    pub(crate) fn write_path(&self, now: Instant) -> &Version {
        self.versions
            .iter()
            .rev()
            .find(|v| v.writable_at <= now)
            .unwrap_or(&self.versions[0])
    }

    /// Adds `schema` as the newest version, reaching the write path after
    /// `propagation` (and never before an earlier version).
    pub(crate) fn push(
        &mut self,
        schema: TableSchema,
        columns: Arc<[Column]>,
        propagation: Duration,
    ) {
        let current = self.current();
        let writable_at = (Instant::now() + propagation).max(current.writable_at);
        let number = current.number + 1;
        self.versions.push(Version {
            number,
            schema,
            columns,
            writable_at,
        });
    }
}

impl Table {
    /// The table's current schema (its metadata).
    pub(crate) fn schema(&self) -> TableSchema {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.current().schema.clone()
    }

    /// The table's current columns.
    pub(crate) fn columns(&self) -> Arc<[Column]> {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.current().columns.clone()
    }

    /// The newest schema version the write path knows now.
    pub(crate) fn write_path(&self) -> Version {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.write_path(Instant::now()).clone()
    }

    /// The number of that version, without copying it (once per answer).
    fn write_path_number(&self) -> u64 {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.write_path(Instant::now()).number
    }
}

/// What an AppendRows connection has been told of its table's schema: the
/// next answer after a change reaches the write path carries the new schema
/// in `updated_schema`, once per change per connection.
///
/// Kept per table: a multiplexed connection carries many tables, each with
/// its own versions.
#[derive(Debug, Default)]
pub(crate) struct Notices {
    known: HashMap<String, u64>,
}

impl Notices {
    /// The table's write-path schema if it changed since the connection
    /// first wrote to it or was last told.
    pub(crate) fn updated_schema(&mut self, table: &Table) -> Option<TableSchema> {
        let number = table.write_path_number();
        match self.known.get_mut(&table.path) {
            Some(known) if number > *known => {
                let now = table.write_path();
                *known = now.number;
                Some(now.schema)
            }
            Some(_) => None,
            None => {
                self.known.insert(table.path.clone(), number);
                None
            }
        }
    }
}

/// Whether a schema change may drop columns: DDL (`ALTER TABLE DROP
/// COLUMN`, the emulator's [`alter_table`](crate::Emulator::alter_table))
/// and tables.update may; tables.patch may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drops {
    Allowed,
    Refused,
}

/// Checks that `new` is a change of `old` BigQuery allows, and compiles it:
/// columns added as NULLABLE or REPEATED (at the top level or inside a
/// RECORD), REQUIRED relaxed to NULLABLE, and with [`Drops::Allowed`]
/// top-level columns dropped. Any other change (a type, a REQUIRED column added, a mode
/// tightened, a dropped column with `Drops::Refused`) is refused with
/// BigQuery's wording.
pub(crate) fn check_change(
    table_id: &str,
    old: &TableSchema,
    new: &TableSchema,
    drops: Drops,
) -> Result<Arc<[Column]>, String> {
    let columns = schema::compile(new)?;
    check_fields(table_id, &old.fields, &new.fields, "", drops)?;
    Ok(columns)
}

fn check_fields(
    table_id: &str,
    old: &[TableFieldSchema],
    new: &[TableFieldSchema],
    prefix: &str,
    drops: Drops,
) -> Result<(), String> {
    let by_name: HashMap<String, &TableFieldSchema> = new
        .iter()
        .map(|f| (f.name.to_ascii_lowercase(), f))
        .collect();
    for before in old {
        let path = format!("{prefix}{}", before.name);
        let Some(after) = by_name.get(&before.name.to_ascii_lowercase()) else {
            // BigQuery drops top-level columns only (ALTER TABLE DROP COLUMN).
            if drops == Drops::Refused || !prefix.is_empty() {
                return Err(format!(
                    "Provided Schema does not match Table {table_id}. Field {path} is missing in new schema"
                ));
            }
            continue;
        };
        if after.r#type != before.r#type {
            return Err(format!(
                "Provided Schema does not match Table {table_id}. Field {path} has changed type from {} to {}",
                type_name(before),
                type_name(after)
            ));
        }
        let (was, is) = (before.mode(), after.mode());
        let relaxed = was == Mode::Required && is == Mode::Nullable;
        if was != is && !relaxed && !(was == Mode::Unspecified && is == Mode::Nullable) {
            return Err(format!(
                "Provided Schema does not match Table {table_id}. Field {path} has changed mode from {} to {}",
                mode_name(was),
                mode_name(is)
            ));
        }
        check_fields(
            table_id,
            &before.fields,
            &after.fields,
            &format!("{path}."),
            drops,
        )?;
    }
    let old_names: Vec<String> = old.iter().map(|f| f.name.to_ascii_lowercase()).collect();
    for added in new {
        if old_names.contains(&added.name.to_ascii_lowercase()) {
            continue;
        }
        if added.mode() == Mode::Required {
            return Err(format!(
                "Provided Schema does not match Table {table_id}. Cannot add required field {prefix}{} to an existing schema (add it as NULLABLE or REPEATED)",
                added.name
            ));
        }
    }
    Ok(())
}

fn type_name(field: &TableFieldSchema) -> &'static str {
    field.r#type().as_str_name()
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Required => "REQUIRED",
        Mode::Repeated => "REPEATED",
        Mode::Nullable | Mode::Unspecified => "NULLABLE",
    }
}

/// The names of the top-level columns of `before` that `after` lacks.
pub(crate) fn dropped(before: &TableSchema, after: &TableSchema) -> Vec<String> {
    before
        .fields
        .iter()
        .filter(|b| {
            !after
                .fields
                .iter()
                .any(|a| a.name.eq_ignore_ascii_case(&b.name))
        })
        .map(|b| b.name.clone())
        .collect()
}

/// A row decoded with the writer schema it was written with, seen in the
/// table's current columns: values of dropped columns are left out, columns
/// the row does not know read as NULL.
pub(crate) fn project(row: Row, columns: &[Column]) -> Row {
    let mut values = row.into_columns();
    Row::new(
        columns
            .iter()
            .map(|c| {
                let value = values
                    .iter()
                    .position(|(name, _)| name.eq_ignore_ascii_case(&c.name))
                    .map_or(Value::Null, |i| values.swap_remove(i).1);
                (c.name.clone(), value)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bqwrite::proto::storage::table_field_schema::Type;

    fn field(name: &str, ty: Type, mode: Mode) -> TableFieldSchema {
        TableFieldSchema {
            name: name.into(),
            r#type: ty as i32,
            mode: mode as i32,
            ..Default::default()
        }
    }

    fn schema(fields: Vec<TableFieldSchema>) -> TableSchema {
        TableSchema { fields }
    }

    #[test]
    fn allowed_changes_pass_and_others_are_refused_with_the_field() {
        let old = schema(vec![
            field("id", Type::Int64, Mode::Required),
            field("note", Type::String, Mode::Required),
        ]);
        let added = schema(vec![
            field("id", Type::Int64, Mode::Required),
            field("note", Type::String, Mode::Nullable),
            field("extra", Type::String, Mode::Nullable),
            field("tags", Type::String, Mode::Repeated),
        ]);
        assert!(check_change("d.t", &old, &added, Drops::Refused).is_ok());
        let dropped_note = schema(vec![field("id", Type::Int64, Mode::Required)]);
        assert!(check_change("d.t", &old, &dropped_note, Drops::Allowed).is_ok());
        let e = check_change("d.t", &old, &dropped_note, Drops::Refused).unwrap_err();
        assert!(e.contains("Field note is missing in new schema"), "{e}");
        let retyped = schema(vec![
            field("id", Type::String, Mode::Required),
            field("note", Type::String, Mode::Required),
        ]);
        let e = check_change("d.t", &old, &retyped, Drops::Allowed).unwrap_err();
        assert!(
            e.contains("Field id has changed type from INT64 to STRING"),
            "{e}"
        );
        let tightened = schema(vec![
            field("id", Type::Int64, Mode::Repeated),
            field("note", Type::String, Mode::Required),
        ]);
        let e = check_change("d.t", &old, &tightened, Drops::Allowed).unwrap_err();
        assert!(e.contains("Field id has changed mode"), "{e}");
        let required_added = schema(vec![
            field("id", Type::Int64, Mode::Required),
            field("note", Type::String, Mode::Required),
            field("must", Type::Bool, Mode::Required),
        ]);
        let e = check_change("d.t", &old, &required_added, Drops::Allowed).unwrap_err();
        assert!(e.contains("Cannot add required field must"), "{e}");
    }

    #[test]
    fn the_write_path_follows_after_the_propagation_delay() {
        let first = schema(vec![field("id", Type::Int64, Mode::Required)]);
        let columns = schema::compile(&first).unwrap();
        let mut history = History::new(first.clone(), columns);
        let second = schema(vec![
            field("id", Type::Int64, Mode::Required),
            field("note", Type::String, Mode::Nullable),
        ]);
        let columns = schema::compile(&second).unwrap();
        let hour = Duration::from_secs(3600);
        history.push(second.clone(), columns.clone(), hour);
        assert_eq!(history.current().number, 1);
        assert_eq!(history.write_path(Instant::now()).number, 0);
        assert_eq!(history.write_path(Instant::now() + hour).number, 1);
        // A later change with no delay still waits for the earlier one.
        history.push(second, columns, Duration::ZERO);
        assert_eq!(history.write_path(Instant::now()).number, 0);
        assert_eq!(history.write_path(Instant::now() + hour).number, 2);
        assert_eq!(dropped(&history.current().schema, &first), vec!["note"]);
        assert!(dropped(&first, &history.current().schema).is_empty());
    }

    #[test]
    fn projection_drops_unknown_columns_and_fills_new_ones_with_null() {
        let now = schema(vec![
            field("id", Type::Int64, Mode::Required),
            field("extra", Type::String, Mode::Nullable),
        ]);
        let columns = schema::compile(&now).unwrap();
        let row = Row::new(vec![
            ("id".into(), Value::Int64(7)),
            ("gone".into(), Value::String("x".into())),
        ]);
        let seen = project(row, &columns);
        assert_eq!(
            seen.columns(),
            &[
                ("id".to_string(), Value::Int64(7)),
                ("extra".to_string(), Value::Null)
            ]
        );
    }
}
