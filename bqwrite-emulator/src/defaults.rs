//! Column default values: a table's `defaultValueExpression`s, checked when
//! the table is created, and evaluated for the rows of an append that leave
//! a column out and ask for its default (`missing_value_interpretations`,
//! `default_missing_value_interpretation`).
//!
//! Supported expressions: literals of the column's type (`'text'`, `42`,
//! `1.5`, `TRUE`, `b'bytes'`, `NULL`, typed literals such as
//! `DATE '2024-01-01'`, `TIMESTAMP '...'`, `NUMERIC '1.5'`, `JSON '{}'`,
//! and string literals coerced to the column's type) and the functions
//! `CURRENT_TIMESTAMP()`, `CURRENT_DATE()`, `CURRENT_DATETIME()`,
//! `CURRENT_TIME()` (UTC, the time of the append) and `GENERATE_UUID()` (a
//! random version 4 UUID per row). Anything else is refused at table
//! creation, naming the column.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bqwrite::proto::storage::TableFieldSchema;
use bqwrite::proto::storage::append_rows_request::MissingValueInterpretation as Interpretation;

use bytes::Bytes;

use crate::cdc::{check_row, without_pseudo};
use crate::schema::{Column, ColumnMode, ColumnType, find_column};
use crate::store::Filled;
use crate::values::Value;
use crate::values::civil::{self, Hms, Ymd};
use crate::values::decode::{Literal, RowProblem, check_row_defaulted, literal_value};
use crate::values::plan::RowPlan;

/// A column's compiled default value expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DefaultExpr {
    /// A literal, already of the column's type.
    Constant(Value),
    CurrentTimestamp,
    CurrentDate,
    CurrentDateTime,
    CurrentTime,
    GenerateUuid,
}

/// The defaults of a table: top-level column index and its expression.
pub(crate) type Defaults = Vec<(usize, DefaultExpr)>;

/// Compiles the default value expressions of a table's columns (`fields`
/// and `columns` in the same order, as `schema::compile` made them).
pub(crate) fn compile(fields: &[TableFieldSchema], columns: &[Column]) -> Result<Defaults, String> {
    let mut defaults = Vec::new();
    for (index, (field, column)) in fields.iter().zip(columns).enumerate() {
        refuse_nested(&field.fields, &format!("{}.", field.name))?;
        let text = field.default_value_expression.trim();
        if !text.is_empty() {
            defaults.push((index, compile_one(text, column)?));
        }
    }
    Ok(defaults)
}

/// BigQuery sets a STRUCT column's default for the whole STRUCT, never on
/// one of its fields.
fn refuse_nested(fields: &[TableFieldSchema], prefix: &str) -> Result<(), String> {
    for field in fields {
        let path = format!("{prefix}{}", field.name);
        if !field.default_value_expression.trim().is_empty() {
            return Err(format!(
                "field `{path}` has a default value expression, but only top-level columns can have one (a STRUCT column's default is set for the whole STRUCT)"
            ));
        }
        refuse_nested(&field.fields, &format!("{path}."))?;
    }
    Ok(())
}

const SUPPORTED: &str = "literals, CURRENT_TIMESTAMP(), CURRENT_DATE(), CURRENT_DATETIME(), CURRENT_TIME() and GENERATE_UUID()";

fn compile_one(text: &str, column: &Column) -> Result<DefaultExpr, String> {
    let name = &column.name;
    let ty = column.ty;
    if column.mode == ColumnMode::Repeated || ty == ColumnType::Struct {
        let kind = if column.mode == ColumnMode::Repeated {
            "REPEATED"
        } else {
            ty.name()
        };
        return Err(format!(
            "default value expression `{text}` of column `{name}`: the emulator supports defaults of non-REPEATED scalar columns, and `{name}` is {kind}"
        ));
    }
    let expr = match function(text) {
        Some(Ok((function, returns))) => {
            if returns != ty {
                return Err(format!(
                    "default value expression `{text}` of column `{name}` is {}, but the column is {}",
                    returns.name(),
                    ty.name()
                ));
            }
            function
        }
        Some(Err(unsupported)) => {
            return Err(format!(
                "default value expression `{text}` of column `{name}`: {unsupported} is not supported by the emulator (it supports {SUPPORTED})"
            ));
        }
        None => DefaultExpr::Constant(literal(text, ty).map_err(|why| {
            format!("default value expression `{text}` of column `{name}` {why}")
        })?),
    };
    if expr == DefaultExpr::Constant(Value::Null) && column.mode == ColumnMode::Required {
        return Err(format!(
            "default value expression `{text}` of REQUIRED column `{name}` is NULL"
        ));
    }
    Ok(expr)
}

