//! Row decoding and validation: walks a row's protobuf bytes with a compiled
//! [`RowPlan`], checks every value against its column's BigQuery type, and
//! (when asked) builds the typed [`Value`]s. Checking alone allocates nothing.

use super::civil;
use super::decimal::{self, DecimalKind};
use super::plan::{FieldPlan, MessagePlan, RangePlan, RowPlan, Src, Target};
use super::repeat::{Seen, last_value_wins, sets_a_singular_field_twice};
use super::wire::{self, Raw, Reader};
use super::{Row, Value};
use crate::schema::{ColumnMode, ColumnType, RangeElement};

/// What is wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowProblem {
    /// The column path (`a.b`) the problem is in, when it is in one.
    pub column: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "column `{c}`: {}", self.problem),
            None => f.write_str(&self.problem),
        }
    }
}

impl RowProblem {
    fn at(column: &str, problem: impl Into<String>) -> Self {
        RowProblem {
            column: Some(column.to_string()),
            problem: problem.into(),
        }
    }
    fn undecodable(problem: String) -> Self {
        RowProblem {
            column: None,
            problem: format!("the row is not a valid protobuf message: {problem}"),
        }
    }
    /// Puts a parent column in front of the path.
    fn within(self, parent: &str) -> Self {
        RowProblem {
            column: Some(match self.column {
                Some(c) => format!("{parent}.{c}"),
                None => parent.to_string(),
            }),
            problem: self.problem,
        }
    }
}

/// Checks one row without building values.
pub(crate) fn check_row(plan: &RowPlan, bytes: &[u8]) -> Result<(), RowProblem> {
    walk(&plan.root, bytes, None, &[])
}

/// Checks one row whose top-level columns `defaulted` take their default
/// value when absent (so may be absent even when REQUIRED); returns those
/// of them the row leaves out.
pub(crate) fn check_row_defaulted(
    plan: &RowPlan,
    bytes: &[u8],
    defaulted: &[usize],
) -> Result<Vec<usize>, RowProblem> {
    walk(&plan.root, bytes, None, defaulted)?;
    Ok(defaulted
        .iter()
        .copied()
        .filter(|&column| !sets_column(&plan.root, bytes, column))
        .collect())
}

/// Whether a (checked) message has a value for the column `column`.
fn sets_column(plan: &MessagePlan, bytes: &[u8], column: usize) -> bool {
    let mut reader = Reader::new(bytes);
    while !reader.is_done() {
        let Ok((number, _, _)) = reader.field() else {
            return false;
        };
        if plan
            .slot(number)
            .is_some_and(|slot| plan.fields[slot].column == column)
        {
            return true;
        }
    }
    false
}

/// Decodes one (already checked) row into typed values, in column order;
/// the top-level columns `defaulted` took their default, so may be absent.
pub(crate) fn decode_row(
    plan: &RowPlan,
    bytes: &[u8],
    defaulted: &[usize],
) -> Result<Row, RowProblem> {
    let mut values = Vec::new();
    walk(&plan.root, bytes, Some(&mut values), defaulted)?;
    Ok(to_row(&plan.root, values))
}

fn to_row(plan: &MessagePlan, values: Vec<Value>) -> Row {
    Row::new(
        plan.columns
            .iter()
            .map(|c| c.name.clone())
            .zip(values)
            .collect(),
    )
}

/// How one pass over a message ended.
enum Walked {
    Done,
    /// A non-repeated field occurs twice: the pass stopped there.
    SetTwice,
}

/// Walks a message; the columns `excused` may be absent even when REQUIRED.
///
/// A message that sets a non-repeated field more than once (rare) is read
/// as protobuf parses it, each such field's last value winning. One pass
/// finds that out on the way (or, when it fails first, a look for such a
/// field after the failure): rows are not read twice to check for it.
fn walk(
    plan: &MessagePlan,
    bytes: &[u8],
    mut out: Option<&mut Vec<Value>>,
    excused: &[usize],
) -> Result<(), RowProblem> {
    match walk_once(plan, bytes, out.as_deref_mut(), excused) {
        Ok(Walked::Done) => return Ok(()),
        Ok(Walked::SetTwice) => {}
        Err(problem) if !sets_a_singular_field_twice(plan, bytes) => return Err(problem),
        Err(_) => {}
    }
    match walk_once(plan, &last_value_wins(plan, bytes), out, excused)? {
        Walked::Done => Ok(()),
        Walked::SetTwice => Err(RowProblem::undecodable(
            "internal: a field is set twice after merging".into(),
        )),
    }
}

