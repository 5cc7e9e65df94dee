use bqwrite::{BqField, BqRow};

#[derive(BqRow)]
struct Required {
    #[bq(default)]
    id: i64,
    #[bq(default)]
    tags: Vec<String>,
    #[bq(default, default)]
    note: Option<String>,
    #[bq(skip, default)]
    cache: Option<String>,
}

#[derive(BqRow)]
#[bq(missing = "defaults")]
struct BadMissing {
    id: i64,
}

#[derive(BqField)]
#[bq(missing = "default")]
enum Status {
    Open,
}

fn main() {}
