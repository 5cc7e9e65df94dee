use bqwrite::{BqField, BqRow};

#[derive(BqField)]
struct Score(u64);

#[derive(BqRow)]
struct Row {
    score: Score,
    #[bq(truncate)]
    count: i64,
    #[bq(truncate, type = "STRING")]
    name: String,
}

fn main() {}