/// A function call: `Some(Ok)` for a supported one with its result type,
/// `Some(Err(name))` for any other call, `None` for anything else.
fn function(text: &str) -> Option<Result<(DefaultExpr, ColumnType), String>> {
    let (name, args) = match text.split_once('(') {
        Some((name, rest)) => (name.trim(), Some(rest.trim())),
        None => (text, None),
    };
    let is_identifier = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !is_identifier || (args.is_none() && !name.to_ascii_uppercase().starts_with("CURRENT_")) {
        return None;
    }
    let upper = name.to_ascii_uppercase();
    let no_args = matches!(args, None | Some(")"));
    let found = match upper.as_str() {
        "CURRENT_TIMESTAMP" if no_args => (DefaultExpr::CurrentTimestamp, ColumnType::Timestamp),
        "CURRENT_DATE" if no_args => (DefaultExpr::CurrentDate, ColumnType::Date),
        "CURRENT_DATETIME" if no_args => (DefaultExpr::CurrentDateTime, ColumnType::DateTime),
        "CURRENT_TIME" if no_args => (DefaultExpr::CurrentTime, ColumnType::Time),
        "GENERATE_UUID" if args == Some(")") => (DefaultExpr::GenerateUuid, ColumnType::String),
        // TRUE, FALSE and NULL are literals; typed literals have no `(`
        "TRUE" | "FALSE" | "NULL" if args.is_none() => return None,
        _ => return Some(Err(format!("the function call `{text}`"))),
    };
    Some(Ok(found))
}

/// A literal of a column of type `ty`, or why it is not one.
fn literal(text: &str, ty: ColumnType) -> Result<Value, String> {
    let upper = text.to_ascii_uppercase();
    if upper == "NULL" {
        return Ok(Value::Null);
    }
    if upper == "TRUE" || upper == "FALSE" {
        return typed(ty, Literal::Bool(upper == "TRUE"), "BOOL");
    }
    if let Some(body) = quoted(text, &['b', 'B']) {
        return typed(ty, Literal::Bytes(body?.as_bytes()), "BYTES");
    }
    if let Some(body) = quoted(text, &[]) {
        // a string literal coerces to the column's type, as in GoogleSQL
        return literal_value(ty, Literal::Text(&body?))
            .map_err(|e| format!("is not a valid {}: {e}", ty.name()));
    }
    if let Some((prefix, rest)) = text.split_once(|c: char| c.is_whitespace())
        && let Some(body) = quoted(rest.trim(), &[])
    {
        let literal_type = typed_literal_type(prefix)
            .ok_or_else(|| format!("has an unknown literal prefix `{prefix}`"))?;
        if literal_type != ty {
            return Err(format!(
                "is a {} literal, but the column is {}",
                literal_type.name(),
                ty.name()
            ));
        }
        return literal_value(ty, Literal::Text(&body?))
            .map_err(|e| format!("is not a valid {}: {e}", ty.name()));
    }
    number(text, ty)
}

fn typed(ty: ColumnType, literal: Literal<'_>, literal_type: &str) -> Result<Value, String> {
    literal_value(ty, literal).map_err(|_| {
        format!(
            "is a {literal_type} literal, but the column is {}",
            ty.name()
        )
    })
}

