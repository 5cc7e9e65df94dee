//! The sink into the in-process emulator, each next
//! to a baseline measured in the same run:
//!
//! - **peak memory**: 100,000 tasks each sending one row at once through a
//!   sink with the default options; the process's peak RSS (VmHWM), before
//!   and after.
//! - **sink vs bulk**: the same rows from 1,000 (and 10,000) tasks, one row
//!   per `send` (each task sends its next row when the last is
//!   acknowledged), against one `Writer::append` of all of them, on the
//!   same stream type, in the same run.
//!
//! Both on loopback and over the emulator's simulated wide-area link (20 ms
//! one way, 100 Mbit/s per connection), where users are: there a sink's
//! rate is bound by round trips (each task has one row in flight). The
//! pending group's fan-out has a bench of its own (`benches/fan_out.rs`).
//!
//! `cargo bench --bench sink` (add `-- --quick` for one round of each,
//! `-- --only sink` for one section, `-- --rounds 7` for more rounds,
//! `-- --tasks 1000` for the sink with that many tasks only).
//!
//! The emulator runs on a runtime of its own, whose threads are named
//! `emulator` (and its simulated link's `emulator-link`), so that the
//! client's share of the CPU (every other thread) can be told apart: a
//! user's server is not on their machine. With
//! `-- --shared-runtime` client and emulator share one runtime, as in the
//! figures before 2026-12-01 session 4 (no client share then).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bqwrite::{BqRow, SinkOptions, Table, Writer};
use bqwrite_emulator::Emulator;

#[path = "support/mod.rs"]
mod support;
use support::{SERVER_THREADS, Setup, link, median, threads_cpu};

#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    kind: i64,
    payload: String,
}

fn event(i: usize) -> Event {
    Event {
        id: i as i64,
        kind: (i % 7) as i64,
        payload: "x".repeat(80),
    }
}

fn rows(n: usize) -> Vec<Event> {
    (0..n).map(event).collect()
}

/// The process's peak resident set size, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

