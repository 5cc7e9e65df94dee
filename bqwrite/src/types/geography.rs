//! GEOGRAPHY: WKT or GeoJSON text, checked for shape.

use std::fmt;
use std::str::FromStr;

use super::ValueError;
use super::json::shorten;
use crate::schema::FieldType;

/// A BigQuery GEOGRAPHY value: Well-Known Text (`POINT(-122.35 47.62)`) or a
/// GeoJSON geometry (`{"type": "Point", "coordinates": [-122.35, 47.62]}`).
///
/// On the wire it is a `string`; BigQuery parses it. [`Geography::new`]
/// checks the structure so that obvious mistakes fail before sending: WKT
/// geometry keywords, balanced parentheses, numeric coordinates of 2 to 4
/// values, GeoJSON geometry objects with the right `coordinates` nesting;
/// longitudes must be within [-180, 180] and latitudes within [-90, 90].
/// It does not check what only BigQuery's geometry engine can (ring
/// orientation, self-intersection).
///
/// ```
/// use bqwrite::types::Geography;
///
/// let point = Geography::new("POINT(-122.35 47.62)")?;
/// assert_eq!(point.as_str(), "POINT(-122.35 47.62)");
/// assert!(Geography::new(r#"{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}"#).is_ok());
/// assert!(Geography::new("POINT(1)").is_err());
/// assert!(Geography::new("POINT(0 91)").is_err());
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Geography(String);

impl Geography {
    /// The geography of WKT or GeoJSON `text`; fails on empty or malformed text.
    pub fn new(text: impl Into<String>) -> Result<Self, ValueError> {
        let text = text.into();
        let trimmed = text.trim();
        let checked = if trimmed.is_empty() {
            Err("empty text; expected WKT such as POINT(1 2) or a GeoJSON geometry".to_owned())
        } else if trimmed.starts_with('{') {
            check_geojson(trimmed)
        } else {
            check_wkt(trimmed)
        };
        checked.map_err(|detail| ValueError::InvalidText {
            bq_type: FieldType::Geography,
            text: shorten(&text),
            detail,
        })?;
        Ok(Self(text))
    }

    /// The text, as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, as given.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Geography {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Geography {
    type Err = ValueError;

    /// Same as [`Geography::new`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::new(text)
    }
}

impl AsRef<str> for Geography {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Geography> for String {
    fn from(geography: Geography) -> Self {
        geography.0
    }
}

fn check_position(values: &[f64]) -> Result<(), String> {
    if !(2..=4).contains(&values.len()) {
        return Err(format!(
            "a position needs 2 to 4 numbers, found {}",
            values.len()
        ));
    }
    let (lon, lat) = (values[0], values[1]);
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("longitude {lon} is outside [-180, 180]"));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("latitude {lat} is outside [-90, 90]"));
    }
    Ok(())
}

/// A recursive-descent reader of WKT.
struct Wkt<'a> {
    text: &'a str,
    pos: usize,
}

/// What the parentheses of a WKT geometry hold.
#[derive(Clone, Copy)]
enum Body {
    Point,
    Positions,
    Rings,
    Polygons,
    MultiPoint,
    Collection,
}

impl<'a> Wkt<'a> {
    fn skip_space(&mut self) {
        while self.text[self.pos..].starts_with(|c: char| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{c}' at byte {}", self.pos))
        }
    }

    fn word(&mut self) -> &'a str {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn number(&mut self) -> Result<f64, String> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E')))
            .unwrap_or(rest.len());
        let value: f64 = rest[..len]
            .parse()
            .map_err(|_| format!("expected a number at byte {}", self.pos))?;
        if !value.is_finite() {
            return Err(format!("non-finite coordinate at byte {}", self.pos));
        }
        self.pos += len;
        Ok(value)
    }

    fn position(&mut self) -> Result<(), String> {
        let mut values = vec![self.number()?];
        while matches!(self.peek(), Some(c) if c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
            values.push(self.number()?);
        }
        check_position(&values)
    }

    fn list(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        self.expect('(')?;
        item(self)?;
        while self.eat(',') {
            item(self)?;
        }
        self.expect(')')
    }

    fn body(&mut self, body: Body) -> Result<(), String> {
        match body {
            Body::Point => self.list(|w| w.position()),
            Body::Positions => self.list(|w| w.position()),
            Body::Rings => self.list(|w| w.list(|w| w.position())),
            Body::Polygons => self.list(|w| w.list(|w| w.list(|w| w.position()))),
            // MULTIPOINT(1 2, 3 4) and MULTIPOINT((1 2), (3 4)) are both valid.
            Body::MultiPoint => self.list(|w| {
                if w.peek() == Some('(') {
                    w.list(|w| w.position())
                } else {
                    w.position()
                }
            }),
            Body::Collection => self.list(|w| w.geometry()),
        }
    }

    fn geometry(&mut self) -> Result<(), String> {
        let start = self.pos;
        let keyword = self.word().to_ascii_uppercase();
        let body = match keyword.as_str() {
            "POINT" => Body::Point,
            "LINESTRING" => Body::Positions,
            "POLYGON" | "MULTILINESTRING" => Body::Rings,
            "MULTIPOLYGON" => Body::Polygons,
            "MULTIPOINT" => Body::MultiPoint,
            "GEOMETRYCOLLECTION" => Body::Collection,
            "" => return Err(format!("expected a WKT geometry keyword at byte {start}")),
            other => return Err(format!("unknown WKT geometry type {other:?}")),
        };
        let save = self.pos;
        match self.word().to_ascii_uppercase().as_str() {
            "EMPTY" => return Ok(()),
            "Z" | "M" | "ZM" => {
                let save = self.pos;
                if self.word().eq_ignore_ascii_case("EMPTY") {
                    return Ok(());
                }
                self.pos = save;
            }
            _ => self.pos = save,
        }
        self.body(body)
    }
}

