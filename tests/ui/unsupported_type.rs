use std::collections::HashMap;

#[derive(bqwrite::BqRow)]
struct Row {
    id: i64,
    counts: HashMap<String, i64>,
    unsigned: u64,
}

fn main() {
    // The struct still implements BqRow: no follow-on errors here.
    let _ = Row::descriptor();
}

use bqwrite::BqRow as _;
