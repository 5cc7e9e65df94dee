//! Change data capture: keep a BigQuery table in step with a source by
//! writing upserts and deletes by primary key to its `_default` stream.
//!
//! Alice and Bob are upserted, Bob deleted; then two changes to Carol arrive
//! in the wrong order, and their sequence numbers put them right. Last, 30
//! tasks send one change each through a change sink, which batches them:
//! customers 10 to 29 are upserted, then the odd ones deleted.
//!
//! ```text
//! cargo run --example cdc                  # on an embedded emulator
//! cargo run --example cdc -- --table projects/p/datasets/d/tables/t
//! ```
//!
//! With `--table`, the changes go to that table: on the emulator named by
//! `BIGQUERY_STORAGE_EMULATOR_HOST` when it is set, on BigQuery with
//! Application Default Credentials otherwise. The table needs the columns
//! `id INT64 REQUIRED`, `name STRING`, `tier STRING` and
//! `PRIMARY KEY (id) NOT ENFORCED`.

use bqwrite::{BqRow, Change, ChangeSequence, Client, Table, Writer};
use bqwrite_emulator::Emulator;
use tokio::task::JoinSet;

/// One row of the `customers` table, keyed by `id`.
#[derive(Debug, Clone, BqRow)]
struct Customer {
    id: i64,
    name: Option<String>,
    tier: Option<String>,
}

fn customer(id: i64, name: &str, tier: Option<&str>) -> Customer {
    Customer {
        id,
        name: Some(name.to_owned()),
        tier: tier.map(str::to_owned),
    }
}

/// The changes themselves: what a user writes.
async fn apply_changes(table: &Table) -> bqwrite::Result<()> {
    let mut writer = Writer::<Customer>::default_stream(table).await?;
    let written = writer
        .append_changes([
            Change::upsert(customer(1, "Alice", Some("gold"))),
            Change::upsert(customer(2, "Bob", None)),
        ])
        .await?;
    println!("upserted {written} customers");

    // A delete needs only the key; the other columns are ignored.
    let bob = Customer {
        id: 2,
        name: None,
        tier: None,
    };
    writer.append_changes([Change::delete(bob)]).await?;
    println!("deleted customer 2");

    // Carol's changes arrive out of order: the highest sequence wins.
    let newer = ChangeSequence::new([0x1, 0x2a])?;
    let older = ChangeSequence::parse("1/29")?;
    writer
        .append_changes([
            Change::upsert(customer(3, "Carol", Some("silver"))).sequence(newer),
            Change::upsert(customer(3, "Carol", None)).sequence(older),
        ])
        .await?;
    println!("upserted customer 3 twice, sequences 1/2A then 1/29");
    Ok(())
}

/// Changes from many tasks, one per `send`: a change sink batches them
/// into requests. Each task waits for its own change's outcome.
async fn send_changes_from_tasks(table: &Table) -> bqwrite::Result<()> {
    let sink = table.client().change_sink::<Customer>(table).await?;
    let mut tasks = JoinSet::new();
    for id in 10..30 {
        // The delete of an odd customer may arrive before its upsert: the
        // sequence (2 after 1) decides, not the arrival.
        let changes = [(1, Change::upsert(customer(id, "New", None)))]
            .into_iter()
            .chain((id % 2 == 1).then(|| (2, Change::delete(customer(id, "", None)))));
        for (seq, change) in changes {
            let sink = sink.clone();
            tasks.spawn(async move { sink.send(change.sequence(seq)).await });
        }
    }
    let senders = tasks.len();
    while let Some(sent) = tasks.join_next().await {
        sent.expect("a sending task")?;
    }
    sink.close().await?;
    let stats = sink.stats();
    println!(
        "sent {} changes from {senders} tasks in {} request(s)",
        stats.rows_acknowledged, stats.requests_sent
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => run_on_embedded_emulator().await,
        [flag, path] if flag == "--table" => {
            let client = Client::from_env().await?;
            let table = client.table_from_path(path)?;
            apply_changes(&table).await?;
            send_changes_from_tasks(&table).await?;
            Ok(())
        }
        _ => Err("usage: cdc [--table projects/P/datasets/D/tables/T]".into()),
    }
}

async fn run_on_embedded_emulator() -> Result<(), Box<dyn std::error::Error>> {
    let path = "projects/bqwrite-example/datasets/example/tables/customers";
    let emulator = Emulator::builder()
        .project("bqwrite-example")
        .start()
        .await?;
    emulator.create_dataset("bqwrite-example", "example")?;
    emulator.create_table_with_primary_key(path, Customer::table_schema(), ["id"])?;
    println!("embedded emulator on {}", emulator.grpc_addr());

    let client = Client::emulator(emulator.grpc_addr().to_string())?;
    let table = client.table_from_path(path)?;
    apply_changes(&table).await?;
    send_changes_from_tasks(&table).await?;

    println!("rows of {path}, changes applied:");
    for row in emulator.rows(path)? {
        let cells: Vec<String> = row
            .columns()
            .iter()
            .map(|(column, value)| format!("{column}={}", value.to_json()))
            .collect();
        println!("  {}", cells.join(" "));
    }
    emulator.shutdown().await;
    Ok(())
}
