#[derive(bqwrite::BqRow)]
struct Row {
    maybe_many: Option<Vec<i64>>,
    many_maybe: Vec<Option<i64>>,
    nested_option: Option<Option<i64>>,
    matrix: Vec<Vec<i64>>,
    raw: Vec<u8>,
    maybe_raw: Option<Vec<u8>>,
}

fn main() {}
