//! What a writer asks the service to do with the columns a row leaves out:
//! NULL (the service's default), or the column's default value expression.
//! See [Column defaults](crate::row#column-defaults).

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;

use crate::proto::storage::AppendRowsRequest;
use crate::proto::storage::append_rows_request::MissingValueInterpretation as Interpretation;
use crate::row::BqRow;
use crate::schema::{Mode, TableSchema};

/// The missing-value fields of a writer's requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MissingValues {
    /// `missing_value_interpretations`, sent with every request (it holds
    /// for that request only): the `#[bq(default)]` columns, and the
    /// REQUIRED columns with a default that the row type leaves out.
    /// Shared by the writer's requests.
    pub(crate) columns: Arc<HashMap<String, i32>>,
    /// `default_missing_value_interpretation`, sent on the first request of
    /// each connection (it holds for the rest of the connection); 0 (unset)
    /// when the row type does not ask for defaults.
    pub(crate) connection: i32,
}

impl MissingValues {
    /// What rows of `T` ask for when written to a table of schema `table`.
    pub(crate) fn of<T: BqRow>(table: &TableSchema) -> Self {
        Self::build(
            &T::table_schema(),
            T::DEFAULT_COLUMNS,
            T::MISSING_AS_DEFAULT,
            table,
        )
    }

    fn build(
        row: &TableSchema,
        default_columns: &[&str],
        missing_as_default: bool,
        table: &TableSchema,
    ) -> Self {
        let default_value = Interpretation::DefaultValue as i32;
        let mut columns: HashMap<String, i32> = default_columns
            .iter()
            .map(|&c| (c.to_owned(), default_value))
            .collect();
        if !missing_as_default {
            // such a column has no other way to get a value
            let left_out = table.fields.iter().filter(|c| {
                c.mode == Mode::Required
                    && c.default_value_expression.is_some()
                    && row.field(&c.name).is_none()
            });
            for column in left_out {
                columns.insert(column.name.clone(), default_value);
            }
        }
        let connection = if missing_as_default {
            default_value
        } else {
            Interpretation::Unspecified as i32
        };
        Self {
            columns: Arc::new(columns),
            connection,
        }
    }

    /// Whether a row asks for the default of its field `column` when the
    /// value is absent (for the schema check).
    pub(crate) fn asks_default<T: BqRow>(column: &str, nullable: bool) -> bool {
        (T::MISSING_AS_DEFAULT && nullable)
            || T::DEFAULT_COLUMNS
                .iter()
                .any(|c| c.eq_ignore_ascii_case(column))
    }

    /// The encoded size of these fields in a request, at most.
    pub(crate) fn encoded_len(&self) -> usize {
        AppendRowsRequest {
            missing_value_interpretations: (*self.columns).clone(),
            default_missing_value_interpretation: self.connection,
            ..AppendRowsRequest::default()
        }
        .encoded_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{FieldSchema, FieldType};

    #[test]
    fn a_required_column_with_a_default_the_row_lacks_is_asked_for() {
        let table = TableSchema::new(vec![
            FieldSchema::new("id", FieldType::Int64, Mode::Required),
            FieldSchema::new("at", FieldType::Timestamp, Mode::Required)
                .with_default_value("CURRENT_TIMESTAMP()"),
            FieldSchema::new("note", FieldType::String, Mode::Nullable).with_default_value("'x'"),
        ]);
        let row = TableSchema::new(vec![
            FieldSchema::new("id", FieldType::Int64, Mode::Required),
            FieldSchema::new("note", FieldType::String, Mode::Nullable),
        ]);
        let default_value = Interpretation::DefaultValue as i32;
        let missing = MissingValues::build(&row, &["note"], false, &table);
        assert_eq!(
            *missing.columns,
            HashMap::from([
                ("at".to_owned(), default_value),
                ("note".to_owned(), default_value)
            ])
        );
        assert_eq!(missing.connection, 0);
        assert!(missing.encoded_len() > 0);
        assert_eq!(MissingValues::default().encoded_len(), 0);

        // the connection-wide setting covers the left-out column
        let all = MissingValues::build(&row, &[], true, &table);
        assert!(all.columns.is_empty());
        assert_eq!(all.connection, default_value);
    }
}
