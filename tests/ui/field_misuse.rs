use bqwrite::BqField;

#[derive(BqField)]
enum Shape {
    Circle(f64),
    Square,
}

#[derive(BqField)]
#[bq(rename_all = "lowercase")]
enum Level {
    High,
    #[bq(rename = "high")]
    Top,
}

#[derive(BqField)]
enum Never {}

#[derive(BqField)]
struct Pair(i64, i64);

#[derive(BqField)]
struct Named {
    id: i64,
}

#[derive(BqField)]
#[bq(rename_all = "snake_case")]
struct Wrapped(i64);

#[derive(BqField)]
struct Generic<T>(T);

fn main() {}
