//! BigQuery table schemas.
