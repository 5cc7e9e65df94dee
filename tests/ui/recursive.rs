#[derive(bqwrite::BqRow)]
struct Node {
    value: i64,
    children: Vec<Node>,
}

#[derive(bqwrite::BqRow)]
struct Boxed {
    next: Option<Box<Self>>,
}

fn main() {}
