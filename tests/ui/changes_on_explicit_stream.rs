use bqwrite::{BqRow, Change, Table, Writer};

#[derive(BqRow)]
struct Customer {
    id: i64,
}

async fn write(table: Table) -> bqwrite::Result<()> {
    // Changes by primary key go through `_default` only.
    let mut committed = Writer::<Customer>::committed(&table).await?;
    committed.append_changes([Change::upsert(Customer { id: 1 })]).await?;
    let mut pending = Writer::<Customer>::pending(&table).await?;
    pending.append_changes([Change::delete(Customer { id: 1 })]).await?;
    Ok(())
}

fn main() {
    drop(write);
}
