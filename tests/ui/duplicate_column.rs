#[derive(bqwrite::BqRow)]
struct Row {
    id: i64,
    #[bq(rename = "ID")]
    other_id: i64,
    #[bq(rename = "name")]
    first: String,
    name: String,
}

#[derive(bqwrite::BqRow)]
#[bq(rename_all = "lowercase")]
struct Renamed {
    user_id: i64,
    #[bq(rename = "USER_ID")]
    user: String,
}

fn main() {}
