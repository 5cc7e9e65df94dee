//! The code generation behind `cargo run -p xtask -- codegen`.

use std::path::{Path, PathBuf};

/// The `.proto` files compiled, relative to `proto/`.
pub const PROTO_FILES: &[&str] = &[
    "google/cloud/bigquery/storage/v1/storage.proto",
    "google/cloud/bigquery/storage/v1/annotations.proto",
    "google/rpc/status.proto",
];

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Where the generated Rust code is checked in.
pub fn generated_dir(root: &Path) -> PathBuf {
    root.join("bqwrite/src/proto/gen")
}

/// Compiles `proto/` into a file descriptor set with protox (no `protoc`).
pub fn descriptor_set(root: &Path) -> Result<prost_types::FileDescriptorSet, String> {
    let include = root.join("proto");
    let files: Vec<PathBuf> = PROTO_FILES.iter().map(|f| include.join(f)).collect();
    protox::compile(&files, [&include]).map_err(|e| format!("compiling proto/: {e}"))
}

/// Generates the Rust code: `(file name, contents)` for each protobuf package.
pub fn generate(root: &Path) -> Result<Vec<(String, String)>, String> {
    let fds = descriptor_set(root)?;
    let tmp = std::env::temp_dir().join(format!("bqwrite-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let result = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .server_mod_attribute(
            "google.cloud.bigquery.storage.v1",
            r#"#[cfg(feature = "server")]"#,
        )
        // Rows are slices of one encoded buffer, not one allocation each.
        .bytes(".google.cloud.bigquery.storage.v1.ProtoRows.serialized_rows")
        // `prost_types::DescriptorProto` drops the `column_name` field option;
        // this mirror keeps it (see `bqwrite/src/proto/descriptor.rs`).
        .extern_path(
            ".google.protobuf.DescriptorProto",
            "crate::proto::descriptor::DescriptorProto",
        )
        .out_dir(&tmp)
        .emit_rerun_if_changed(false)
        .compile_fds(fds)
        .map_err(|e| format!("generating code: {e}"));
    let mut files = Vec::new();
    if result.is_ok() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&tmp)
            .map_err(|e| format!("reading {}: {e}", tmp.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            files.push((name, text));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| files)
}

/// The checked-in files that differ from freshly generated code.
pub fn stale_files(root: &Path) -> Result<Vec<String>, String> {
    let dir = generated_dir(root);
    let mut stale = Vec::new();
    for (name, text) in generate(root)? {
        let current = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
        if current != text {
            stale.push(name);
        }
    }
    Ok(stale)
}
