//! Change data capture: tables with a primary key take rows carrying the
//! pseudo-columns `_CHANGE_TYPE` (`UPSERT` or `DELETE`) and
//! `_CHANGE_SEQUENCE_NUMBER` on their `_default` stream, and show the changes
//! merged by key when read.
//!
//! Rows are stored as they arrived (pseudo-columns included); reading merges
//! them: per key the change with the highest sequence wins (sections
//! compared as numbers, one after the other, a prefix lower), equal or
//! absent sequences go to the later arrival (a change without a sequence
//! loses to one with), and a winning DELETE removes the key. A row without
//! `_CHANGE_TYPE` counts as an UPSERT. An UPSERT replaces the whole row.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use bqwrite::proto::descriptor::DescriptorProto;
use bytes::Bytes;
use prost_types::field_descriptor_proto::{Label, Type};

use crate::schema::{Column, ColumnMode, ColumnType, find_column};
use crate::store::Filled;
use crate::values::Row;
use crate::values::decode::{self, RowProblem};
use crate::values::plan::{self, RowPlan, SchemaProblem};
use crate::values::wire::{self, Raw, Reader};

/// The pseudo-column saying what a change does.
pub(crate) const CHANGE_TYPE: &str = "_CHANGE_TYPE";
/// The pseudo-column ordering the changes of a key.
pub(crate) const CHANGE_SEQUENCE_NUMBER: &str = "_CHANGE_SEQUENCE_NUMBER";
/// BigQuery's limit on primary-key columns.
pub(crate) const MAX_KEY_COLUMNS: usize = 16;

/// A table's primary key: its columns' names and positions.
#[derive(Debug, Clone)]
pub(crate) struct PrimaryKey {
    pub names: Vec<String>,
    indices: Vec<usize>,
}

impl PrimaryKey {
    /// Checks a declared primary key against the table's columns: 1 to 16
    /// distinct top-level columns, none REPEATED, STRUCT or JSON.
    pub(crate) fn new(columns: &[Column], names: Vec<String>) -> Result<Self, String> {
        if names.is_empty() {
            return Err("a primary key needs at least one column".into());
        }
        if names.len() > MAX_KEY_COLUMNS {
            return Err(format!(
                "a primary key has at most {MAX_KEY_COLUMNS} columns; {} were given",
                names.len()
            ));
        }
        let mut indices = Vec::with_capacity(names.len());
        for name in &names {
            let index = find_column(columns, name).ok_or_else(|| {
                format!("primary key column `{name}` is not a column of the table")
            })?;
            if indices.contains(&index) {
                return Err(format!("primary key column `{name}` is listed twice"));
            }
            let column = &columns[index];
            if column.mode == ColumnMode::Repeated
                || matches!(column.ty, ColumnType::Struct | ColumnType::Json)
            {
                return Err(format!(
                    "column `{name}` cannot be in a primary key (REPEATED, STRUCT and JSON columns cannot)"
                ));
            }
            indices.push(index);
        }
        let names = indices.iter().map(|&i| columns[i].name.clone()).collect();
        Ok(Self { names, indices })
    }
}

/// The field numbers of the pseudo-columns in a writer schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChangeFields {
    change_type: Option<u32>,
    sequence: Option<u32>,
}

