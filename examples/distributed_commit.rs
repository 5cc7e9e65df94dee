//! One atomic commit of rows written by several processes: each worker
//! writes and finalizes its own PENDING stream, and one coordinator commits
//! them all at once.
//!
//! ```text
//! cargo run --example distributed_commit
//! ```
//!
//! # The pattern
//! 1. Each worker (a process, a machine, a task of a job) creates a PENDING
//!    stream with [`Writer::pending`](bqwrite::Writer::pending), writes its
//!    share of the rows, and finalizes it. Nothing is visible yet.
//! 2. It hands `(finalized.name(), finalized.row_count())` to the
//!    coordinator: two plain values, over any channel (stdout here; a queue
//!    or a database in practice).
//! 3. The coordinator rebuilds each with
//!    [`Finalized::from_parts`](bqwrite::Finalized::from_parts) and calls
//!    [`Table::commit`](bqwrite::Table::commit) once: every worker's rows
//!    become visible at one commit time, or none does (a failed worker
//!    means no commit; its rows are never seen).
//!
//! # What this program does
//! The parent runs an embedded emulator and starts itself four times as a
//! worker process; each writes 5,000 rows of its own and finalizes. The
//! parent checks that nothing is visible, commits the four streams
//! atomically, and checks the table holds every worker's rows exactly once.
//! It exits non-zero otherwise.

use std::error::Error;
use std::process::{Command, Stdio};

use bqwrite::{BqRow, Client, Finalized, Writer, WriterOptions};
use bqwrite_emulator::Emulator;

const PROJECT: &str = "bqwrite-example";
const TABLE: &str = "projects/bqwrite-example/datasets/example/tables/readings";
const WORKERS: i64 = 4;
const ROWS_PER_WORKER: i64 = 5_000;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// One row of the `readings` table.
#[derive(Debug, Clone, BqRow)]
struct Reading {
    id: i64,
    worker: i64,
    value: f64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => coordinator().await,
        [role, addr, worker] if role == "worker" => work(addr, worker.parse()?).await,
        _ => Err("usage: distributed_commit (workers are started by the program itself)".into()),
    }
}

// ---- a worker: what a user writes ----

/// Writes this worker's rows to a PENDING stream, finalizes it, and hands
/// the stream's name and row count to the coordinator on stdout.
async fn work(addr: &str, worker: i64) -> Result<()> {
    let client = Client::emulator(addr)?;
    let table = client.table_from_path(TABLE)?;
    let options = WriterOptions::default().max_rows_per_request(500);
    let mut writer = Writer::<Reading>::pending_with(&table, options).await?;
    let first = worker * ROWS_PER_WORKER;
    let rows = (first..first + ROWS_PER_WORKER).map(|id| Reading {
        id,
        worker,
        value: id as f64 / 10.0,
    });
    writer.append(rows).await?;
    let finalized = writer.finalize().await?;
    println!("finalized {} {}", finalized.name(), finalized.row_count());
    Ok(())
}

// ---- the coordinator ----

async fn coordinator() -> Result<()> {
    let emulator = Emulator::builder().project(PROJECT).start().await?;
    emulator.create_dataset(PROJECT, "example")?;
    emulator.create_table(TABLE, Reading::table_schema())?;
    let outcome = coordinate(&emulator).await;
    emulator.shutdown().await;
    outcome
}

async fn coordinate(emulator: &Emulator) -> Result<()> {
    let addr = emulator.grpc_addr().to_string();
    let exe = std::env::current_exe()?;
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let child = Command::new(&exe)
            .args(["worker", &addr, &worker.to_string()])
            .stdout(Stdio::piped())
            .spawn()?;
        workers.push(tokio::task::spawn_blocking(move || {
            child.wait_with_output()
        }));
    }
    let mut handed_over = Vec::new();
    for (worker, output) in workers.into_iter().enumerate() {
        let output = output.await??;
        if !output.status.success() {
            return Err(format!(
                "worker {worker} failed ({}): nothing committed",
                output.status
            )
            .into());
        }
        let stdout = String::from_utf8(output.stdout)?;
        let handed = stdout
            .lines()
            .find_map(|line| {
                let mut parts = line.strip_prefix("finalized ")?.split(' ');
                Some((parts.next()?.to_owned(), parts.next()?.parse::<i64>().ok()?))
            })
            .ok_or_else(|| format!("worker {worker} handed over no stream"))?;
        println!("worker {worker}: {} rows in {}", handed.1, handed.0);
        handed_over.push(handed);
    }
    if emulator.row_count(TABLE)? != 0 {
        return Err("rows are visible before the commit".into());
    }

    let client = Client::emulator(&addr)?;
    let table = client.table_from_path(TABLE)?;
    let streams = handed_over
        .into_iter()
        .map(|(name, rows)| Finalized::from_parts(&table, name, rows))
        .collect::<bqwrite::Result<Vec<_>>>()?;
    let commit = table.commit(streams).await?;
    println!(
        "committed {} streams, {} rows, at {}",
        commit.streams().len(),
        commit.rows(),
        commit.commit_time()
    );
    check_every_row_once(emulator)
}

fn check_every_row_once(emulator: &Emulator) -> Result<()> {
    let total = WORKERS * ROWS_PER_WORKER;
    let mut seen = vec![false; total as usize];
    for row in emulator.rows(TABLE)? {
        let cells = row.to_json();
        let cell = |i: usize| {
            cells["f"][i]["v"]
                .as_str()
                .and_then(|v| v.parse::<i64>().ok())
        };
        let (Some(id), Some(worker)) = (cell(0), cell(1)) else {
            return Err(format!("unreadable row {cells}").into());
        };
        let slot = usize::try_from(id)
            .ok()
            .filter(|&i| i < seen.len() && id / ROWS_PER_WORKER == worker)
            .ok_or_else(|| format!("row {id} of worker {worker} was never written"))?;
        if std::mem::replace(&mut seen[slot], true) {
            return Err(format!("row {id} is in the table twice").into());
        }
    }
    let missing = seen.iter().filter(|s| !**s).count();
    if missing > 0 {
        return Err(format!("{missing} rows are missing").into());
    }
    println!("the table holds all {total} rows of {WORKERS} workers, each exactly once");
    Ok(())
}
