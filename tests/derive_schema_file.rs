//! `#[bq(schema = "...")]` against real schema files: an application
//! struct (chrono, Decimal, an enum, a newtype, a nested struct) that
//! compiles only because it matches `tests/schemas/application.json`, and
//! the structs `bqwrite struct` generates for a corpus of schemas with every
//! type, nesting and mode, which compile against the same files and are
//! pinned in `tests/generated/` (regenerate with `BLESS=1`).

use bqwrite::{BqField, BqRow};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

#[allow(dead_code, clippy::all)]
mod generated {
    pub mod all_types {
        include!("generated/all_types.rs");
    }
    pub mod customer_records {
        include!("generated/customer_records.rs");
    }
}

#[derive(BqField, Debug, Clone, Copy)]
struct UserId(i64);

#[derive(BqField, Debug, Clone, Copy)]
#[bq(rename_all = "snake_case")]
enum Status {
    Active,
}

#[derive(BqRow)]
#[bq(schema = "tests/schemas/application.json")]
struct Order {
    id: i64,
    user: UserId,
    status: Status,
    at: DateTime<Utc>,
    day: Option<NaiveDate>,
    amount: Decimal,
    #[bq(type = "BIGNUMERIC")]
    total: Option<Decimal>,
    tags: Vec<String>,
    payload: Option<serde_json::Value>,
    shipping: Option<Shipping>,
    // `note` is NULLABLE: a struct need not write it.
}

#[derive(BqRow)]
struct Shipping {
    street: String,
    since: Option<NaiveDate>,
}

const CORPUS: &[(&str, &str)] = &[
    ("all_types", "AllTypes"),
    ("customer_records", "CustomerRecord"),
];

#[test]
fn generated_structs_are_what_the_cli_prints() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (file, name) in CORPUS {
        let schema = format!("tests/schemas/{file}.json");
        let json = std::fs::read_to_string(format!("{root}/{schema}")).expect("schema file");
        let code = bqwrite_cli::generate(&json, name, &schema).expect("a valid schema");
        let pinned = format!("{root}/tests/generated/{file}.rs");
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(&pinned, &code).expect("write the generated file");
        }
        let expected = std::fs::read_to_string(&pinned).expect("generated file");
        assert_eq!(code, expected, "{pinned} is stale: rerun with BLESS=1");
    }
}

/// The columns of a schema file, in `bqwrite_schema`'s terms.
fn columns_of(file: &str) -> Vec<bqwrite_schema::Column> {
    let path = format!("{}/tests/schemas/{file}.json", env!("CARGO_MANIFEST_DIR"));
    bqwrite_schema::parse_json(&std::fs::read_to_string(path).expect("schema file")).expect("valid")
}

/// The columns of a row type, the same way.
fn columns<T: BqRow>() -> Vec<bqwrite_schema::Column> {
    bqwrite_schema::parse_json(&T::table_schema().to_json()).expect("valid")
}

#[test]
fn generated_structs_have_the_schema_they_were_generated_from() {
    use generated::all_types::AllTypes;
    use generated::customer_records::CustomerRecord;
    assert_eq!(columns::<AllTypes>(), columns_of("all_types"));
    assert_eq!(columns::<CustomerRecord>(), columns_of("customer_records"));
}

#[test]
fn the_application_struct_passes_the_runtime_rules_too() {
    let table = columns_of("application");
    assert_eq!(bqwrite_schema::check(&columns::<Order>(), &table), []);
    let _ = Status::Active;
}
