// BigQuery allows 15 levels of STRUCT nesting: L15 as a row is fine, L16 is not.
#[derive(bqwrite::BqRow)]
struct L0 {
    value: i64,
}

#[derive(bqwrite::BqRow)]
struct L1 {
    inner: L0,
}

#[derive(bqwrite::BqRow)]
struct L2 {
    inner: L1,
}

#[derive(bqwrite::BqRow)]
struct L3 {
    inner: L2,
}

#[derive(bqwrite::BqRow)]
struct L4 {
    inner: L3,
}

#[derive(bqwrite::BqRow)]
struct L5 {
    inner: L4,
}

#[derive(bqwrite::BqRow)]
struct L6 {
    inner: L5,
}

#[derive(bqwrite::BqRow)]
struct L7 {
    inner: L6,
}

#[derive(bqwrite::BqRow)]
struct L8 {
    inner: L7,
}

#[derive(bqwrite::BqRow)]
struct L9 {
    inner: L8,
}

#[derive(bqwrite::BqRow)]
struct L10 {
    inner: L9,
}

#[derive(bqwrite::BqRow)]
struct L11 {
    inner: L10,
}

#[derive(bqwrite::BqRow)]
struct L12 {
    inner: L11,
}

#[derive(bqwrite::BqRow)]
struct L13 {
    inner: L12,
}

#[derive(bqwrite::BqRow)]
struct L14 {
    inner: L13,
}

#[derive(bqwrite::BqRow)]
struct L15 {
    inner: L14,
}

#[derive(bqwrite::BqRow)]
struct L16 {
    inner: L15,
}

fn main() {}
