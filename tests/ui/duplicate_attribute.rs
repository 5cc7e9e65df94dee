#[derive(bqwrite::BqRow)]
#[bq(rename_all = "camelCase", rename_all = "snake_case")]
struct Row {
    #[bq(rename = "a", rename = "b")]
    id: i64,
    #[bq(skip, skip)]
    cache: u64,
    #[bq(bytes, type = "STRING")]
    data: Vec<u8>,
    #[bq(description = "x")]
    #[bq(description = "y")]
    name: String,
}

fn main() {}