/// `tasks` tasks, each sending its share of `data` one row per `send`.
async fn sink_sends(
    table: &Table,
    options: SinkOptions,
    data: &Arc<Vec<Event>>,
    tasks: usize,
) -> Cost {
    let sink = table
        .client()
        .sink_with::<Event>(table, options)
        .await
        .expect("sink");
    let clock = Clock::start();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let sink = sink.clone();
            let data = data.clone();
            tokio::spawn(async move {
                for row in data.iter().skip(t).step_by(tasks) {
                    sink.send(row).await.expect("send");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    let cost = clock.stop();
    sink.close().await.expect("close");
    let stats = sink.stats();
    ROWS_PER_REQUEST.store(
        stats.rows_acknowledged / stats.requests_acknowledged.max(1),
        std::sync::atomic::Ordering::Relaxed,
    );
    cost
}

/// The mean rows per request of the last sink run.
static ROWS_PER_REQUEST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One `append` of every row (it returns when all are acknowledged).
async fn bulk(table: &Table, data: &[Event], exactly_once: bool) -> Cost {
    if exactly_once {
        let mut writer = Writer::<Event>::committed(table).await.expect("writer");
        let clock = Clock::start();
        writer.append(data).await.expect("append");
        clock.stop()
    } else {
        let mut writer = Writer::<Event>::default_stream(table)
            .await
            .expect("writer");
        let clock = Clock::start();
        writer.append(data).await.expect("append");
        clock.stop()
    }
}

/// What a run cost: wall-clock time, and CPU time of the whole process
/// (client and in-process emulator), which other load on the machine
/// disturbs far less than the wall clock.
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
    /// The client's share of `cpu`: every thread but the emulator's (its
    /// server's and its link's).
    client: Duration,
}

struct Clock {
    start: Instant,
    cpu: Cpu,
}

impl Clock {
    fn start() -> Self {
        Self {
            start: Instant::now(),
            cpu: Cpu::now(),
        }
    }

    fn stop(self) -> Cost {
        let cpu = Cpu::now();
        Cost {
            wall: self.start.elapsed(),
            cpu: cpu.all.saturating_sub(self.cpu.all),
            client: cpu.client.saturating_sub(self.cpu.client),
        }
    }
}

/// CPU time of the process's live threads, all and the client's (Linux
/// `schedstat`, in ns; zero elsewhere).
#[derive(Debug, Clone, Copy)]
struct Cpu {
    all: Duration,
    client: Duration,
}

impl Cpu {
    fn now() -> Self {
        let all = threads_cpu("");
        Self {
            all,
            client: all.saturating_sub(threads_cpu(SERVER_THREADS)),
        }
    }
}

/// The median wall-clock and CPU time of some runs.
fn medians(runs: &[Cost]) -> Cost {
    Cost {
        wall: median(runs.iter().map(|c| c.wall).collect()),
        cpu: median(runs.iter().map(|c| c.cpu).collect()),
        client: median(runs.iter().map(|c| c.client).collect()),
    }
}

/// The median and range of `base / sunk` over paired rounds.
fn ratios(base: &[Cost], sunk: &[Cost], of: impl Fn(&Cost) -> Duration) -> String {
    let mut r: Vec<f64> = base
        .iter()
        .zip(sunk)
        .map(|(b, s)| of(b).as_secs_f64() / of(s).as_secs_f64())
        .collect();
    r.sort_by(f64::total_cmp);
    format!("{:.2} ({:.2}-{:.2})", r[r.len() / 2], r[0], r[r.len() - 1])
}

/// The load average over the last minute.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "n/a".to_owned())
}

/// CPU time per row, in µs.
fn per_row(rows: usize, cpu: Duration) -> String {
    format!("{:.2} µs", cpu.as_secs_f64() * 1e6 / rows as f64)
}

fn rate(rows: usize, d: Duration) -> String {
    format!("{:.0} rows/s", rows as f64 / d.as_secs_f64())
}

async fn peak_memory_section(setup: &mut Setup) {
    const TASKS: usize = 100_000;
    let before = peak_rss_kib();
    let table = setup.table::<Event>();
    let sink = setup.client.sink::<Event>(&table).await.expect("sink");
    let start = Instant::now();
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let sink = sink.clone();
            tokio::spawn(async move { sink.send(event(i)).await.expect("send") })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    let elapsed = start.elapsed();
    sink.close().await.expect("close");
    let after = peak_rss_kib();
    let rows = setup
        .emulator
        .row_count(&table.path().to_string())
        .expect("rows");
    assert_eq!(rows, TASKS);
    println!("\n## peak memory: {TASKS} tasks, one `send` each, default options\n");
    println!("| peak RSS before | peak RSS after | growth | time |");
    println!("| ---: | ---: | ---: | ---: |");
    println!(
        "| {} | {} | {} | {:.2} s |",
        mib(before),
        mib(after),
        mib(after.zip(before).map(|(a, b)| a - b)),
        elapsed.as_secs_f64()
    );
}

async fn sink_section(
    setup: &mut Setup,
    name: &str,
    n: usize,
    rounds: usize,
    split: bool,
    counts: &[usize],
) {
    let data = Arc::new(rows(n));
    println!(
        "\n## sink vs bulk: {n} rows, {name} (median of {rounds} rounds, bulk and sink \
         alternating; ratios: median (range) of the rounds' own; load average {})\n",
        load()
    );
    println!(
        "| mode | tasks | bulk append | sink, one row per send | rows per request | sink/bulk \
         | CPU per row, bulk | CPU per row, sink | CPU bulk/sink \
         | client CPU per row, bulk | client CPU per row, sink | client CPU bulk/sink |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for exactly_once in [false, true] {
        for &tasks in counts {
            let (mut base, mut sunk) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                base.push(bulk(&setup.table::<Event>(), &data, exactly_once).await);
                let options = if exactly_once {
                    SinkOptions::exactly_once()
                } else {
                    SinkOptions::default()
                };
                sunk.push(sink_sends(&setup.table::<Event>(), options, &data, tasks).await);
            }
            let wall = ratios(&base, &sunk, |c| c.wall);
            let cpu = ratios(&base, &sunk, |c| c.cpu);
            let client = ratios(&base, &sunk, |c| c.client);
            let (base, sunk) = (medians(&base), medians(&sunk));
            let na = || "n/a".to_owned();
            println!(
                "| {} | {tasks} | {} | {} | {} | {wall} | {} | {} | {cpu} | {} | {} | {} |",
                if exactly_once {
                    "exactly once (COMMITTED)"
                } else {
                    "at least once (_default)"
                },
                rate(n, base.wall),
                rate(n, sunk.wall),
                ROWS_PER_REQUEST.load(std::sync::atomic::Ordering::Relaxed),
                per_row(n, base.cpu),
                per_row(n, sunk.cpu),
                if split { per_row(n, base.client) } else { na() },
                if split { per_row(n, sunk.client) } else { na() },
                if split { client } else { na() },
            );
        }
    }
}

const LINK: &str = "20 ms one way, 100 Mbit/s per connection";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let shared = args.iter().any(|a| a == "--shared-runtime");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(args, shared));
}

async fn run(args: Vec<String>, shared: bool) {
    let split = !shared;
    let quick = args.iter().any(|a| a == "--quick");
    let value = |flag: &str| {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1).cloned()
    };
    let rounds = value("--rounds")
        .and_then(|r| r.parse().ok())
        .unwrap_or(if quick { 1 } else { 3 });
    // `--only sink` (or `sink-link`, `memory`) runs one section.
    let only = value("--only");
    let runs = |section: &str| only.as_deref().is_none_or(|only| only == section);
    // `--tasks 1000` measures the sink with that many tasks only.
    let counts = value("--tasks")
        .and_then(|t| t.parse().ok())
        .map_or_else(|| vec![1_000, 10_000], |t| vec![t]);
    let mut setup = Setup::start(Emulator::builder(), shared).await;
    // First, while the process's peak is still the set-up's.
    if runs("memory") {
        peak_memory_section(&mut setup).await;
    }
    if runs("sink") {
        let n = if quick { 100_000 } else { 500_000 };
        sink_section(&mut setup, "loopback", n, rounds, split, &counts).await;
    }
    if runs("sink-link") {
        let mut link = Setup::start(link(), shared).await;
        let n = if quick { 20_000 } else { 100_000 };
        sink_section(&mut link, LINK, n, rounds, split, &counts).await;
        link.stop().await;
    }
    setup.stop().await;
}
