#[derive(bqwrite::BqRow)]
struct Row {
    #[bq(rename = "user.id")]
    user_id: i64,
    #[bq(rename = "price ($)")]
    price: i64,
    r#_PARTITION_x: i64,
}

fn main() {}
