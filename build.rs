//! Tells the derive's UI tests (`tests/derive_ui.rs`) whether this compiler
//! is the one their `.stderr` files were made with: the version in
//! `.ci/tested-rust`, the toolchain CI runs and asserts (`.ci/run`).
//! rustc's wording changes between releases, so on any other compiler they
//! are skipped (and say so), as serde and thiserror do with theirs.

use std::process::Command;

fn main() {
    ui_toolchain();
    live();
}

/// `tests/live.rs` runs against BigQuery only when its project and dataset
/// are set; its tests are ignored otherwise, and say why.
fn live() {
    println!("cargo::rustc-check-cfg=cfg(bqwrite_live)");
    let mut configured = true;
    for var in ["BQWRITE_LIVE_PROJECT", "BQWRITE_LIVE_DATASET"] {
        println!("cargo::rerun-if-env-changed={var}");
        configured &= std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
    }
    if configured {
        println!("cargo::rustc-cfg=bqwrite_live");
    }
}

fn ui_toolchain() {
    println!("cargo::rustc-check-cfg=cfg(bqwrite_ui_toolchain)");
    println!("cargo::rerun-if-changed=.ci/tested-rust");
    println!("cargo::rerun-if-env-changed=RUSTC");
    let pinned = std::fs::read_to_string(".ci/tested-rust")
        .map(|text| text.trim().to_owned())
        .unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if !pinned.is_empty() && version.starts_with(&format!("rustc {pinned} ")) {
        println!("cargo::rustc-cfg=bqwrite_ui_toolchain");
    } else {
        println!(
            "cargo::warning=the derive UI tests will be skipped: their .stderr files are \
             pinned to rustc {pinned} (.ci/tested-rust) and this is `{version}`"
        );
    }
}
