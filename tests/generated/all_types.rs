#[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]
#[bq(schema = "tests/schemas/all_types.json")]
pub struct AllTypes {
    pub row_num: i64,
    pub int64: Option<i64>,
    pub float: f64,
    pub float64: Option<f64>,
    pub flag: Option<bool>,
    pub bool: Vec<bool>,
    pub string: String,
    #[bq(bytes)]
    pub bytes: Option<Vec<u8>>,
    #[bq(bytes)]
    pub many_bytes: Vec<Vec<u8>>,
    #[bq(bytes)]
    pub required_bytes: Vec<u8>,
    pub numeric: Option<bqwrite::types::Numeric>,
    pub decimal: Vec<bqwrite::types::Numeric>,
    pub bignumeric: bqwrite::types::BigNumeric,
    pub bigdecimal: Option<bqwrite::types::BigNumeric>,
    pub date: Option<bqwrite::types::Date>,
    pub datetime: Vec<bqwrite::types::DateTime>,
    pub time: bqwrite::types::Time,
    pub timestamp: Option<bqwrite::types::Timestamp>,
    pub geography: Option<bqwrite::types::Geography>,
    pub json: Option<bqwrite::types::Json>,
    pub interval: Option<bqwrite::types::Interval>,
    pub date_range: Option<bqwrite::types::Range<bqwrite::types::Date>>,
    pub datetime_range: bqwrite::types::Range<bqwrite::types::DateTime>,
    pub timestamp_range: Vec<bqwrite::types::Range<bqwrite::types::Timestamp>>,
    pub r#type: Option<String>,
    #[bq(rename = "Customer Name")]
    pub customer_name: Option<String>,
    #[bq(rename = "customerEmail")]
    pub customer_email: String,
    pub address: Option<AllTypesAddress>,
    pub orders: Vec<AllTypesOrders>,
}

#[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]
pub struct AllTypesAddress {
    pub street: String,
    pub zip: Option<String>,
    pub geo: AllTypesAddressGeo,
}

#[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]
pub struct AllTypesAddressGeo {
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

#[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]
pub struct AllTypesOrders {
    pub id: i64,
    pub placed: Option<bqwrite::types::Timestamp>,
    pub lines: Vec<AllTypesOrdersLines>,
}

#[derive(bqwrite::BqRow, Debug, Clone, PartialEq)]
pub struct AllTypesOrdersLines {
    pub sku: Option<String>,
    pub amount: bqwrite::types::Numeric,
}
