//! Many tables over the client's pooled connections, against one table, in
//! the same run: the same rows, in calls of 1,000 pipelined with `send`,
//!
//! - **one table**: one `_default` writer, one task;
//! - **100 tables**: 100 `_default` writers made from one client (so over
//!   its pool of `max_connections`, default 4), one task each writing its
//!   share.
//!
//! On loopback and over the emulator's simulated wide-area link (20 ms one
//! way, 100 Mbit/s per connection), where real users are. Writers are made
//! before the clock starts. The bench checks the row counts and that the
//! emulator saw at most `max_connections` connections at once.
//!
//! Next to the rates, the client's CPU time: the emulator runs on a
//! runtime of its own (`benches/support`), whose threads (and its simulated
//! link's) are not the client's.
//!
//! `cargo bench --bench multiplex` (add `-- --quick` for one round of each,
//! `-- --only link` (or `loopback`) for one section, `-- --rounds N`,
//! `-- --shared-runtime` to run the emulator's server on the client's
//! runtime, as before 2026-12-01 session 5).

use std::time::{Duration, Instant};

use bqwrite::client::DEFAULT_MAX_CONNECTIONS;
use bqwrite::{BqRow, Table, Writer};
use bqwrite_emulator::{Emulator, EmulatorBuilder};

#[path = "support/mod.rs"]
mod support;
use support::{Setup, link, median, threads_cpu};

#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    kind: i64,
    payload: String,
}

const TABLES: usize = 100;
const PER_CALL: usize = 1_000;

fn rows(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            id: i as i64,
            kind: (i % 7) as i64,
            payload: "x".repeat(80),
        })
        .collect()
}

/// A new table of `setup`'s emulator, and its path (for its row count).
fn table(setup: &mut Setup) -> (String, Table) {
    let table = setup.table::<Event>();
    (table.path().to_string(), table)
}

/// Writes `data` to `writer` in calls of `PER_CALL`, pipelined; waits for
/// every ticket.
async fn write_calls(mut writer: Writer<Event, bqwrite::writer::DefaultStream>, data: &[Event]) {
    let mut tickets = Vec::new();
    for call in data.chunks(PER_CALL) {
        tickets.push(writer.send(call).await.expect("send"));
    }
    for ticket in tickets {
        ticket.await.expect("acknowledged");
    }
}

/// What one run cost: the wall clock and the client's CPU time.
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: Duration,
    client: Duration,
}

/// Times a run: the client's CPU is every thread's but the emulator's
/// (whose runtime's and link's threads are named `emulator...`).
struct Clock {
    start: Instant,
    all: Duration,
    emulator: Duration,
}

impl Clock {
    fn start() -> Self {
        Self {
            start: Instant::now(),
            all: threads_cpu(""),
            emulator: threads_cpu(support::SERVER_THREADS),
        }
    }

    fn stop(self) -> Cost {
        let emulator = threads_cpu(support::SERVER_THREADS).saturating_sub(self.emulator);
        let all = threads_cpu("").saturating_sub(self.all);
        Cost {
            wall: self.start.elapsed(),
            client: all.saturating_sub(emulator),
        }
    }
}

/// All of `data` into one table.
async fn one_table(setup: &mut Setup, data: &[Event]) -> Cost {
    let (path, table) = table(setup);
    let writer = Writer::<Event>::default_stream(&table)
        .await
        .expect("writer");
    let clock = Clock::start();
    write_calls(writer, data).await;
    let cost = clock.stop();
    assert_eq!(setup.emulator.row_count(&path).unwrap(), data.len());
    cost
}

/// `data` split over `TABLES` tables, one writer and one task per table.
async fn many_tables(setup: &mut Setup, data: &'static [Event]) -> Cost {
    let mut writers = Vec::new();
    let mut paths = Vec::new();
    for _ in 0..TABLES {
        let (path, table) = table(setup);
        writers.push(
            Writer::<Event>::default_stream(&table)
                .await
                .expect("writer"),
        );
        paths.push(path);
    }
    let share = data.len() / TABLES;
    let clock = Clock::start();
    let tasks: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(i, writer)| tokio::spawn(write_calls(writer, &data[i * share..(i + 1) * share])))
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let cost = clock.stop();
    for path in paths {
        assert_eq!(setup.emulator.row_count(&path).unwrap(), share);
    }
    cost
}

fn rate(rows: usize, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64()
}

/// The median wall clock and client CPU of some runs.
fn medians(runs: Vec<Cost>) -> Cost {
    Cost {
        wall: median(runs.iter().map(|c| c.wall).collect()),
        client: median(runs.iter().map(|c| c.client).collect()),
    }
}

struct Args {
    quick: bool,
    shared: bool,
    rounds: usize,
    only: Option<String>,
}

async fn section(name: &str, builder: EmulatorBuilder, n: usize, args: &Args) {
    if args
        .only
        .as_deref()
        .is_some_and(|only| !name.contains(only))
    {
        return;
    }
    let mut setup = Setup::start(builder, args.shared).await;
    let data: &'static [Event] = Vec::leak(rows(n));
    let (mut one, mut many) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        one.push(one_table(&mut setup, data).await);
        many.push(many_tables(&mut setup, data).await);
    }
    let (one, many) = (medians(one), medians(many));
    let peak = setup.emulator.append_rows_connections().peak;
    assert!(
        peak as usize <= DEFAULT_MAX_CONNECTIONS,
        "peak {peak} connections"
    );
    let per_row = |c: Cost| c.client.as_secs_f64() * 1e9 / n as f64;
    println!(
        "{name}: {n} rows, 1 table {:.0} rows/s, {TABLES} tables {:.0} rows/s, \
         {TABLES} tables / 1 table = {:.2} (peak {peak} AppendRows connections); \
         client CPU 1 table {:.2} s ({:.0} ns/row), {TABLES} tables {:.2} s ({:.0} ns/row)",
        rate(n, one.wall),
        rate(n, many.wall),
        rate(n, many.wall) / rate(n, one.wall),
        one.client.as_secs_f64(),
        per_row(one),
        many.client.as_secs_f64(),
        per_row(many),
    );
    setup.stop().await;
}

fn args() -> Args {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let quick = args.iter().any(|a| a == "--quick");
    Args {
        quick,
        shared: args.iter().any(|a| a == "--shared-runtime"),
        rounds: value("--rounds").map_or(if quick { 1 } else { 3 }, |r| {
            r.parse().expect("--rounds N")
        }),
        only: value("--only"),
    }
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async {
        let n = if args.quick { 200_000 } else { 1_000_000 };
        section("loopback", Emulator::builder(), n, &args).await;
        let n = if args.quick { 100_000 } else { 300_000 };
        section(
            "20 ms one way, 100 Mbit/s per connection (link)",
            link(),
            n,
            &args,
        )
        .await;
    });
}
