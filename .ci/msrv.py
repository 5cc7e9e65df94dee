"""Checks the declared minimum Rust version against the locked dependencies.

Reads `cargo metadata` on stdin: every package of the lock file that declares
a `rust-version` must declare one no newer than the workspace's, or our
`rust-version` promises what a dependency does not. (std APIs newer than it
are caught by clippy's `incompatible_msrv` lint, which reads it too.)
"""

import json
import sys


def parse(version):
    return tuple(int(part) for part in version.split("."))[:2]


metadata = json.load(sys.stdin)
members = set(metadata["workspace_members"])
ours = {p["rust_version"] for p in metadata["packages"] if p["id"] in members}
if len(ours) != 1:
    sys.exit(f"workspace members declare different rust-version values: {sorted(ours)}")
declared = ours.pop()
newer = sorted(
    (p["name"], p["version"], p["rust_version"])
    for p in metadata["packages"]
    if p.get("rust_version") and parse(p["rust_version"]) > parse(declared)
)
if newer:
    for name, version, rust in newer:
        print(f"{name} {version} needs Rust {rust}", file=sys.stderr)
    sys.exit(f"dependencies need a newer Rust than rust-version = {declared}")
print(f"rust-version = {declared}: no locked dependency declares a newer one")