fn typed_literal_type(prefix: &str) -> Option<ColumnType> {
    Some(match prefix.to_ascii_uppercase().as_str() {
        "DATE" => ColumnType::Date,
        "DATETIME" => ColumnType::DateTime,
        "TIME" => ColumnType::Time,
        "TIMESTAMP" => ColumnType::Timestamp,
        "NUMERIC" | "DECIMAL" => ColumnType::Numeric,
        "BIGNUMERIC" | "BIGDECIMAL" => ColumnType::BigNumeric,
        "JSON" => ColumnType::Json,
        _ => return None,
    })
}

/// A numeric literal: INT64 for integers, FLOAT64 otherwise; both coerce to
/// NUMERIC and BIGNUMERIC, and integers to FLOAT64.
fn number(text: &str, ty: ColumnType) -> Result<Value, String> {
    let unsupported = || format!("is not a literal; the emulator supports {SUPPORTED}");
    let digits = text.trim_start_matches(['-', '+']);
    if digits.is_empty() || !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return Err(unsupported());
    }
    let integer = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        let magnitude = i64::from_str_radix(hex, 16).map_err(|_| unsupported())?;
        Some(if text.starts_with('-') {
            -magnitude
        } else {
            magnitude
        })
    } else if digits.chars().all(|c| c.is_ascii_digit()) {
        Some(
            text.parse::<i64>()
                .map_err(|_| "is an integer outside INT64".to_owned())?,
        )
    } else {
        None
    };
    let float: f64 = match integer {
        Some(i) => i as f64,
        None => text.parse().map_err(|_| unsupported())?,
    };
    let literal_type = if integer.is_some() {
        "INT64"
    } else {
        "FLOAT64"
    };
    match (ty, integer) {
        (ColumnType::Int64, Some(i)) => typed(ty, Literal::Int(i), literal_type),
        (ColumnType::Float64, _) => typed(ty, Literal::Float(float), literal_type),
        (ColumnType::Numeric | ColumnType::BigNumeric, _) => literal_value(ty, Literal::Text(text))
            .map_err(|e| format!("is not a valid {}: {e}", ty.name())),
        _ => Err(format!(
            "is a {literal_type} literal, but the column is {}",
            ty.name()
        )),
    }
}

/// The text of a quoted string literal (`'...'` or `"..."`, after one of
/// `prefixes` when given), with its escapes resolved; `None` when `text` is
/// not one.
fn quoted(text: &str, prefixes: &[char]) -> Option<Result<String, String>> {
    let body = if prefixes.is_empty() {
        text
    } else {
        text.strip_prefix(prefixes)?
    };
    let quote = body.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = body[1..].strip_suffix(quote)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return Some(Err(format!(
                "has an unescaped {quote} inside its string literal"
            )));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some(c @ ('\\' | '\'' | '"' | '`' | '?')) => c,
            Some(other) => {
                return Some(Err(format!(
                    "has the escape `\\{other}`, which the emulator does not support"
                )));
            }
            None => return Some(Err("ends its string literal with a lone `\\`".into())),
        });
    }
    Some(Ok(out))
}

impl DefaultExpr {
    /// The value for one row appended at `now`.
    pub(crate) fn eval(&self, now: SystemTime) -> Value {
        let micros = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let days = micros.div_euclid(86_400_000_000);
        let micros_of_day = micros.rem_euclid(86_400_000_000);
        let time = || {
            let seconds = micros_of_day / 1_000_000;
            Hms {
                hour: (seconds / 3600) as u32,
                minute: (seconds / 60 % 60) as u32,
                second: (seconds % 60) as u32,
                micros: (micros_of_day % 1_000_000) as u32,
            }
        };
        match self {
            DefaultExpr::Constant(value) => value.clone(),
            DefaultExpr::CurrentTimestamp => Value::Timestamp(micros),
            DefaultExpr::CurrentDate => {
                Value::Date(civil::format_date(i32::try_from(days).unwrap_or(i32::MAX)))
            }
            DefaultExpr::CurrentDateTime => Value::DateTime(civil::format_datetime(
                civil::pack_datetime(Ymd::from_days(days), time()),
            )),
            DefaultExpr::CurrentTime => Value::Time(civil::format_time(civil::pack_time(time()))),
            DefaultExpr::GenerateUuid => Value::String(uuid_v4()),
        }
    }
}

