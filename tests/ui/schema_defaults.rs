// A REQUIRED column with a default may be left out, or written by an
// optional field that asks for the default; `must` has no default.
use bqwrite::BqRow;

#[derive(BqRow)]
#[bq(schema = "../../../../tests/ui/schemas/defaults.json")]
struct Ticket {
    id: i64,
    #[bq(default)]
    status: Option<String>,
}

#[derive(BqRow)]
#[bq(schema = "../../../../tests/ui/schemas/defaults.json")]
struct Plain {
    id: i64,
    status: Option<String>,
    must: bool,
}

fn main() {}
