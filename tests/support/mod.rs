//! Shared set-up of the user-level tests: an emulator on 127.0.0.1 with a
//! table made from a row type's schema, and a client of it.

#![allow(dead_code)]

pub mod accounts;
pub mod child;
pub mod proxy;
pub mod tls;
pub mod tokens;

use std::future::Future;
use std::time::Duration;

use bqwrite::{BqRow, Client, Table};
use bqwrite_emulator::Emulator;

pub const PROJECT: &str = "test-project";
pub const DATASET: &str = "test_dataset";

/// Every test is bounded: a hang fails instead of stalling CI.
pub async fn bounded<F: Future>(seconds: u64, test: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(seconds), test)
        .await
        .expect("test timed out")
}

/// A raw gRPC request with the routing header the emulator requires.
pub fn routed<T>(key: &str, value: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let header = format!("{key}={}", value.replace('/', "%2F"));
    let header = header.parse().expect("an ASCII header");
    request
        .metadata_mut()
        .insert("x-goog-request-params", header);
    request
}

pub struct Env {
    pub emulator: Emulator,
    pub client: Client,
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(Emulator::builder()).await
    }

    /// An emulator from `builder`, with the test project and dataset. The
    /// routing header is required: our client must always send it.
    pub async fn start_with(builder: bqwrite_emulator::EmulatorBuilder) -> Self {
        let emulator = builder
            .project(PROJECT)
            .require_routing_header(true)
            .start()
            .await
            .expect("emulator starts");
        emulator
            .create_dataset(PROJECT, DATASET)
            .expect("dataset created");
        let client = Client::emulator(emulator.grpc_addr().to_string()).expect("client");
        Self { emulator, client }
    }

    pub fn path(table: &str) -> String {
        format!("projects/{PROJECT}/datasets/{DATASET}/tables/{table}")
    }

    /// Creates `table` with the schema `T` writes, and returns it.
    pub fn table_for<T: BqRow>(&self, table: &str) -> Table {
        self.table_with(table, T::table_schema())
    }

    /// A client of the emulator whose `_default` writers share at most
    /// `max` pooled AppendRows connections.
    pub async fn pooled_client(&self, max: usize) -> Client {
        Client::builder()
            .emulator(self.emulator.grpc_addr().to_string())
            .max_connections(max)
            .build()
            .await
            .expect("client")
    }

    /// Creates `table` with `schema`, and returns it as `client` sees it.
    pub fn table_of(&self, client: &Client, table: &str, schema: bqwrite::TableSchema) -> Table {
        let path = Self::path(table);
        self.emulator
            .create_table(&path, schema)
            .expect("table created");
        client.table_from_path(&path).expect("table path")
    }

    /// Creates `table` with `schema`, and returns it.
    pub fn table_with(&self, table: &str, schema: bqwrite::TableSchema) -> Table {
        let path = Self::path(table);
        self.emulator
            .create_table(&path, schema)
            .expect("table created");
        self.client.table_from_path(&path).expect("table path")
    }

    /// The committed rows of `table`, each as its list of cell values in
    /// tabledata.list's form (`{"f":[{"v":..}]}` -> `[..]`).
    pub fn cells(&self, table: &str) -> Vec<Vec<serde_json::Value>> {
        self.emulator
            .rows(&Self::path(table))
            .expect("rows readable")
            .iter()
            .map(|row| {
                let json = row.to_json();
                json["f"]
                    .as_array()
                    .expect("a row is {\"f\": [...]}")
                    .iter()
                    .map(|cell| cell["v"].clone())
                    .collect()
            })
            .collect()
    }
}
