//! Developer tasks for bqwrite.
//!
//! `cargo run -p xtask -- codegen` regenerates `bqwrite/src/proto/gen/` from the
//! `.proto` files in `proto/`, with a pure-Rust pipeline (protox, then
//! tonic-prost-build): no `protoc` is needed. `cargo run -p xtask -- codegen
//! --check` fails if the checked-in code is stale; the xtask tests run that
//! check in CI.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xtask::{generate, workspace_root};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = workspace_root();
    let result = match args.as_slice() {
        ["codegen"] => write(&root),
        ["codegen", "--check"] => check(&root),
        _ => Err("usage: cargo run -p xtask -- codegen [--check]".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn write(root: &Path) -> Result<(), String> {
    let out = xtask::generated_dir(root);
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    for (name, text) in generate(root)? {
        let path: PathBuf = out.join(&name);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn check(root: &Path) -> Result<(), String> {
    let stale = xtask::stale_files(root)?;
    if stale.is_empty() {
        println!("generated protobuf code is up to date");
        Ok(())
    } else {
        Err(format!(
            "generated code is stale: {}; run `cargo run -p xtask -- codegen`",
            stale.join(", ")
        ))
    }
}
