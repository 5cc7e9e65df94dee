#[derive(bqwrite::BqRow)]
struct Row<T> {
    value: T,
}

#[derive(bqwrite::BqRow)]
struct Fixed<const N: usize> {
    value: i64,
}

// Lifetime parameters are fine.
#[derive(bqwrite::BqRow)]
struct Borrowed<'a> {
    name: &'a str,
}

fn main() {}