/// One pass over a message; stops at the first non-repeated field set a
/// second time.
fn walk_once(
    plan: &MessagePlan,
    bytes: &[u8],
    mut out: Option<&mut Vec<Value>>,
    excused: &[usize],
) -> Result<Walked, RowProblem> {
    if let Some(out) = out.as_deref_mut() {
        out.clear();
        out.extend(plan.columns.iter().map(|c| {
            if c.mode == ColumnMode::Repeated {
                Value::Array(Vec::new())
            } else {
                Value::Null
            }
        }));
    }
    let want = out.is_some();
    let mut seen = Seen::new(plan.fields.len());
    let mut reader = Reader::new(bytes);
    while !reader.is_done() {
        let (number, wire_type, raw) = reader.field().map_err(RowProblem::undecodable)?;
        let Some(slot) = plan.slot(number) else {
            return Err(RowProblem {
                column: None,
                problem: format!(
                    "field number {number} is not declared in writer_schema (unknown fields are rejected)"
                ),
            });
        };
        let field = &plan.fields[slot];
        let column = &plan.columns[field.column].name;
        let expected = field.src.wire_type();
        if field.repeated && wire_type == wire::LEN && expected != wire::LEN {
            let Raw::Len(data) = raw else {
                return Err(RowProblem::undecodable(
                    "internal: length-delimited value expected".into(),
                ));
            };
            let mut packed = Reader::new(data);
            while !packed.is_done() {
                let raw = packed
                    .packed(expected)
                    .map_err(|e| RowProblem::at(column, format!("malformed packed values: {e}")))?;
                let value = field_value(field, raw, want).map_err(|p| p.within(column))?;
                push(&mut out, field, value);
            }
            continue;
        }
        if wire_type != expected {
            return Err(RowProblem::at(
                column,
                format!(
                    "field {number} is declared {} ({} wire type) but was encoded with the {} wire type",
                    field.src.name(),
                    wire::wire_type_name(expected),
                    wire::wire_type_name(wire_type)
                ),
            ));
        }
        if !field.repeated && seen.set(slot) {
            return Ok(Walked::SetTwice);
        }
        let value = field_value(field, raw, want).map_err(|p| p.within(column))?;
        push(&mut out, field, value);
    }
    for &(column, slot) in &plan.required {
        if !slot.is_some_and(|s| seen.get(s)) && !excused.contains(&column) {
            let name = &plan.columns[column].name;
            return Err(RowProblem::at(
                name,
                if slot.is_none() {
                    "REQUIRED column has no value (writer_schema has no field for it)"
                } else {
                    "REQUIRED column has no value"
                },
            ));
        }
    }
    for &slot in &plan.proto_required {
        if !seen.get(slot) {
            let name = &plan.columns[plan.fields[slot].column].name;
            return Err(RowProblem::at(
                name,
                "field is `required` in writer_schema but absent from the row",
            ));
        }
    }
    Ok(Walked::Done)
}

fn push(out: &mut Option<&mut Vec<Value>>, field: &FieldPlan, value: Option<Value>) {
    if let (Some(out), Some(value)) = (out.as_deref_mut(), value) {
        let slot = &mut out[field.column];
        if field.repeated {
            if let Value::Array(items) = slot {
                items.push(value);
            }
        } else {
            *slot = value;
        }
    }
}

