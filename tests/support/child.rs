//! Tests that need their own environment variables run in a child process:
//! the test binary runs itself again with the variables set, so nothing
//! changes the environment of the tests running beside it.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::process::Command;

/// Set in the child process: the test body runs there.
const CHILD: &str = "BQWRITE_TEST_CHILD";

/// Whether this process is the child started by [`run_in_child`].
pub fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs the test `name` of this test binary again in a child process with
/// `vars` set (and nothing else of the environment changed), and fails
/// unless it passed. The child is bounded by the test's own timeout.
pub fn run_in_child<K: AsRef<OsStr>, V: AsRef<OsStr>>(name: &str, vars: &[(K, V)]) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1");
    for (key, value) in vars {
        command.env(key, value);
    }
    let output = command.output().expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`{name}` failed in its child process:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "`{name}` did not run in its child process:\n{stdout}\n{stderr}"
    );
}
