//! BigQuery value types with their Storage Write API wire encodings.
