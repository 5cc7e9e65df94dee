// The columns of a nested struct against the sub-columns of its STRUCT
// column, checked by a `const`. The path is relative to CARGO_MANIFEST_DIR,
// which under trybuild is `target/tests/trybuild/bqwrite-suite`.
use bqwrite::BqRow;

#[derive(BqRow)]
struct Address<'a> {
    street: i64,
    zip: &'a str,
}

#[derive(BqRow)]
#[bq(schema = "../../../../tests/ui/schemas/orders.json")]
struct Order<'a> {
    id: i64,
    customer: &'a str,
    tags: &'a [&'a str],
    shipping: Option<Address<'a>>,
    must_write: bool,
}

fn main() {}
