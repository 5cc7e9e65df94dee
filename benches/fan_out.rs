//! Fan-out: a `PendingGroup` of n = 1, 2, 4, 8 streams, each on its own
//! connection, fed calls of about 1 MB pipelined with `send` from one task,
//! then finalize and one commit. The baseline is n = 1 in the same run.
//!
//! Two row sizes: `Event` (about 100 bytes) and `Wide` (about 1 KiB, a wide
//! event, the big load fan-out is for), on loopback and over the emulator's
//! simulated wide-area link (20 ms one way, 100 Mbit/s per connection),
//! where one connection's bandwidth is the limit a group multiplies.
//!
//! Next to the rates, the CPU time of the client, of the emulator's server
//! and of the simulated link apart: the emulator's server (decoding and
//! checking rows, storing them) runs on a runtime of its own whose threads
//! are named `emulator`, the link's pumps on the process's one
//! `emulator-link` thread, the client on the main thread and the main
//! runtime's (`client`), and each thread's CPU time is read from
//! `/proc/self/task/*/schedstat` (Linux; zero elsewhere).
//!
//! `cargo bench --bench fan_out` (add `-- --quick` for one short round,
//! `-- --only link` (or `loopback`, `event`, `wide`, `link-wide`, ...) for
//! the sections whose name contains it, `-- --streams 1,8` for some n,
//! `-- --shared-runtime` to run the emulator's server on the client's
//! runtime, as a test does, `EMULATOR_WORKERS=1` for a busier server).

use std::time::{Duration, Instant};

use bqwrite::{BqRow, Table};
use bqwrite_emulator::{Emulator, EmulatorBuilder};

#[path = "support/mod.rs"]
mod support;
use support::{SERVER_THREADS, Setup, link, median, threads_cpu};

/// About 100 bytes on the wire.
#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    kind: i64,
    payload: String,
}

/// About 1 KiB on the wire: a wide event.
#[derive(Debug, Clone, BqRow)]
struct Wide {
    id: i64,
    kind: i64,
    at_micros: i64,
    score: f64,
    user: String,
    session: String,
    url: String,
    referrer: String,
    user_agent: String,
    region: String,
    payload: String,
}

trait BenchRow: BqRow + Clone + Send + Sync + 'static {
    const NAME: &'static str;
    /// Rows per `send` call: about 1 MB.
    const PER_CALL: usize;
    /// Rows per round, full and quick.
    const ROWS: (usize, usize);
    fn make(i: usize) -> Self;
}

impl BenchRow for Event {
    const NAME: &'static str = "event";
    const PER_CALL: usize = 10_000;
    const ROWS: (usize, usize) = (1_000_000, 200_000);

    fn make(i: usize) -> Self {
        Event {
            id: i as i64,
            kind: (i % 7) as i64,
            payload: "x".repeat(80),
        }
    }
}

impl BenchRow for Wide {
    const NAME: &'static str = "wide";
    const PER_CALL: usize = 1_000;
    const ROWS: (usize, usize) = (100_000, 20_000);

    fn make(i: usize) -> Self {
        Wide {
            id: i as i64,
            kind: (i % 7) as i64,
            at_micros: 1_764_547_200_000_000 + i as i64,
            score: i as f64 / 3.0,
            user: format!("user-{:032}", i % 10_007),
            session: format!("{:036}", i / 50),
            url: format!("https://example.com/shop/items/{i}?ref=home&q=").repeat(4),
            referrer: "https://search.example.org/results?q=some+query".repeat(3),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like \
                         Gecko) Chrome/131.0 Safari/537.36"
                .repeat(2),
            region: "europe-west4".to_owned(),
            payload: "y".repeat(300),
        }
    }
}

const LINK: &str = "link: 20 ms one way, 100 Mbit/s per connection";

/// What one run cost: wall-clock time and the CPU time of each side.
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: Duration,
    client: Duration,
    /// The emulator's server (its runtime's threads).
    emulator: Duration,
    /// The simulated link's pumps (the `emulator-link` thread).
    link: Duration,
}

struct Clock {
    start: Instant,
    all: Duration,
    emulator: Duration,
    link: Duration,
}

impl Clock {
    fn start() -> Self {
        Self {
            start: Instant::now(),
            all: threads_cpu(""),
            emulator: threads_cpu(SERVER_THREADS),
            link: threads_cpu("emulator-link"),
        }
    }

    /// The client's share is every thread but the emulator's: the main
    /// thread (which drives the bench) and the `client` runtime's.
    /// The link's threads are named `emulator-link`: the emulator's
    /// figure is without them.
    fn stop(self) -> Cost {
        let link = threads_cpu("emulator-link").saturating_sub(self.link);
        let emulator = threads_cpu(SERVER_THREADS).saturating_sub(self.emulator);
        let all = threads_cpu("").saturating_sub(self.all);
        Cost {
            wall: self.start.elapsed(),
            client: all.saturating_sub(emulator),
            emulator: emulator.saturating_sub(link),
            link,
        }
    }
}

