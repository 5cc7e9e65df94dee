//! What the benches that measure the client apart from the emulator share:
//! the in-process emulator on a runtime of its own, its tables, and the CPU
//! time of each side, read per thread.

#![allow(dead_code)]

use std::time::Duration;

use bqwrite::{BqRow, Client, Table};
use bqwrite_emulator::{Emulator, EmulatorBuilder};

pub const PROJECT: &str = "bench";
pub const DATASET: &str = "bench";

/// The name of the emulator's runtime threads, and the start of its
/// link's (`emulator-link`).
pub const SERVER_THREADS: &str = "emulator";

/// The emulator behind a simulated wide-area link.
pub fn link() -> EmulatorBuilder {
    Emulator::builder()
        .latency(Duration::from_millis(20))
        .connection_mbps(100.0)
}

/// The in-process emulator, on a runtime of its own unless `shared`, and a
/// client of it.
pub struct Setup {
    pub emulator: Emulator,
    runtime: Option<tokio::runtime::Runtime>,
    pub client: Client,
    tables: usize,
}

impl Setup {
    /// `shared`: the emulator's server runs on the client's runtime (as in
    /// a test), so its CPU counts as the client's.
    pub async fn start(builder: EmulatorBuilder, shared: bool) -> Self {
        let builder = builder.project(PROJECT);
        let (emulator, runtime) = if shared {
            (builder.start().await.expect("emulator"), None)
        } else {
            let workers =
                std::env::var("EMULATOR_WORKERS").map_or(2, |w| w.parse().expect("workers"));
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name(SERVER_THREADS)
                .enable_all()
                .build()
                .expect("emulator runtime");
            let started = runtime.spawn(builder.start()).await.expect("start task");
            (started.expect("emulator"), Some(runtime))
        };
        emulator.create_dataset(PROJECT, DATASET).unwrap();
        let client = Client::emulator(emulator.grpc_addr().to_string()).unwrap();
        Self {
            emulator,
            runtime,
            client,
            tables: 0,
        }
    }

    pub fn table<T: BqRow>(&mut self) -> Table {
        self.tables += 1;
        let path = format!(
            "projects/{PROJECT}/datasets/{DATASET}/tables/t{}",
            self.tables
        );
        self.emulator
            .create_table(&path, T::table_schema())
            .expect("table");
        self.client.table_from_path(&path).expect("path")
    }

    pub async fn stop(self) {
        let Self {
            emulator, runtime, ..
        } = self;
        match runtime {
            Some(runtime) => {
                runtime
                    .spawn(emulator.shutdown())
                    .await
                    .expect("shutdown task");
                runtime.shutdown_background();
            }
            None => emulator.shutdown().await,
        }
    }
}

/// CPU time of the live threads whose name starts with `prefix` (all with
/// `""`) (Linux `schedstat`, in ns; zero elsewhere).
pub fn threads_cpu(prefix: &str) -> Duration {
    let Ok(threads) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let ns: u64 = threads
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|name| name.starts_with(prefix))
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// The median of some durations (the upper one of an even count).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
