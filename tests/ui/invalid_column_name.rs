#[derive(bqwrite::BqRow)]
struct Row {
    // Flexible column names are fine: these compile.
    #[bq(rename = "order-id")]
    order_id: i64,
    #[bq(rename = "1st")]
    first: String,
    größe: i64,
    // These do not.
    #[bq(rename = "a.b")]
    dotted: i64,
    #[bq(rename = "price ($)")]
    price: i64,
    #[bq(rename = "tab\there")]
    tab: i64,
    #[bq(rename = "")]
    empty: String,
    #[bq(rename = "_PARTITIONTIME")]
    partition: i64,
}

fn main() {}