/// The median of each figure of some runs, and the spread of the wall clock
/// (slowest / fastest).
fn medians(runs: &[Cost]) -> (Cost, f64) {
    let walls: Vec<Duration> = runs.iter().map(|c| c.wall).collect();
    let spread =
        walls.iter().max().unwrap().as_secs_f64() / walls.iter().min().unwrap().as_secs_f64();
    let cost = Cost {
        wall: median(walls),
        client: median(runs.iter().map(|c| c.client).collect()),
        emulator: median(runs.iter().map(|c| c.emulator).collect()),
        link: median(runs.iter().map(|c| c.link).collect()),
    };
    (cost, spread)
}

/// Calls of `T::PER_CALL` rows spread over a group of `streams`, then one
/// commit.
async fn fan_out<T: BenchRow>(table: &Table, data: &[T], streams: usize) -> Cost {
    let group = table.pending_group::<T>(streams).await.expect("group");
    let clock = Clock::start();
    let mut tickets = Vec::new();
    for call in data.chunks(T::PER_CALL) {
        tickets.push(group.send(call).await.expect("send"));
    }
    for ticket in tickets {
        ticket.await.expect("ticket");
    }
    let commit = group.commit().await.expect("commit");
    let cost = clock.stop();
    assert_eq!(commit.rows() as usize, data.len());
    cost
}

/// Bytes of `rows` as they go in a request's `ProtoRows` (each row with its
/// tag and length).
fn wire_bytes<T: BqRow>(rows: &[T]) -> usize {
    rows.iter()
        .map(|r| {
            let len = r.encoded_len();
            1 + varint_len(len) + len
        })
        .sum()
}

fn varint_len(v: usize) -> usize {
    (usize::BITS - (v | 1).leading_zeros()).div_ceil(7) as usize
}

struct Args {
    quick: bool,
    shared: bool,
    rounds: usize,
    only: Option<String>,
    streams: Vec<usize>,
}

async fn section<T: BenchRow>(setting: &str, builder: EmulatorBuilder, args: &Args) {
    let name = format!("{setting}-{}", T::NAME);
    if args
        .only
        .as_deref()
        .is_some_and(|only| !name.contains(only))
    {
        return;
    }
    let mut setup = Setup::start(builder, args.shared).await;
    let n = if args.quick { T::ROWS.1 } else { T::ROWS.0 };
    let data: Vec<T> = (0..n).map(T::make).collect();
    let bytes = wire_bytes(&data);
    let rounds = args.rounds;
    let place = if setting == "link" { LINK } else { setting };
    println!(
        "\n## {name} ({place}): {n} rows of {} bytes in calls of {}, median of {rounds}\n",
        bytes / n,
        T::PER_CALL
    );
    println!(
        "| streams | rate | MB/s | MB/s per connection | n/1 | spread | CPU client | CPU emulator | CPU link | CPU busy |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut one = None;
    for &streams in &args.streams {
        let mut runs = Vec::new();
        for _ in 0..rounds {
            runs.push(fan_out(&setup.table::<T>(), &data, streams).await);
        }
        let (cost, spread) = medians(&runs);
        let secs = cost.wall.as_secs_f64();
        let base = *one.get_or_insert(secs);
        let mb = bytes as f64 / secs / 1e6;
        println!(
            "| {streams} | {:.0} rows/s | {mb:.1} | {:.1} | {:.2} | {spread:.2} | {:.2} s | {:.2} s | {:.2} s | {:.0}% |",
            n as f64 / secs,
            mb / streams as f64,
            base / secs,
            cost.client.as_secs_f64(),
            cost.emulator.as_secs_f64(),
            cost.link.as_secs_f64(),
            100.0 * (cost.client + cost.emulator + cost.link).as_secs_f64() / secs,
        );
    }
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
    let streams = value("--streams").map_or_else(
        || vec![1, 2, 4, 8],
        |s| {
            s.split(',')
                .map(|n| n.parse().expect("--streams 1,2,4"))
                .collect()
        },
    );
    Args {
        quick,
        shared: args.iter().any(|a| a == "--shared-runtime"),
        rounds: value("--rounds").map_or(if quick { 1 } else { 3 }, |r| {
            r.parse().expect("--rounds N")
        }),
        only: value("--only"),
        streams,
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
        section::<Event>("loopback", Emulator::builder(), &args).await;
        section::<Event>("link", link(), &args).await;
        section::<Wide>("loopback", Emulator::builder(), &args).await;
        section::<Wide>("link", link(), &args).await;
    });
}
