//! Exactly once across a crash: a writer process is killed mid-write, a new
//! one resumes its PENDING stream from a checkpoint, and every row is in the
//! table once.
//!
//! ```text
//! cargo run --example resume_after_crash
//! ```
//!
//! # The pattern
//! 1. The writer creates a stream and saves a checkpoint
//!    `(writer.stream_name(), next)` where a new process can read it (a
//!    file here; a database row or an object in practice).
//! 2. It sends rows in order, a few batches in flight
//!    ([`Writer::send`](bqwrite::Writer::send)), and each time a batch's
//!    ticket resolves it saves `(stream, offsets.end)`: every row before
//!    `next` is in the stream for sure.
//! 3. After a crash, the new process reads the checkpoint and calls
//!    `Writer::resume(&table, &stream, next)`, then sends again every row
//!    from `next` on, in the same order. The checkpoint lags the stream
//!    when batches in flight landed before the crash: the resumed writer
//!    finds the stream's real end with one-row probes and writes only the
//!    rows past it, so nothing is lost or written twice.
//! 4. The last process finalizes the stream; the stream is committed (here
//!    by the parent, from the name and row count the child hands over, with
//!    [`Finalized::from_parts`](bqwrite::Finalized::from_parts)).
//!
//! What a process must keep is only the checkpoint and a way to produce the
//! same rows again from any offset (a file, a log, a query ordered by a key).
//!
//! # What this program does
//! The parent runs an embedded emulator and starts itself as a child
//! process that writes 20,000 rows; it kills the child (`Child::kill`, no
//! chance to clean up) after a random-ish number of checkpoints, starts a
//! second child that resumes from the checkpoint and finishes, commits the
//! stream and checks the table holds rows 0..20,000 exactly once. It exits
//! non-zero otherwise.

use std::collections::VecDeque;
use std::error::Error;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use bqwrite::{BqRow, Client, Finalized, Writer, WriterOptions};
use bqwrite_emulator::Emulator;

const PROJECT: &str = "bqwrite-example";
const TABLE: &str = "projects/bqwrite-example/datasets/example/tables/events";
const ROWS: i64 = 20_000;
const BATCH: i64 = 250;
/// Batches in flight at once: what may have landed past the checkpoint.
const IN_FLIGHT: usize = 4;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// One row of the `events` table.
#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    payload: String,
}

/// Row `id`: the same every time it is made, so a process can send it again.
fn event(id: i64) -> Event {
    Event {
        id,
        payload: format!("event {id}"),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => parent().await,
        [role, addr, checkpoint] if role == "writer" => writer(addr, Path::new(checkpoint)).await,
        _ => Err(
            "usage: resume_after_crash (the writer role is started by the program itself)".into(),
        ),
    }
}

// ---- the writer process: what a user writes ----

/// Writes rows from the checkpoint on (or from 0 on a new stream), saving a
/// checkpoint after each acknowledged batch; finalizes at the end.
async fn writer(addr: &str, checkpoint: &Path) -> Result<()> {
    let client = Client::emulator(addr)?;
    let table = client.table_from_path(TABLE)?;
    let options = WriterOptions::default().max_rows_per_request(100);
    let mut writer = match load_checkpoint(checkpoint)? {
        Some((stream, next)) => {
            eprintln!("writer: resuming {stream} at row {next}");
            Writer::<Event>::resume_with(&table, &stream, next, options).await?
        }
        None => {
            let writer = Writer::<Event>::pending_with(&table, options).await?;
            save_checkpoint(checkpoint, writer.stream_name(), 0)?;
            writer
        }
    };
    let mut next = writer.acknowledged_rows();
    let mut tickets = VecDeque::new();
    while next < ROWS || !tickets.is_empty() {
        if next < ROWS && tickets.len() < IN_FLIGHT {
            let end = (next + BATCH).min(ROWS);
            tickets.push_back(writer.send((next..end).map(event)).await?);
            next = end;
            continue;
        }
        if let Some(ticket) = tickets.pop_front() {
            let offsets = ticket.await?;
            save_checkpoint(checkpoint, writer.stream_name(), offsets.end)?;
            println!("checkpoint {}", offsets.end);
        }
    }
    let stats = writer.stats();
    let finalized = writer.finalize().await?;
    eprintln!(
        "writer: finalized with {} rows; {} found already written",
        finalized.row_count(),
        stats.rows_already_written
    );
    println!("finalized {} {}", finalized.name(), finalized.row_count());
    Ok(())
}

