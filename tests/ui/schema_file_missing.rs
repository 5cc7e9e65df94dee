#[derive(bqwrite::BqRow)]
#[bq(schema = "no/such/schema.json")]
struct Row {
    id: i64,
}

fn main() {}
