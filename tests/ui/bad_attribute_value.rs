#[derive(bqwrite::BqRow)]
#[bq(rename_all = "kebab-case")]
struct Row {
    #[bq(type = "VARCHAR")]
    id: String,
    #[bq(type = "STRUCT")]
    inner: String,
    #[bq(rename = 5)]
    other: i64,
    #[bq(skip, rename = "x")]
    skipped: u64,
}

fn main() {}
