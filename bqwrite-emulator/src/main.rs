//! `bqwrite-emulator`: the BigQuery Storage Write API emulator as a program.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bqwrite_emulator::{DEFAULT_MAX_REQUEST_BYTES, Emulator};
use clap::Parser;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

/// A local BigQuery Storage Write API server (gRPC) with a BigQuery REST
/// subset (datasets, tables, tabledata.list), in memory.
#[derive(Debug, Parser)]
#[command(name = "bqwrite-emulator", version, about, after_help = REST_HELP)]
struct Args {
    /// The gRPC (Storage Write API) port.
    #[arg(long, default_value_t = 9060)]
    grpc_port: u16,
    /// The REST (BigQuery API v2) port.
    #[arg(long, default_value_t = 9050)]
    http_port: u16,
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The default project (for `dataset.table` names).
    #[arg(long, default_value = "test-project")]
    project: String,
    /// Creates a table at start from a BigQuery JSON schema file:
    /// `projects/p/datasets/d/tables/t=schema.json` or `dataset.table=schema.json`.
    /// Repeatable.
    #[arg(long = "schema", value_name = "TABLE=FILE")]
    schemas: Vec<String>,
    /// The largest AppendRowsRequest accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_REQUEST_BYTES)]
    max_request_bytes: usize,
    /// Rejects calls without the `x-goog-request-params` routing header.
    #[arg(long)]
    require_routing_header: bool,
    /// Simulates a wide-area link: the one-way delay, in milliseconds, of
    /// every byte of every gRPC connection, in each direction (a request and
    /// its answer take at least twice this; pipelined requests are not held
    /// back). The REST API is not delayed.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Simulates a wide-area link: the bandwidth, in megabits per second, of
    /// each direction of each gRPC connection on its own (200 = 25 MB/s each
    /// way per connection). Unlimited when not given.
    #[arg(long, value_name = "MBIT_PER_S")]
    connection_mbps: Option<f64>,
    /// How long, in milliseconds, a table schema change (tables.patch,
    /// tables.update) takes to reach the write path: until then a writer
    /// schema naming an added column is refused as unknown, and a dropped
    /// column is still accepted (its values discarded).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    schema_propagation_ms: u64,
    /// How long, in milliseconds, a table created under the name of a
    /// deleted table answers AppendRows with NOT_FOUND.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    recreate_window_ms: u64,
}

/// The REST routes, for `--help` (the crate docs have the same list).
const REST_HELP: &str = "\
REST API (BigQuery API v2 subset) on --http-port, under /bigquery/v2 and at the root:
  GET    /projects/{project}/datasets                  datasets.list   maxResults, pageToken
  POST   /projects/{project}/datasets                  datasets.insert body: {\"datasetReference\": {\"datasetId\": ...}}
  GET    /projects/{project}/datasets/{dataset}        datasets.get
  DELETE /projects/{project}/datasets/{dataset}        datasets.delete deleteContents=true deletes its tables too
  GET    /projects/{project}/datasets/{dataset}/tables tables.list     maxResults, pageToken
  POST   /projects/{project}/datasets/{dataset}/tables tables.insert   body: {\"tableReference\": {\"tableId\": ...}, \"schema\": {\"fields\": [...]}}
  GET    /projects/{project}/datasets/{dataset}/tables/{table}       tables.get
  DELETE /projects/{project}/datasets/{dataset}/tables/{table}       tables.delete
  PATCH  /projects/{project}/datasets/{dataset}/tables/{table}       tables.patch    body: {\"schema\": {\"fields\": [...]}} adds or relaxes columns
  PUT    /projects/{project}/datasets/{dataset}/tables/{table}       tables.update   as PATCH; columns the schema lacks are dropped
  GET    /projects/{project}/datasets/{dataset}/tables/{table}/data  tabledata.list  maxResults, pageToken or startIndex
Errors use BigQuery's JSON error body ({\"error\": {\"code\", \"message\", \"errors\": [{\"reason\"}], \"status\"}});
unknown paths answer 404 notFound, methods a path does not take 405 methodNotAllowed.

The Storage Write API (gRPC) is on --grpc-port: point a client at it with
BIGQUERY_STORAGE_EMULATOR_HOST=HOST:PORT. --latency-ms and --connection-mbps
make every gRPC connection behave like one over a wide-area network.";

fn parse_schema_arg(arg: &str) -> Result<(&str, PathBuf), String> {
    match arg.split_once('=') {
        Some((table, file)) if !table.is_empty() && !file.is_empty() => {
            Ok((table, PathBuf::from(file)))
        }
        _ => Err(format!("--schema {arg:?}: expected TABLE=FILE")),
    }
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn run(args: Args) -> Result<(), String> {
    let mut tables = Vec::new();
    for arg in &args.schemas {
        let (table, file) = parse_schema_arg(arg)?;
        let json = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read schema file {}: {e}", file.display()))?;
        tables.push((table.to_string(), file, json));
    }
    let mut builder = Emulator::builder()
        .project(&args.project)
        .host(args.host)
        .grpc_port(args.grpc_port)
        .http_port(args.http_port)
        .max_request_bytes(args.max_request_bytes)
        .require_routing_header(args.require_routing_header)
        .latency(Duration::from_millis(args.latency_ms))
        .schema_propagation(Duration::from_millis(args.schema_propagation_ms))
        .recreate_window(Duration::from_millis(args.recreate_window_ms));
    if let Some(mbps) = args.connection_mbps {
        builder = builder.connection_mbps(mbps);
    }
    let emu = builder.start().await.map_err(|e| e.to_string())?;
    for (table, file, json) in tables {
        emu.create_table_from_json(&table, &json)
            .map_err(|e| format!("--schema {table}={}: {e}", file.display()))?;
        info!(%table, file = %file.display(), "created table");
    }
    println!(
        "bqwrite-emulator: gRPC on {}, REST on {}/bigquery/v2 (Ctrl-C to stop)",
        emu.grpc_endpoint(),
        emu.http_endpoint()
    );
    wait_for_stop_signal().await;
    info!("stopping");
    emu.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to stderr, in colour only on a terminal (and never with NO_COLOR).
    let stderr = std::io::stderr();
    let colour =
        std::io::IsTerminal::is_terminal(&stderr) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            eprintln!("bqwrite-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
