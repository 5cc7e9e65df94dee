//! The `bqwrite-emulator` program: flags, `--schema` files, and errors.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_bqwrite-emulator");

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn schema_file(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "bqwrite-emulator-{}-{name}.json",
        std::process::id()
    ));
    std::fs::write(
        &path,
        r#"{"fields": [{"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
                       {"name": "who", "type": "RECORD", "fields": [{"name": "n", "type": "STRING"}]}]}"#,
    )
    .unwrap();
    path
}

#[tokio::test]
async fn the_program_creates_schema_tables_and_serves_them() {
    let schema = schema_file("ok");
    let mut child = Command::new(BIN)
        .args(["--grpc-port", "0", "--http-port", "0", "--project", "proj"])
        .arg("--schema")
        .arg(format!(
            "projects/other/datasets/d/tables/full={}",
            schema.display()
        ))
        .arg("--schema")
        .arg(format!("d.short={}", schema.display()))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the program starts");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let line = bounded(
        "the ready line",
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        }),
    )
    .await
    .unwrap()
    .unwrap();
    // "bqwrite-emulator: gRPC on http://A, REST on http://B/bigquery/v2 (Ctrl-C to stop)"
    let rest = line
        .split("REST on http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
    let addr: SocketAddr = rest.parse().unwrap();
    let (status, table) = http_at(
        addr,
        "GET",
        "/bigquery/v2/projects/other/datasets/d/tables/full",
        None,
    )
    .await;
    assert_eq!(status, 200, "{table}");
    assert_eq!(table["schema"]["fields"][1]["type"], json!("RECORD"));
    let (status, _) = http_at(
        addr,
        "GET",
        "/bigquery/v2/projects/proj/datasets/d/tables/short",
        None,
    )
    .await;
    assert_eq!(status, 200, "d.short lands in the default project");
    drop(running);
    let _ = std::fs::remove_file(schema);
}

/// Runs the program with `args`, expecting it to fail; returns its stderr.
async fn failing_run(args: Vec<String>) -> String {
    let mut child = Command::new(BIN)
        .args(["--grpc-port", "0", "--http-port", "0"])
        .args(args)
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program starts");
    let mut stderr = child.stderr.take().unwrap();
    let mut running = Running(child);
    let text = bounded(
        "the program exits",
        tokio::task::spawn_blocking(move || {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut stderr, &mut text).map(|_| text)
        }),
    )
    .await
    .unwrap()
    .unwrap();
    let status = running.0.wait().unwrap();
    assert!(!status.success(), "the program should fail: {text}");
    text
}

#[tokio::test]
async fn a_bad_schema_argument_fails_with_a_message() {
    let stderr = failing_run(vec![
        "--schema".into(),
        "d.t=/definitely/not/here.json".into(),
    ])
    .await;
    assert!(
        stderr.contains("cannot read schema file /definitely/not/here.json"),
        "{stderr}"
    );

    let bad =
        std::env::temp_dir().join(format!("bqwrite-emulator-{}-bad.json", std::process::id()));
    std::fs::write(&bad, r#"[{"name": "x", "type": "NOPE"}]"#).unwrap();
    let stderr = failing_run(vec!["--schema".into(), format!("d.t={}", bad.display())]).await;
    assert!(stderr.contains("unknown type \"NOPE\""), "{stderr}");
    let _ = std::fs::remove_file(bad);

    let stderr = failing_run(vec!["--schema".into(), "no-equals-sign".into()]).await;
    assert!(stderr.contains("expected TABLE=FILE"), "{stderr}");
}

#[tokio::test]
async fn help_lists_the_rest_routes_and_the_link_flags() {
    let output = bounded(
        "--help",
        tokio::task::spawn_blocking(|| Command::new(BIN).arg("--help").output()),
    )
    .await
    .unwrap()
    .expect("the program runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "--latency-ms",
        "--connection-mbps",
        "/bigquery/v2",
        "datasets.list",
        "datasets.insert",
        "datasets.get",
        "datasets.delete",
        "deleteContents",
        "tables.list",
        "tables.insert",
        "tables.get",
        "tables.delete",
        "tabledata.list",
        "maxResults",
        "pageToken",
        "startIndex",
    ] {
        assert!(help.contains(expected), "--help lacks {expected}:\n{help}");
    }
}

#[tokio::test]
async fn an_unusable_bandwidth_fails_with_a_message() {
    let stderr = failing_run(vec!["--connection-mbps".into(), "0".into()]).await;
    assert!(stderr.contains("invalid link setting"), "{stderr}");
}