/// Saves `(stream, next)` atomically: a crash leaves the old or the new one.
fn save_checkpoint(path: &Path, stream: &str, next: i64) -> Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, format!("{stream}\n{next}\n"))?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

fn load_checkpoint(path: &Path) -> Result<Option<(String, i64)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut lines = text.lines();
    match (lines.next(), lines.next().map(str::parse)) {
        (Some(stream), Some(Ok(next))) => Ok(Some((stream.to_owned(), next))),
        _ => Err(format!("unreadable checkpoint {}", path.display()).into()),
    }
}

// ---- the parent: an emulator, a crash, a restart, a check ----

async fn parent() -> Result<()> {
    let emulator = Emulator::builder().project(PROJECT).start().await?;
    emulator.create_dataset(PROJECT, "example")?;
    emulator.create_table(TABLE, Event::table_schema())?;
    let addr = emulator.grpc_addr().to_string();
    let dir = std::env::temp_dir().join(format!("bqwrite-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let checkpoint = dir.join("checkpoint");

    let outcome = crash_and_resume(&emulator, &addr, &checkpoint).await;
    let _ = std::fs::remove_dir_all(&dir);
    emulator.shutdown().await;
    outcome
}

async fn crash_and_resume(emulator: &Emulator, addr: &str, checkpoint: &Path) -> Result<()> {
    // Random-ish: the clock picks how many checkpoints the first writer
    // makes before it is killed (it would make 80).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos();
    let kill_after = 3 + (nanos % 40) as usize;
    let child = start_writer(addr, checkpoint)?;
    let checkpoint_path = checkpoint.to_owned();
    let seen =
        tokio::task::spawn_blocking(move || kill_after_checkpoints(child, kill_after)).await??;
    let (stream, next) = load_checkpoint(&checkpoint_path)?.ok_or("no checkpoint was saved")?;
    let landed = emulator.stream_rows(&stream)?;
    println!(
        "killed the writer after {seen} checkpoints: the checkpoint says row {next}, \
         the stream holds {landed} rows"
    );

    let child = start_writer(addr, checkpoint)?;
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    if !output.status.success() {
        return Err(format!("the resumed writer failed: {}", output.status).into());
    }
    let stdout = String::from_utf8(output.stdout)?;
    let (name, rows) = stdout
        .lines()
        .find_map(|line| {
            let mut parts = line.strip_prefix("finalized ")?.split(' ');
            Some((parts.next()?.to_owned(), parts.next()?.parse::<i64>().ok()?))
        })
        .ok_or("the resumed writer did not say what it finalized")?;
    if name != stream {
        return Err(format!("the resumed writer finalized {name}, not {stream}").into());
    }

    let client = Client::emulator(addr)?;
    let table = client.table_from_path(TABLE)?;
    let commit = table
        .commit([Finalized::from_parts(&table, name, rows)?])
        .await?;
    println!(
        "committed {} rows at {}",
        commit.rows(),
        commit.commit_time()
    );
    check_exactly_once(emulator)
}

fn start_writer(addr: &str, checkpoint: &Path) -> Result<Child> {
    let child = Command::new(std::env::current_exe()?)
        .arg("writer")
        .arg(addr)
        .arg(checkpoint)
        .stdout(Stdio::piped())
        .spawn()?;
    Ok(child)
}

/// Reads the child's checkpoints and kills it after the `n`-th, with
/// batches in flight; returns how many it saw.
fn kill_after_checkpoints(mut child: Child, n: usize) -> Result<usize> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut seen = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if line.starts_with("checkpoint ") {
            seen += 1;
            if seen == n {
                child.kill()?;
                break;
            }
        }
        if line.starts_with("finalized ") {
            return Err("the writer finished before it was killed".into());
        }
    }
    let status = child.wait()?;
    if seen < n || status.success() {
        return Err(format!(
            "the writer was not killed: it ended ({status}) after {seen} checkpoints"
        )
        .into());
    }
    Ok(seen)
}

fn check_exactly_once(emulator: &Emulator) -> Result<()> {
    let mut ids: Vec<i64> = Vec::new();
    for row in emulator.rows(TABLE)? {
        let cells = row.to_json();
        let id = cells["f"][0]["v"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .ok_or("a row without an id")?;
        ids.push(id);
    }
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    if count as i64 != ROWS || ids.len() as i64 != ROWS || ids.last() != Some(&(ROWS - 1)) {
        return Err(format!(
            "the table holds {count} rows, {} distinct: not rows 0..{ROWS} exactly once",
            ids.len()
        )
        .into());
    }
    println!("the table holds rows 0..{ROWS}, each exactly once");
    Ok(())
}