/// Compiles a writer schema for a stream of a table: the pseudo-columns
/// are taken out of it and remembered, and allowed only on the `_default`
/// stream of a table with a primary key whose columns all have a field.
pub(crate) fn compile(
    descriptor: &DescriptorProto,
    columns: &Arc<[Column]>,
    key: Option<&PrimaryKey>,
    default_stream: bool,
) -> Result<RowPlan, SchemaProblem> {
    let mut rest = descriptor.clone();
    let mut fields = ChangeFields::default();
    let mut found = Vec::new();
    rest.field.retain(|f| {
        let name = f
            .options
            .as_ref()
            .and_then(|o| o.column_name.as_deref())
            .unwrap_or(f.name());
        let slot = if name.eq_ignore_ascii_case(CHANGE_TYPE) {
            &mut fields.change_type
        } else if name.eq_ignore_ascii_case(CHANGE_SEQUENCE_NUMBER) {
            &mut fields.sequence
        } else {
            return true;
        };
        *slot = Some(f.number() as u32);
        found.push(f.clone());
        false
    });
    if found.is_empty() {
        return plan::compile(descriptor, columns);
    }
    let invalid = |m: String| Err(SchemaProblem::Invalid(m));
    let Some(key) = key else {
        return invalid(format!(
            "`{CHANGE_TYPE}` and `{CHANGE_SEQUENCE_NUMBER}` are accepted only on tables with a primary key, and this table has none"
        ));
    };
    if !default_stream {
        return invalid(format!(
            "`{CHANGE_TYPE}` and `{CHANGE_SEQUENCE_NUMBER}` are accepted only on the _default stream"
        ));
    }
    for f in &found {
        if f.r#type() != Type::String || f.label() == Label::Repeated {
            return invalid(format!(
                "pseudo-column `{}` must be a non-repeated string field",
                f.name()
            ));
        }
    }
    let mut plan = plan::compile(&rest, columns)?;
    for name in &key.names {
        let has_field = plan
            .root
            .fields
            .iter()
            .any(|f| columns[f.column].name == *name);
        if !has_field {
            return invalid(format!(
                "writer_schema has no field for primary key column `{name}`: changes need every primary key column"
            ));
        }
    }
    plan.changes = Some(fields);
    Ok(plan)
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Upsert,
    Delete,
}

/// A row's pseudo-column values.
#[derive(Debug, Default)]
struct Pseudo {
    kind: Option<Kind>,
    sequence: Option<Vec<u64>>,
}

/// Checks a row: its pseudo-columns, then the rest as any row.
pub(crate) fn check_row(plan: &RowPlan, bytes: &[u8]) -> Result<(), RowProblem> {
    decode::check_row(plan, &without_pseudo(plan, bytes)?)
}

/// The row without its pseudo-columns (checked), to check as a plain row.
pub(crate) fn without_pseudo<'a>(
    plan: &RowPlan,
    bytes: &'a [u8],
) -> Result<Cow<'a, [u8]>, RowProblem> {
    split(plan, bytes).map(|(rest, _)| rest)
}

/// The row without its pseudo-columns, and their values.
fn split<'a>(plan: &RowPlan, bytes: &'a [u8]) -> Result<(Cow<'a, [u8]>, Pseudo), RowProblem> {
    let Some(fields) = plan.changes else {
        return Ok((Cow::Borrowed(bytes), Pseudo::default()));
    };
    let mut pseudo = Pseudo::default();
    let mut rest: Option<Vec<u8>> = None;
    let mut reader = Reader::new(bytes);
    while !reader.is_done() {
        let start = reader.position();
        let (number, wire_type, raw) = reader.field().map_err(|e| RowProblem {
            column: None,
            problem: format!("the row is not a valid protobuf message: {e}"),
        })?;
        let is_type = Some(number) == fields.change_type;
        if !is_type && Some(number) != fields.sequence {
            if let Some(rest) = &mut rest {
                rest.extend_from_slice(&bytes[start..reader.position()]);
            }
            continue;
        }
        rest.get_or_insert_with(|| bytes[..start].to_vec());
        let column = if is_type {
            CHANGE_TYPE
        } else {
            CHANGE_SEQUENCE_NUMBER
        };
        let text = match raw {
            Raw::Len(data) if wire_type == wire::LEN => std::str::from_utf8(data).ok(),
            _ => None,
        }
        .ok_or_else(|| problem(column, "expected a UTF-8 string".into()))?;
        if is_type {
            pseudo.kind = Some(parse_kind(text).map_err(|p| problem(column, p))?);
        } else {
            pseudo.sequence = Some(parse_sequence(text).map_err(|p| problem(column, p))?);
        }
    }
    Ok((rest.map_or(Cow::Borrowed(bytes), Cow::Owned), pseudo))
}

fn problem(column: &str, problem: String) -> RowProblem {
    RowProblem {
        column: Some(column.to_owned()),
        problem,
    }
}

fn parse_kind(text: &str) -> Result<Kind, String> {
    if text.eq_ignore_ascii_case("UPSERT") {
        Ok(Kind::Upsert)
    } else if text.eq_ignore_ascii_case("DELETE") {
        Ok(Kind::Delete)
    } else {
        Err(format!(
            "{text:?} is not a change type: expected UPSERT or DELETE"
        ))
    }
}

