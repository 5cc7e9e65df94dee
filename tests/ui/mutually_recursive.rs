#[derive(bqwrite::BqRow)]
struct Ping {
    pong: Option<Box<Pong>>,
}

#[derive(bqwrite::BqRow)]
struct Pong {
    ping: Vec<Ping>,
}

fn main() {}
