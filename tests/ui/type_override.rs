#[derive(bqwrite::BqRow)]
struct Row {
    #[bq(type = "JSON")]
    count: i64,
    #[bq(type = "INT64")]
    name: String,
    #[bq(bytes)]
    flag: bool,
}

fn main() {}
