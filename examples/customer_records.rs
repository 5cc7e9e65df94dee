//! The classic "append records in pending mode" sample, typed.
//!
//! Rows Alice and Bob are appended at offset 0 and Charles at offset 2 to a
//! PENDING stream; the stream is finalized and committed, and the commit time
//! printed.
//!
//! ```text
//! cargo run --example customer_records                  # on an embedded emulator
//! cargo run --example customer_records -- --table projects/p/datasets/d/tables/t
//! ```
//!
//! With `--table`, the rows go to that table: on the emulator named by
//! `BIGQUERY_STORAGE_EMULATOR_HOST` when it is set, on BigQuery with
//! Application Default Credentials otherwise. The table needs the columns
//! `row_num INT64 REQUIRED` and `customer_name STRING`.

use bqwrite::{BqRow, Client, Table, Writer};
use bqwrite_emulator::Emulator;

/// One row of the `customer_records` table.
#[derive(Debug, Clone, BqRow)]
struct CustomerRecord {
    row_num: i64,
    customer_name: Option<String>,
}

fn record(row_num: i64, name: &str) -> CustomerRecord {
    CustomerRecord {
        row_num,
        customer_name: Some(name.to_owned()),
    }
}

/// The sample itself: what a user writes.
async fn append_pending(table: &Table) -> bqwrite::Result<()> {
    let mut writer = Writer::<CustomerRecord>::pending(table).await?;
    println!("created stream {}", writer.stream_name());

    let offsets = writer
        .append([record(1, "Alice"), record(2, "Bob")])
        .await?;
    println!("appended Alice and Bob at offsets {offsets:?}");
    let offsets = writer.append([record(3, "Charles")]).await?;
    println!("appended Charles at offsets {offsets:?}");

    let finalized = writer.finalize().await?;
    println!("finalized {} rows", finalized.row_count());
    let commit = finalized.commit().await?;
    println!("committed at {}", commit.commit_time());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => run_on_embedded_emulator().await,
        [flag, path] if flag == "--table" => {
            let client = Client::from_env().await?;
            append_pending(&client.table_from_path(path)?).await?;
            Ok(())
        }
        _ => Err("usage: customer_records [--table projects/P/datasets/D/tables/T]".into()),
    }
}

async fn run_on_embedded_emulator() -> Result<(), Box<dyn std::error::Error>> {
    let path = "projects/bqwrite-example/datasets/example/tables/customer_records";
    let emulator = Emulator::builder()
        .project("bqwrite-example")
        .start()
        .await?;
    emulator.create_dataset("bqwrite-example", "example")?;
    emulator.create_table(path, CustomerRecord::table_schema())?;
    println!("embedded emulator on {}", emulator.grpc_addr());

    let client = Client::emulator(emulator.grpc_addr().to_string())?;
    append_pending(&client.table_from_path(path)?).await?;

    println!("rows of {path}:");
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
