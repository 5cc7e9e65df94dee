// The schema file is found relative to CARGO_MANIFEST_DIR, which under
// trybuild is `target/tests/trybuild/bqwrite-suite`.
use bqwrite::{BqField, BqRow};

#[derive(BqField)]
struct UserId(i64);

#[derive(BqRow)]
struct Address {
    street: String,
}

#[derive(BqRow)]
#[bq(schema = "../../../../tests/ui/schemas/orders.json")]
struct Order {
    id: i64,
    customer: Option<String>,
    tags: String,
    placed_on: chrono::NaiveDate,
    amount: rust_decimal::Decimal,
    #[bq(type = "INT64")]
    status: i32,
    user: UserId,
    #[bq(type = "JSON")]
    doc: String,
    shipping: Option<Address>,
    not_in_table: bool,
}

fn main() {}