fn check_wkt(text: &str) -> Result<(), String> {
    let mut wkt = Wkt { text, pos: 0 };
    wkt.geometry()?;
    wkt.skip_space();
    if wkt.pos != text.len() {
        return Err(format!(
            "unexpected text after the geometry at byte {}",
            wkt.pos
        ));
    }
    Ok(())
}

fn check_geojson(text: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid GeoJSON: {e}"))?;
    check_geojson_geometry(&value)
}

fn check_geojson_geometry(value: &serde_json::Value) -> Result<(), String> {
    let kind = value
        .get("type")
        .and_then(serde_json::Value::as_str)
        .ok_or("a GeoJSON geometry needs a string \"type\"")?;
    let depth = match kind {
        "Point" => 0,
        "LineString" | "MultiPoint" => 1,
        "Polygon" | "MultiLineString" => 2,
        "MultiPolygon" => 3,
        "GeometryCollection" => {
            let geometries = value
                .get("geometries")
                .and_then(serde_json::Value::as_array)
                .ok_or("a GeometryCollection needs a \"geometries\" array")?;
            return geometries.iter().try_for_each(check_geojson_geometry);
        }
        "Feature" | "FeatureCollection" => {
            return Err(format!(
                "a GeoJSON {kind} is not a geometry; pass its \"geometry\""
            ));
        }
        other => return Err(format!("unknown GeoJSON geometry type {other:?}")),
    };
    let coordinates = value
        .get("coordinates")
        .ok_or_else(|| format!("a {kind} needs \"coordinates\""))?;
    check_coordinates(coordinates, depth, kind)
}

fn check_coordinates(value: &serde_json::Value, depth: usize, kind: &str) -> Result<(), String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("the coordinates of a {kind} must be nested arrays"))?;
    if depth == 0 {
        let numbers: Option<Vec<f64>> = items.iter().map(serde_json::Value::as_f64).collect();
        let numbers = numbers.ok_or_else(|| format!("a position of a {kind} must hold numbers"))?;
        check_position(&numbers)
    } else {
        items
            .iter()
            .try_for_each(|item| check_coordinates(item, depth - 1, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkt() {
        for good in [
            "POINT(1 2)",
            " point ( -122.35 47.62 ) ",
            "POINT Z (1 2 3)",
            "POINT EMPTY",
            "LINESTRING(0 0, 1 1, 2 2)",
            "POLYGON((0 0, 1 0, 1 1, 0 0))",
            "POLYGON((0 0, 10 0, 10 10, 0 0), (1 1, 2 1, 2 2, 1 1))",
            "MULTIPOINT(0 0, 1 1)",
            "MULTIPOINT((0 0), (1 1))",
            "MULTILINESTRING((0 0, 1 1), (2 2, 3 3))",
            "MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
            "GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1e1 1.5))",
            "GEOMETRYCOLLECTION EMPTY",
            "POINT(180 -90)",
        ] {
            assert!(
                Geography::new(good).is_ok(),
                "{good}: {:?}",
                Geography::new(good)
            );
        }
        for (bad, detail) in [
            ("", "empty text"),
            ("   ", "empty text"),
            ("POINT", "expected '('"),
            ("POINT(1)", "2 to 4 numbers"),
            ("POINT(1 2", "expected ')'"),
            ("POINT(1 2))", "unexpected text"),
            ("POINT(a b)", "expected a number"),
            ("POINT(181 0)", "longitude 181"),
            ("POINT(0 -90.5)", "latitude -90.5"),
            ("CIRCLE(0 0)", "unknown WKT geometry type \"CIRCLE\""),
            ("POLYGON(0 0, 1 1)", "expected '('"),
            ("LINESTRING(0 0,)", "expected a number"),
            ("42", "expected a WKT geometry keyword"),
            ("POINT(1 2 3 4 5)", "2 to 4 numbers"),
        ] {
            let err = Geography::new(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid GEOGRAPHY text"), "{bad}: {err}");
            assert!(err.contains(detail), "{bad}: {err}");
        }
    }

    #[test]
    fn geojson() {
        for good in [
            r#"{"type": "Point", "coordinates": [1, 2]}"#,
            r#"{"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]}"#,
            r#"{"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]}"#,
        ] {
            assert!(Geography::new(good).is_ok(), "{good}");
        }
        for (bad, detail) in [
            (r#"{"type": "Point"}"#, "needs \"coordinates\""),
            (
                r#"{"type": "Point", "coordinates": [[1, 2]]}"#,
                "must hold numbers",
            ),
            (
                r#"{"type": "LineString", "coordinates": [1, 2]}"#,
                "nested arrays",
            ),
            (r#"{"type": "Feature", "geometry": null}"#, "not a geometry"),
            (
                r#"{"type": "Blob", "coordinates": []}"#,
                "unknown GeoJSON geometry type",
            ),
            (r#"{"coordinates": [1, 2]}"#, "string \"type\""),
            (
                r#"{"type": "Point", "coordinates": [1, 200]}"#,
                "latitude 200",
            ),
            (r#"{"type": "Point""#, "invalid GeoJSON"),
        ] {
            let err = Geography::new(bad).unwrap_err().to_string();
            assert!(err.contains(detail), "{bad}: {err}");
        }
    }
}
