// Errors in a struct declared by a `macro_rules!` macro point at the field
// types the macro was given.
macro_rules! row {
    ($name:ident { $($field:ident : $ty:ty),* }) => {
        #[derive(bqwrite::BqRow)]
        struct $name {
            $($field: $ty),*
        }
    };
}

row!(Unsupported {
    id: i64,
    count: u64
});
row!(Node { id: i64, children: Vec<Node> });

fn main() {}
