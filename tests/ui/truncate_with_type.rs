#[derive(bqwrite::BqRow)]
struct Row {
    #[bq(truncate, type = "STRING")]
    name: String,
}

fn main() {}
