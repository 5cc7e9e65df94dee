// Types only the compiler knows, checked against the schema file by a
// `const` per field. The path is relative to CARGO_MANIFEST_DIR, which under
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
    id: UserId,
    customer: String,
    tags: Vec<Address>,
    placed_on: chrono::DateTime<chrono::Utc>,
    amount: rust_decimal::Decimal,
    status: Status,
    user: UserId,
    doc: i64,
    shipping: Option<String>,
    must_write: bool,
}

fn main() {}
