use bqwrite::{BqRow, Sink, Table, Writer};

#[derive(BqRow)]
struct Order<'a> {
    name: &'a str,
}

#[derive(BqRow)]
struct Refund {
    id: i64,
}

async fn write(table: Table, sink: Sink<Refund>) -> bqwrite::Result<()> {
    let mut writer = Writer::<Order<'_>>::pending(&table).await?;
    // Rows of another struct: the error names the row type expected.
    writer.append([Refund { id: 1 }]).await?;
    writer.append(&vec![Refund { id: 2 }]).await?;
    sink.send(Order { name: "x" }).await?;
    Ok(())
}

fn main() {
    drop(write);
}