/// A random version 4 UUID in its canonical text form. The bits come from
/// the standard library's randomly keyed hasher and a counter: unique and
/// unpredictable enough for an emulator, and no extra dependency.
fn uuid_v4() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = |salt: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u64(salt);
        hasher.finish()
    };
    let bits = (u128::from(random(1)) << 64) | u128::from(random(2));
    let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The missing-value interpretation of each column with a default, for one
/// request: the request's map first, then the connection's setting.
///
/// Returns the columns (indices into `columns`) whose absent values take
/// their default, or why the request's interpretations are invalid.
pub(crate) fn defaulted_columns(
    columns: &[Column],
    defaults: &Defaults,
    per_column: &HashMap<String, i32>,
    connection: Interpretation,
) -> Result<Vec<usize>, String> {
    let mut by_column: HashMap<usize, Interpretation> = HashMap::new();
    for (name, &value) in per_column {
        let interpretation = match Interpretation::try_from(value) {
            Ok(Interpretation::Unspecified) => {
                return Err(format!(
                    "missing_value_interpretations[{name:?}] is MISSING_VALUE_INTERPRETATION_UNSPECIFIED; use NULL_VALUE or DEFAULT_VALUE"
                ));
            }
            Ok(known) => known,
            Err(_) => {
                return Err(format!(
                    "missing_value_interpretations[{name:?}] has the unknown value {value}"
                ));
            }
        };
        let column = find_column(columns, name).ok_or_else(|| {
            if name.contains('.') {
                format!("missing_value_interpretations names {name:?}, but only top-level columns can be named, not STRUCT field paths")
            } else {
                format!("missing_value_interpretations names {name:?}, which is not a column of the table")
            }
        })?;
        by_column.insert(column, interpretation);
    }
    Ok(defaults
        .iter()
        .map(|(column, _)| *column)
        .filter(|column| {
            by_column.get(column).copied().unwrap_or(connection) == Interpretation::DefaultValue
        })
        .collect())
}

/// The connection's missing-value interpretation after a request that sets
/// `default_missing_value_interpretation` to `value`: it holds for the rest
/// of the connection, and unset (0) leaves the last one in force.
pub(crate) fn connection_setting(
    current: Interpretation,
    value: i32,
) -> Result<Interpretation, String> {
    match Interpretation::try_from(value) {
        Ok(Interpretation::Unspecified) => Ok(current),
        Ok(set) => Ok(set),
        Err(_) => Err(format!(
            "default_missing_value_interpretation has the unknown value {value}"
        )),
    }
}

/// Checks the rows of a request whose top-level columns `defaulted` take
/// their default when absent, and evaluates those defaults (at `now`, the
/// time of the append); or every bad row, by index, with its problem.
pub(crate) fn check_rows(
    plan: &RowPlan,
    rows: &[Bytes],
    defaulted: &[usize],
    defaults: &Defaults,
    now: SystemTime,
) -> Result<Vec<Filled>, Vec<(usize, RowProblem)>> {
    if defaulted.is_empty() {
        let problems: Vec<(usize, RowProblem)> = rows
            .iter()
            .enumerate()
            .filter_map(|(index, bytes)| check_row(plan, bytes).err().map(|p| (index, p)))
            .collect();
        return if problems.is_empty() {
            Ok(Vec::new())
        } else {
            Err(problems)
        };
    }
    let mut filled = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    for (index, bytes) in rows.iter().enumerate() {
        let checked =
            without_pseudo(plan, bytes).and_then(|row| check_row_defaulted(plan, &row, defaulted));
        match checked {
            Ok(absent) => filled.push(
                defaults
                    .iter()
                    .filter(|(column, _)| absent.contains(column))
                    .map(|(column, expr)| (*column, expr.eval(now)))
                    .collect(),
            ),
            Err(problem) => problems.push((index, problem)),
        }
    }
    if problems.is_empty() {
        Ok(filled)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
#[path = "defaults_tests.rs"]
mod tests;
