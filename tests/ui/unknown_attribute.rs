#[derive(bqwrite::BqRow)]
#[bq(rename_al = "camelCase")]
struct Row {
    #[bq(renam = "identifier")]
    id: i64,
    #[bq(nullable)]
    name: String,
}

fn main() {}
