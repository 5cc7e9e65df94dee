//! A table: its name, its schema's versions, and its visible rows (kept as
//! the validated protobuf bytes of the requests that wrote them, decoded
//! when read).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;

use crate::Error;
use crate::cdc::{self, PrimaryKey};
use crate::defaults::Defaults;
use crate::evolve::History;
use crate::values::decode::decode_row;
use crate::values::plan::RowPlan;
use crate::values::{Row, Value};

use super::lock;

/// The parts of `projects/{p}/datasets/{d}/tables/{t}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    pub project: String,
    pub dataset: String,
    pub table: String,
}

impl TableName {
    pub(crate) fn parse(path: &str) -> Option<TableName> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["projects", p, "datasets", d, "tables", t]
                if !p.is_empty() && !d.is_empty() && !t.is_empty() =>
            {
                Some(TableName {
                    project: p.to_string(),
                    dataset: d.to_string(),
                    table: t.to_string(),
                })
            }
            _ => None,
        }
    }

    pub(crate) fn path(&self) -> String {
        format!(
            "projects/{}/datasets/{}/tables/{}",
            self.project, self.dataset, self.table
        )
    }
}

/// Splits a stream name into its table path and stream id.
pub(crate) fn split_stream_name(name: &str) -> Option<(&str, &str)> {
    let (table, id) = name.rsplit_once("/streams/")?;
    (TableName::parse(table).is_some() && !id.is_empty() && !id.contains('/'))
        .then_some((table, id))
}

/// A batch of validated rows sharing one writer schema.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub plan: Arc<RowPlan>,
    pub rows: Vec<Bytes>,
    /// Per row, the default values of the top-level columns it left out
    /// (column index, value); empty when no row took a default.
    pub filled: Vec<Filled>,
}

/// The default values one row took, by top-level column index.
pub(crate) type Filled = Vec<(usize, Value)>;

impl Batch {
    /// Splits off the first `n` rows.
    pub(super) fn split_head(&mut self, n: usize) -> Batch {
        let rows: Vec<Bytes> = self.rows.drain(..n).collect();
        let filled = if self.filled.is_empty() {
            Vec::new()
        } else {
            self.filled.drain(..n).collect()
        };
        Batch {
            plan: self.plan.clone(),
            rows,
            filled,
        }
    }
}

/// A table's visible rows.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    batches: Vec<Batch>,
    count: usize,
}

impl Rows {
    pub(super) fn push(&mut self, batch: Batch) {
        self.count += batch.rows.len();
        self.batches.push(batch);
    }
}

/// One table.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: TableName,
    pub path: String,
    /// The primary key, when the table has one (see `cdc.rs`).
    pub primary_key: Option<PrimaryKey>,
    /// The schema's versions (see `evolve.rs`).
    pub(crate) history: Mutex<History>,
    /// A table recreated under the name of a deleted one answers AppendRows
    /// with NOT_FOUND until then, as BigQuery does for a while.
    pub(crate) not_found_until: Option<tokio::time::Instant>,
    /// The compiled default value expressions of its columns, by their
    /// index when the table was made (see `defaults.rs`).
    pub defaults: Defaults,
    pub created: SystemTime,
    pub(super) rows: Mutex<Rows>,
    pub(super) deleted: AtomicBool,
}

impl Table {
    pub(crate) fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// The number of visible rows (after merging the changes, with a
    /// primary key).
    pub(crate) fn row_count(&self) -> usize {
        match &self.primary_key {
            None => lock(&self.rows).count,
            Some(key) => self.merged(key).map_or(0, |rows| rows.len()),
        }
    }

    /// The rows with the changes merged by `key`.
    fn merged(&self, key: &PrimaryKey) -> Result<Vec<Row>, Error> {
        let batches = lock(&self.rows).batches.clone();
        let batches = batches
            .iter()
            .map(|b| (&b.plan, b.rows.as_slice(), b.filled.as_slice()));
        let merged = cdc::merge(key, batches).map_err(|(index, problem)| Error::CorruptRow {
            table: self.path.clone(),
            index,
            message: problem.to_string(),
        })?;
        let columns = self.columns();
        Ok(merged
            .into_iter()
            .map(|row| crate::evolve::project(row, &columns))
            .collect())
    }

    /// Decodes visible rows `start..start + max`.
    pub(crate) fn read_rows(&self, start: usize, max: usize) -> Result<Vec<Row>, Error> {
        if let Some(key) = &self.primary_key {
            let rows = self.merged(key)?;
            return Ok(rows.into_iter().skip(start).take(max).collect());
        }
        let batches: Vec<(Arc<RowPlan>, Vec<Bytes>, Vec<Filled>)> = {
            let rows = lock(&self.rows);
            let mut skip = start;
            let mut left = max;
            let mut picked = Vec::new();
            for batch in &rows.batches {
                if left == 0 {
                    break;
                }
                if skip >= batch.rows.len() {
                    skip -= batch.rows.len();
                    continue;
                }
                let take: Vec<Bytes> = batch.rows[skip..].iter().take(left).cloned().collect();
                let filled: Vec<Filled> =
                    batch.filled.iter().skip(skip).take(left).cloned().collect();
                skip = 0;
                left -= take.len();
                picked.push((batch.plan.clone(), take, filled));
            }
            picked
        };
        let columns = self.columns();
        let mut out = Vec::new();
        for (plan, rows, filled) in batches {
            for (i, bytes) in rows.iter().enumerate() {
                let defaults = filled.get(i).map(Vec::as_slice).unwrap_or_default();
                let taken: Vec<usize> = defaults.iter().map(|(column, _)| *column).collect();
                let mut row = decode_row(&plan, bytes, &taken).map_err(|e| Error::CorruptRow {
                    table: self.path.clone(),
                    index: start + out.len(),
                    message: e.to_string(),
                })?;
                for (column, value) in defaults {
                    row.set(*column, value.clone());
                }
                out.push(crate::evolve::project(row, &columns));
            }
        }
        Ok(out)
    }
}