/// `1/2A`: 1 to 4 sections of 1 to 16 hexadecimal digits.
fn parse_sequence(text: &str) -> Result<Vec<u64>, String> {
    let bad = || {
        format!(
            "{text:?} is not a change sequence number: expected 1 to 4 sections of 1 to 16 hexadecimal digits separated by `/`"
        )
    };
    let sections: Vec<&str> = text.split('/').collect();
    if sections.len() > 4 {
        return Err(bad());
    }
    sections
        .iter()
        .map(|s| {
            if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            u64::from_str_radix(s, 16).map_err(|_| bad())
        })
        .collect()
}

/// The latest change of one key.
struct Latest {
    sequence: Option<Vec<u64>>,
    arrival: usize,
    /// `None` once deleted.
    row: Option<Row>,
}

/// Whether a change with `new` sequence, arriving later, replaces one
/// with `old`.
fn replaces(new: &Option<Vec<u64>>, old: &Option<Vec<u64>>) -> bool {
    match (new, old) {
        (Some(new), Some(old)) => new >= old,
        (None, Some(_)) => false,
        (_, None) => true,
    }
}

/// The table's rows with the changes applied, in the order their winning
/// changes arrived. `batches` are the stored rows in arrival order.
pub(crate) fn merge<'a>(
    key: &PrimaryKey,
    batches: impl IntoIterator<Item = (&'a Arc<RowPlan>, &'a [Bytes], &'a [Filled])>,
) -> Result<Vec<Row>, (usize, RowProblem)> {
    let mut latest: HashMap<String, Latest> = HashMap::new();
    let mut arrival = 0;
    for (plan, rows, filled) in batches {
        for (i, bytes) in rows.iter().enumerate() {
            let (rest, pseudo) = split(plan, bytes).map_err(|p| (arrival, p))?;
            // the column defaults the row took when it was written
            let defaults = filled.get(i).map(Vec::as_slice).unwrap_or_default();
            let taken: Vec<usize> = defaults.iter().map(|(column, _)| *column).collect();
            let mut row = decode::decode_row(plan, &rest, &taken).map_err(|p| (arrival, p))?;
            for (column, value) in defaults {
                row.set(*column, value.clone());
            }
            let id = key_of(key, &row);
            let change = Latest {
                sequence: pseudo.sequence,
                arrival,
                row: (pseudo.kind != Some(Kind::Delete)).then_some(row),
            };
            match latest.get_mut(&id) {
                Some(old) if !replaces(&change.sequence, &old.sequence) => {}
                Some(old) => *old = change,
                None => {
                    latest.insert(id, change);
                }
            }
            arrival += 1;
        }
    }
    let mut live: Vec<Latest> = latest.into_values().filter(|l| l.row.is_some()).collect();
    live.sort_by_key(|l| l.arrival);
    Ok(live.into_iter().filter_map(|l| l.row).collect())
}

/// A key's identity: its columns' values as JSON text.
fn key_of(key: &PrimaryKey, row: &Row) -> String {
    let columns = row.columns();
    let values: Vec<_> = key
        .indices
        .iter()
        .map(|&i| columns[i].1.to_json())
        .collect();
    serde_json::Value::Array(values).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_parse_and_compare_by_section() {
        assert_eq!(parse_sequence("1/2a").unwrap(), vec![1, 0x2a]);
        assert_eq!(parse_sequence("ffffffffffffffff").unwrap(), vec![u64::MAX]);
        for bad in ["", "1//2", "1/2/3/4/5", "x", "00000000000000001"] {
            assert!(parse_sequence(bad).is_err(), "{bad:?}");
        }
        let s = |t: &str| Some(parse_sequence(t).unwrap());
        assert!(replaces(&s("100"), &s("ff")));
        assert!(!replaces(&s("1/2"), &s("1/2/0")));
        assert!(
            replaces(&s("1/2"), &s("1/2")),
            "a tie goes to the later arrival"
        );
        assert!(!replaces(&None, &s("0")));
        assert!(replaces(&s("0"), &None));
        assert!(replaces(&None, &None));
    }

    #[test]
    fn change_types() {
        assert_eq!(parse_kind("UPSERT"), Ok(Kind::Upsert));
        assert_eq!(parse_kind("delete"), Ok(Kind::Delete));
        assert!(
            parse_kind("INSERT")
                .unwrap_err()
                .contains("UPSERT or DELETE")
        );
    }
}
