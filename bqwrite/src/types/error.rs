//! The error of every checked constructor in [`crate::types`].

use crate::schema::FieldType;

/// A value BigQuery would not accept, or text or bytes that do not hold one.
///
/// The message names the BigQuery type and the problem, e.g.
/// `NUMERIC value "1e40" is out of range: at most 29 integer digits`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The value is outside the range of the BigQuery type.
    #[error("{bq_type} value {value} is out of range: {detail}")]
    OutOfRange {
        /// The BigQuery type.
        bq_type: FieldType,
        /// The offending value, as given.
        value: String,
        /// The allowed range or what exceeds it.
        detail: String,
    },
    /// Text that is not in a form the type parses.
    #[error("invalid {bq_type} text {text:?}: {detail}")]
    InvalidText {
        /// The BigQuery type.
        bq_type: FieldType,
        /// The text, as given.
        text: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The value has more precision than the type holds; it would have to be rounded.
    #[error("{bq_type} value {value} cannot be represented exactly: {detail}")]
    Inexact {
        /// The BigQuery type.
        bq_type: FieldType,
        /// The offending value, as given.
        value: String,
        /// What would be lost.
        detail: String,
    },
    /// Wire bytes that do not hold a value of the type.
    #[error("invalid {bq_type} bytes: {detail}")]
    InvalidBytes {
        /// The BigQuery type.
        bq_type: FieldType,
        /// What is wrong with them.
        detail: String,
    },
    /// A packed civil DATETIME or TIME `int64` whose bit fields are invalid.
    #[error("invalid packed {bq_type} {packed:#x}: {detail}")]
    InvalidPacked {
        /// The BigQuery type (DATETIME or TIME).
        bq_type: FieldType,
        /// The packed value.
        packed: i64,
        /// Which field is invalid.
        detail: String,
    },
    /// A RANGE whose start is not before its end.
    #[error("invalid RANGE<{element_type}>: start {start} is not before end {end}")]
    EmptyRange {
        /// The element type of the range.
        element_type: FieldType,
        /// The start, as text.
        start: String,
        /// The end, as text.
        end: String,
    },
}

impl ValueError {
    /// The BigQuery type the failed value was meant for (RANGE for [`ValueError::EmptyRange`]).
    pub fn bq_type(&self) -> FieldType {
        match self {
            Self::OutOfRange { bq_type, .. }
            | Self::InvalidText { bq_type, .. }
            | Self::Inexact { bq_type, .. }
            | Self::InvalidBytes { bq_type, .. }
            | Self::InvalidPacked { bq_type, .. } => *bq_type,
            Self::EmptyRange { .. } => FieldType::Range,
        }
    }

    pub(crate) fn out_of_range(
        bq_type: FieldType,
        value: impl ToString,
        detail: impl Into<String>,
    ) -> Self {
        Self::OutOfRange {
            bq_type,
            value: value.to_string(),
            detail: detail.into(),
        }
    }

    pub(crate) fn text(bq_type: FieldType, text: &str, detail: impl Into<String>) -> Self {
        Self::InvalidText {
            bq_type,
            text: text.to_owned(),
            detail: detail.into(),
        }
    }
}
