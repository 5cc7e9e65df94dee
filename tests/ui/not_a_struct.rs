#[derive(bqwrite::BqRow)]
enum Choice {
    A,
    B,
}

#[derive(bqwrite::BqRow)]
union Bits {
    a: u32,
    b: f32,
}

#[derive(bqwrite::BqRow)]
struct Pair(i64, String);

#[derive(bqwrite::BqRow)]
struct Unit;

#[derive(bqwrite::BqRow)]
struct Empty {
    #[bq(skip)]
    hidden: i64,
}

fn main() {}
