#[derive(bqwrite::BqRow)]
struct Row {
    #[bq(rename = "order-id")]
    order_id: i64,
    #[bq(rename = "1st")]
    first: String,
    #[bq(rename = "")]
    empty: String,
    #[bq(rename = "_PARTITIONTIME")]
    partition: i64,
    größe: i64,
}

fn main() {}
