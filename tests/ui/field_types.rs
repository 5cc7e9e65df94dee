use bqwrite::{BqField, BqRow};

#[derive(BqField)]
struct Score(u64);

#[derive(BqRow)]
struct Row {
    #[bq(truncate)]
    count: i64,
}

fn main() {}
