#[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]
#[bq(schema = "tests/schemas/customer_records.json")]
pub struct CustomerRecord {
    pub row_num: i64,
    pub customer_name: Option<String>,
}
