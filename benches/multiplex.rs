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
//! `cargo bench --bench multiplex` (add `-- --quick` for one round of each).

use std::time::{Duration, Instant};

use bqwrite::client::DEFAULT_MAX_CONNECTIONS;
use bqwrite::{BqRow, Client, Table, Writer};
use bqwrite_emulator::{Emulator, EmulatorBuilder};

#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    kind: i64,
    payload: String,
}

const PROJECT: &str = "bench";
const DATASET: &str = "bench";
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

struct Setup {
    emulator: Emulator,
    client: Client,
    tables: usize,
}

impl Setup {
    async fn start(builder: EmulatorBuilder) -> Self {
        let emulator = builder.project(PROJECT).start().await.expect("emulator");
        emulator.create_dataset(PROJECT, DATASET).unwrap();
        let client = Client::emulator(emulator.grpc_addr().to_string()).unwrap();
        Self {
            emulator,
            client,
            tables: 0,
        }
    }

    fn table(&mut self) -> (String, Table) {
        self.tables += 1;
        let path = format!(
            "projects/{PROJECT}/datasets/{DATASET}/tables/t{}",
            self.tables
        );
        self.emulator
            .create_table(&path, Event::table_schema())
            .expect("table");
        let table = self.client.table_from_path(&path).expect("path");
        (path, table)
    }
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

/// All of `data` into one table.
async fn one_table(setup: &mut Setup, data: &[Event]) -> Duration {
    let (path, table) = setup.table();
    let writer = Writer::<Event>::default_stream(&table)
        .await
        .expect("writer");
    let start = Instant::now();
    write_calls(writer, data).await;
    let elapsed = start.elapsed();
    assert_eq!(setup.emulator.row_count(&path).unwrap(), data.len());
    elapsed
}

/// `data` split over `TABLES` tables, one writer and one task per table.
async fn many_tables(setup: &mut Setup, data: &'static [Event]) -> Duration {
    let mut writers = Vec::new();
    let mut paths = Vec::new();
    for _ in 0..TABLES {
        let (path, table) = setup.table();
        writers.push(
            Writer::<Event>::default_stream(&table)
                .await
                .expect("writer"),
        );
        paths.push(path);
    }
    let share = data.len() / TABLES;
    let start = Instant::now();
    let tasks: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(i, writer)| tokio::spawn(write_calls(writer, &data[i * share..(i + 1) * share])))
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let elapsed = start.elapsed();
    for path in paths {
        assert_eq!(setup.emulator.row_count(&path).unwrap(), share);
    }
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rate(rows: usize, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64()
}

async fn section(name: &str, builder: EmulatorBuilder, n: usize, rounds: usize) {
    let mut setup = Setup::start(builder).await;
    let data: &'static [Event] = Vec::leak(rows(n));
    let (mut one, mut many) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        one.push(one_table(&mut setup, data).await);
        many.push(many_tables(&mut setup, data).await);
    }
    let (one, many) = (median(one), median(many));
    let peak = setup.emulator.append_rows_connections().peak;
    assert!(
        peak as usize <= DEFAULT_MAX_CONNECTIONS,
        "peak {peak} connections"
    );
    println!(
        "{name}: {n} rows, 1 table {:.0} rows/s, {TABLES} tables {:.0} rows/s, \
         {TABLES} tables / 1 table = {:.2} (peak {peak} AppendRows connections)",
        rate(n, one),
        rate(n, many),
        rate(n, many) / rate(n, one),
    );
    setup.emulator.shutdown().await;
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 3 };
    let n = if quick { 200_000 } else { 1_000_000 };
    section("loopback", Emulator::builder(), n, rounds).await;
    let link = Emulator::builder()
        .latency(Duration::from_millis(20))
        .connection_mbps(100.0);
    section(
        "20 ms one way, 100 Mbit/s per connection",
        link,
        if quick { 100_000 } else { 300_000 },
        rounds,
    )
    .await;
}