/// A raw value read as its declared proto type.
#[derive(Debug, Clone, Copy)]
enum Prim<'a> {
    I(i64),
    U(u64),
    F(f64),
    B(bool),
    S(&'a str),
    Y(&'a [u8]),
    /// An enum number, and its name when wanted.
    E(i32, Option<&'a str>),
    M(&'a [u8]),
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn prim<'a>(src: &'a Src, raw: Raw<'a>) -> Result<Prim<'a>, String> {
    Ok(match (src, raw) {
        (Src::Int32, Raw::Varint(v)) => Prim::I(i64::from(v as i32)),
        (Src::Int64, Raw::Varint(v)) => Prim::I(v as i64),
        (Src::UInt32, Raw::Varint(v)) => Prim::I(i64::from(v as u32)),
        (Src::UInt64, Raw::Varint(v)) => Prim::U(v),
        (Src::SInt32, Raw::Varint(v)) => Prim::I(i64::from(zigzag(u64::from(v as u32)) as i32)),
        (Src::SInt64, Raw::Varint(v)) => Prim::I(zigzag(v)),
        (Src::Bool, Raw::Varint(v)) => Prim::B(v != 0),
        (Src::Enum(values), Raw::Varint(v)) => {
            let number = v as i32;
            match values.values.get(&number) {
                Some(name) => Prim::E(number, Some(name)),
                None => {
                    return Err(format!("{number} is not a value of enum `{}`", values.name));
                }
            }
        }
        (Src::Fixed32, Raw::Fixed32(v)) => Prim::I(i64::from(v)),
        (Src::SFixed32, Raw::Fixed32(v)) => Prim::I(i64::from(v as i32)),
        (Src::Float, Raw::Fixed32(v)) => Prim::F(f64::from(f32::from_bits(v))),
        (Src::Fixed64, Raw::Fixed64(v)) => Prim::U(v),
        (Src::SFixed64, Raw::Fixed64(v)) => Prim::I(v as i64),
        (Src::Double, Raw::Fixed64(v)) => Prim::F(f64::from_bits(v)),
        (Src::String, Raw::Len(b)) => Prim::S(
            std::str::from_utf8(b).map_err(|e| format!("string value is not valid UTF-8: {e}"))?,
        ),
        (Src::Bytes, Raw::Len(b)) => Prim::Y(b),
        (Src::Message, Raw::Len(b)) => Prim::M(b),
        (src, _) => return Err(format!("malformed {} value", src.name())),
    })
}

fn field_value(field: &FieldPlan, raw: Raw<'_>, want: bool) -> Result<Option<Value>, RowProblem> {
    let problem = |e: String| RowProblem {
        column: None,
        problem: e,
    };
    let p = prim(&field.src, raw).map_err(problem)?;
    match (&field.target, p) {
        (Target::Scalar(ty), p) => scalar(*ty, p, want).map_err(problem),
        (Target::Struct(nested), Prim::M(bytes)) => {
            if want {
                let mut values = Vec::new();
                walk(nested, bytes, Some(&mut values), &[])?;
                Ok(Some(Value::Struct(to_row(nested, values))))
            } else {
                walk(nested, bytes, None, &[]).map(|()| None)
            }
        }
        (Target::Range(range), Prim::M(bytes)) => range_value(range, bytes, want),
        _ => Err(problem("internal: message expected".into())),
    }
}

fn type_error(ty: ColumnType, p: Prim<'_>) -> String {
    format!("{} cannot hold the value {p:?}", ty.name())
}

fn scalar(ty: ColumnType, p: Prim<'_>, want: bool) -> Result<Option<Value>, String> {
    let value = match (ty, p) {
        (ColumnType::Bool, Prim::B(b)) => Value::Bool(b),
        (ColumnType::Int64, Prim::I(i)) => Value::Int64(i),
        (ColumnType::Int64, Prim::E(n, _)) => Value::Int64(i64::from(n)),
        (ColumnType::Int64, Prim::U(u)) => Value::Int64(i64::try_from(u).map_err(|_| {
            format!("INT64 cannot hold the unsigned value {u} (above 9223372036854775807)")
        })?),
        (ColumnType::Float64, Prim::F(f)) => Value::Float64(f),
        (ColumnType::String, Prim::S(s)) => {
            if !want {
                return Ok(None);
            }
            Value::String(s.to_string())
        }
        (ColumnType::String, Prim::E(_, name)) => Value::String(name.unwrap_or_default().into()),
        (ColumnType::Bytes, Prim::Y(b)) => {
            if !want {
                return Ok(None);
            }
            Value::Bytes(b.to_vec())
        }
        (ColumnType::Bytes, Prim::S(s)) => {
            if !want {
                return Ok(None);
            }
            Value::Bytes(s.as_bytes().to_vec())
        }
        (ColumnType::Date, Prim::I(days)) => {
            let days = civil::check_date_days(days)?;
            if !want {
                return Ok(None);
            }
            Value::Date(civil::format_date(days))
        }
        (ColumnType::Date, Prim::S(s)) => {
            let days = civil::parse_date(s)?;
            if !want {
                return Ok(None);
            }
            Value::Date(civil::format_date(days))
        }
        (ColumnType::Timestamp, Prim::I(micros)) => {
            Value::Timestamp(civil::check_timestamp_micros(micros)?)
        }
        (ColumnType::Timestamp, Prim::S(s)) => Value::Timestamp(civil::parse_timestamp(s)?),
        (ColumnType::DateTime, Prim::I(packed)) => {
            civil::unpack_datetime(packed)?;
            if !want {
                return Ok(None);
            }
            Value::DateTime(civil::format_datetime(packed))
        }
        (ColumnType::DateTime, Prim::S(s)) => {
            let packed = civil::parse_datetime(s)?;
            if !want {
                return Ok(None);
            }
            Value::DateTime(civil::format_datetime(packed))
        }
        (ColumnType::Time, Prim::I(packed)) => {
            civil::unpack_time(packed)?;
            if !want {
                return Ok(None);
            }
            Value::Time(civil::format_time(packed))
        }
        (ColumnType::Time, Prim::S(s)) => {
            let packed = civil::parse_time(s)?;
            if !want {
                return Ok(None);
            }
            Value::Time(civil::format_time(packed))
        }
        (ColumnType::Numeric | ColumnType::BigNumeric, Prim::Y(_) | Prim::S(_)) => {
            let kind = if ty == ColumnType::Numeric {
                DecimalKind::Numeric
            } else {
                DecimalKind::BigNumeric
            };
            let scaled = match p {
                Prim::Y(b) => decimal::from_le_bytes(kind, b)?,
                Prim::S(s) => decimal::parse(kind, s)?,
                _ => return Err(type_error(ty, p)),
            };
            if !want {
                return Ok(None);
            }
            let text = decimal::format(kind, &scaled);
            if kind == DecimalKind::Numeric {
                Value::Numeric(text)
            } else {
                Value::BigNumeric(text)
            }
        }
        (ColumnType::Geography, Prim::S(s)) => {
            check_geography(s)?;
            if !want {
                return Ok(None);
            }
            Value::Geography(s.to_string())
        }
        (ColumnType::Json, Prim::S(s)) => {
            serde_json::from_str::<serde::de::IgnoredAny>(s)
                .map_err(|e| format!("JSON text is not valid JSON: {e}"))?;
            if !want {
                return Ok(None);
            }
            Value::Json(s.to_string())
        }
        (ColumnType::Interval, Prim::S(s)) => {
            civil::check_interval(s)?;
            if !want {
                return Ok(None);
            }
            Value::Interval(s.to_string())
        }
        _ => return Err(type_error(ty, p)),
    };
    Ok(want.then_some(value))
}

/// A literal of a default value expression, as its GoogleSQL type gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Literal<'a> {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A string literal: text that coerces to the column's type.
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// The value of a literal in a column of type `ty`, checked as a row's value
/// of that column would be.
pub(crate) fn literal_value(ty: ColumnType, literal: Literal<'_>) -> Result<Value, String> {
    let prim = match literal {
        Literal::Int(i) => Prim::I(i),
        Literal::Float(f) => Prim::F(f),
        Literal::Bool(b) => Prim::B(b),
        Literal::Text(s) => Prim::S(s),
        Literal::Bytes(b) => Prim::Y(b),
    };
    scalar(ty, prim, true)?.ok_or_else(|| format!("no {} value", ty.name()))
}

/// The ordering key of a RANGE element: days, packed datetime or micros.
fn range_key(element: RangeElement, p: Prim<'_>) -> Result<i64, String> {
    Ok(match (element, p) {
        (RangeElement::Date, Prim::I(days)) => i64::from(civil::check_date_days(days)?),
        (RangeElement::Date, Prim::S(s)) => i64::from(civil::parse_date(s)?),
        (RangeElement::DateTime, Prim::I(packed)) => {
            civil::unpack_datetime(packed)?;
            packed
        }
        (RangeElement::DateTime, Prim::S(s)) => civil::parse_datetime(s)?,
        (RangeElement::Timestamp, Prim::I(micros)) => civil::check_timestamp_micros(micros)?,
        (RangeElement::Timestamp, Prim::S(s)) => civil::parse_timestamp(s)?,
        (_, p) => return Err(format!("a RANGE element cannot hold the value {p:?}")),
    })
}

fn range_element_value(element: RangeElement, key: i64) -> Value {
    match element {
        RangeElement::Date => Value::Date(civil::format_date(key as i32)),
        RangeElement::DateTime => Value::DateTime(civil::format_datetime(key)),
        RangeElement::Timestamp => Value::Timestamp(key),
    }
}

fn range_value(range: &RangePlan, bytes: &[u8], want: bool) -> Result<Option<Value>, RowProblem> {
    // as in protobuf, the last value of a bound wins
    let mut last: [Option<(&Src, Raw<'_>)>; 2] = [None, None];
    let mut reader = Reader::new(bytes);
    while !reader.is_done() {
        let (number, wire_type, raw) = reader.field().map_err(RowProblem::undecodable)?;
        let (index, name, src) = match (&range.start, &range.end) {
            (Some((n, src)), _) if *n == number => (0, "start", src),
            (_, Some((n, src))) if *n == number => (1, "end", src),
            _ => {
                return Err(RowProblem {
                    column: None,
                    problem: format!(
                        "RANGE field number {number} is not declared in writer_schema"
                    ),
                });
            }
        };
        if wire_type != src.wire_type() {
            return Err(RowProblem::at(
                name,
                format!(
                    "declared {} but encoded with the {} wire type",
                    src.name(),
                    wire::wire_type_name(wire_type)
                ),
            ));
        }
        last[index] = Some((src, raw));
    }
    let mut bounds: [Option<i64>; 2] = [None, None];
    for (index, name) in [(0, "start"), (1, "end")] {
        if let Some((src, raw)) = last[index] {
            let p = prim(src, raw).map_err(|e| RowProblem::at(name, e))?;
            bounds[index] = Some(range_key(range.element, p).map_err(|e| RowProblem::at(name, e))?);
        }
    }
    if let [Some(start), Some(end)] = bounds
        && start >= end
    {
        return Err(RowProblem {
            column: None,
            problem: "RANGE start must be earlier than its end".into(),
        });
    }
    if !want {
        return Ok(None);
    }
    Ok(Some(Value::Range {
        start: bounds[0].map(|k| Box::new(range_element_value(range.element, k))),
        end: bounds[1].map(|k| Box::new(range_element_value(range.element, k))),
    }))
}

/// A light check of GEOGRAPHY text: GeoJSON (an object with a `type`) or WKT
/// (a known keyword followed by `EMPTY` or balanced parentheses).
fn check_geography(text: &str) -> Result<(), String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("GEOGRAPHY text is empty".into());
    }
    if t.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(t)
            .map_err(|e| format!("GEOGRAPHY GeoJSON is not valid JSON: {e}"))?;
        return match value.get("type") {
            Some(serde_json::Value::String(_)) => Ok(()),
            _ => Err("GEOGRAPHY GeoJSON has no `type`".into()),
        };
    }
    let keyword_end = t
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(t.len());
    let keyword = t[..keyword_end].to_ascii_uppercase();
    const KEYWORDS: [&str; 7] = [
        "POINT",
        "LINESTRING",
        "POLYGON",
        "MULTIPOINT",
        "MULTILINESTRING",
        "MULTIPOLYGON",
        "GEOMETRYCOLLECTION",
    ];
    if !KEYWORDS.contains(&keyword.as_str()) {
        return Err(format!(
            "GEOGRAPHY text {text:?} is neither WKT (POINT, LINESTRING, POLYGON, ...) nor GeoJSON"
        ));
    }
    let rest = t[keyword_end..].trim();
    if rest.eq_ignore_ascii_case("EMPTY") {
        return Ok(());
    }
    let mut depth = 0i32;
    for c in rest.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    if !rest.starts_with('(') || !rest.ends_with(')') || depth != 0 {
        return Err(format!("GEOGRAPHY WKT {text:?} has unbalanced parentheses"));
    }
    Ok(())
}
