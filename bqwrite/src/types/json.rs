//! JSON: a validated JSON document.

use std::fmt;
use std::str::FromStr;

use super::ValueError;
use crate::schema::FieldType;

/// A BigQuery JSON value: text checked to be one well-formed JSON document.
///
/// On the wire it is a `string` holding the text as given.
///
/// ```
/// use bqwrite::types::Json;
///
/// let json = Json::new(r#"{"a": [1, 2.5, null]}"#)?;
/// assert_eq!(json.as_str(), r#"{"a": [1, 2.5, null]}"#);
/// assert!(Json::new("{'a': 1}").is_err());
/// let from_value = Json::from(serde_json::json!({"b": true}));
/// assert_eq!(from_value.as_str(), r#"{"b":true}"#);
/// # Ok::<(), bqwrite::types::ValueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Json(String);

impl Json {
    /// The JSON document `text`; fails unless it parses as exactly one JSON value.
    pub fn new(text: impl Into<String>) -> Result<Self, ValueError> {
        let text = text.into();
        if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
            return Err(ValueError::InvalidText {
                bq_type: FieldType::Json,
                text: shorten(&text),
                detail: err.to_string(),
            });
        }
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

    /// The document parsed as a [`serde_json::Value`].
    pub fn to_value(&self) -> serde_json::Value {
        // Checked in `new`, so parsing again succeeds.
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

/// At most 100 characters of `text`, for error messages.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(100) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Json {
    type Err = ValueError;

    /// Same as [`Json::new`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::new(text)
    }
}

impl AsRef<str> for Json {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<serde_json::Value> for Json {
    fn from(value: serde_json::Value) -> Self {
        Self(value.to_string())
    }
}

impl From<&serde_json::Value> for Json {
    fn from(value: &serde_json::Value) -> Self {
        Self(value.to_string())
    }
}

impl From<Json> for serde_json::Value {
    fn from(json: Json) -> Self {
        json.to_value()
    }
}

impl From<Json> for String {
    fn from(json: Json) -> Self {
        json.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn validates() {
        for good in [
            "null",
            "1",
            "\"s\"",
            "[]",
            " {\"a\": {\"b\": [true]}} ",
            "-1.5e3",
        ] {
            assert_eq!(Json::new(good).unwrap().as_str(), good);
        }
        for bad in ["", "{", "{} {}", "nul", "[1,]", "{'a': 1}", "NaN"] {
            let err = Json::new(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid JSON text"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn long_text_is_shortened_in_errors() {
        let err = Json::new(format!("[{}", "1,".repeat(500))).unwrap_err();
        let ValueError::InvalidText { text, .. } = err else {
            panic!("wrong error: {err:?}");
        };
        assert!(text.ends_with("...") && text.chars().count() == 103);
    }

    fn any_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[^\u{0}]{0,8}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn value_round_trip(value in any_value()) {
            let json = Json::from(&value);
            prop_assert_eq!(Json::new(json.as_str()).unwrap(), json.clone());
            prop_assert_eq!(json.to_value(), value);
        }
    }
}
