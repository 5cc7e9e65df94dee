//! Many tasks, one sink: each task sends one row at a time, the sink
//! batches them into requests, and each `send` resolves when its own row is
//! acknowledged or rejected.
//!
//! ```text
//! cargo run --example sink                  # on an embedded emulator
//! cargo run --example sink -- --table projects/p/datasets/d/tables/t
//! ```
//!
//! With `--table`, the rows go to that table (on the emulator named by
//! `BIGQUERY_STORAGE_EMULATOR_HOST` when it is set, on BigQuery otherwise).
//! The table needs the columns `id INT64 REQUIRED`, `user STRING` and
//! `payload JSON`.

use bqwrite::{BqRow, Client, SinkOptions, Table};
use bqwrite_emulator::Emulator;

/// One event, sent by whichever task saw it.
#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    user: Option<String>,
    #[bq(type = "JSON")]
    payload: String,
}

/// What a user writes: a sink shared by 1,000 tasks, one row per `send`.
async fn write_events(client: &Client, table: &Table) -> bqwrite::Result<()> {
    // Exactly once, through a COMMITTED stream; `client.sink(&table)` writes
    // at least once through `_default`.
    let sink = client
        .sink_with::<Event>(table, SinkOptions::exactly_once())
        .await?;
    let tasks: Vec<_> = (0..1_000)
        .map(|task| {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut rejected = 0;
                for n in 0..10 {
                    let id = task * 10 + n;
                    // One event in 1,000 carries a payload BigQuery refuses.
                    let payload = if id % 1_000 == 999 {
                        "{oops".to_owned()
                    } else {
                        format!("{{\"n\":{n}}}")
                    };
                    let event = Event {
                        id,
                        user: Some(format!("user-{}", task % 17)),
                        payload,
                    };
                    match sink.send(event).await {
                        Ok(()) => {}
                        // Only this row failed; its batch-mates are written.
                        Err(e) if e.kind() == bqwrite::ErrorKind::RowErrors => {
                            eprintln!("row {id} rejected: {}", e.row_errors()[0].message);
                            rejected += 1;
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(rejected)
            })
        })
        .collect();
    let mut rejected = 0;
    for task in tasks {
        rejected += task.await.expect("task panicked")?;
    }
    sink.close().await?;
    let stats = sink.stats();
    println!(
        "10,000 rows sent one at a time from 1,000 tasks: {} written in {} requests, {rejected} rejected",
        stats.rows_acknowledged, stats.requests_acknowledged
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
            write_events(&client, &client.table_from_path(path)?).await?;
            Ok(())
        }
        _ => Err("usage: sink [--table projects/P/datasets/D/tables/T]".into()),
    }
}

async fn run_on_embedded_emulator() -> Result<(), Box<dyn std::error::Error>> {
    let path = "projects/bqwrite-example/datasets/example/tables/events";
    let emulator = Emulator::builder()
        .project("bqwrite-example")
        .start()
        .await?;
    emulator.create_dataset("bqwrite-example", "example")?;
    emulator.create_table(path, Event::table_schema())?;
    println!("embedded emulator on {}", emulator.grpc_addr());

    let client = Client::emulator(emulator.grpc_addr().to_string())?;
    write_events(&client, &client.table_from_path(path)?).await?;
    println!("{path} holds {} rows", emulator.row_count(path)?);
    emulator.shutdown().await;
    Ok(())
}
