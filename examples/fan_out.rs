//! Many connections for one table: rows spread over 4 PENDING streams, each
//! on its own connection, made visible together by one atomic commit.
//!
//! ```text
//! cargo run --example fan_out                  # on an embedded emulator
//! cargo run --example fan_out -- --table projects/p/datasets/d/tables/t
//! ```
//!
//! With `--table`, the rows go to that table (on the emulator named by
//! `BIGQUERY_STORAGE_EMULATOR_HOST` when it is set, on BigQuery otherwise).
//! The table needs the columns `id INT64 REQUIRED` and `reading FLOAT64`.

use std::sync::Arc;

use bqwrite::{BqRow, Client, Table};
use bqwrite_emulator::Emulator;

/// One sensor reading.
#[derive(Debug, Clone, BqRow)]
struct Reading {
    id: i64,
    reading: Option<f64>,
}

/// What a user writes: 8 producers share a group of 4 streams.
async fn load(table: &Table) -> bqwrite::Result<()> {
    let group = Arc::new(table.pending_group::<Reading>(4).await?);
    let producers: Vec<_> = (0..8i64)
        .map(|p| {
            let group = group.clone();
            tokio::spawn(async move {
                for batch in 0..25 {
                    let first = (p * 25 + batch) * 1_000;
                    let rows = (first..first + 1_000).map(|id| Reading {
                        id,
                        reading: Some(id as f64 / 10.0),
                    });
                    // Each call goes whole to the least loaded stream.
                    group.append(rows).await?;
                }
                Ok::<(), bqwrite::Error>(())
            })
        })
        .collect();
    for producer in producers {
        producer.await.expect("producer panicked")?;
    }
    let group = Arc::into_inner(group).expect("every producer is done");
    for name in group.stream_names() {
        println!("stream {name}");
    }
    // Finalize every stream, then one BatchCommitWriteStreams: all or nothing.
    let commit = group.commit().await?;
    println!(
        "committed {} rows from {} streams at {}",
        commit.rows(),
        commit.streams().len(),
        commit.commit_time()
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
            load(&client.table_from_path(path)?).await?;
            Ok(())
        }
        _ => Err("usage: fan_out [--table projects/P/datasets/D/tables/T]".into()),
    }
}

async fn run_on_embedded_emulator() -> Result<(), Box<dyn std::error::Error>> {
    let path = "projects/bqwrite-example/datasets/example/tables/readings";
    let emulator = Emulator::builder()
        .project("bqwrite-example")
        .start()
        .await?;
    emulator.create_dataset("bqwrite-example", "example")?;
    emulator.create_table(path, Reading::table_schema())?;
    println!("embedded emulator on {}", emulator.grpc_addr());

    let client = Client::emulator(emulator.grpc_addr().to_string())?;
    load(&client.table_from_path(path)?).await?;
    println!("{path} holds {} rows", emulator.row_count(path)?);
    emulator.shutdown().await;
    Ok(())
}
