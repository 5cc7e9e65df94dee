// The schema file is found relative to CARGO_MANIFEST_DIR, which under
// trybuild is `target/tests/trybuild/bqwrite-suite`.
use bqwrite::{BqField, BqRow};

#[derive(BqField)]
struct UserId(i64);

#[derive(BqField)]
enum Status {
    Active,
}

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
    placed_on: chrono::DateTime<chrono::Utc>,
    amount: rust_decimal::Decimal,
    status: Status,
    user: UserId,
    #[bq(type = "JSON")]
    doc: String,
    shipping: Option<Address>,
    not_in_table: bool,
}

fn main() {}
