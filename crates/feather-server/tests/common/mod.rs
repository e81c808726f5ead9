//! This package's tests on top of `feather-test-support`: the binary Cargo
//! built for them, started with a short lease, and its admin commands.

#![allow(dead_code, unused_imports)] // each test binary uses its own subset

use std::path::Path;
use std::process::{Command, Stdio};

pub use feather_test_support::process::ServerProcess;
pub use feather_test_support::server::{TestServer, capturing};
pub use feather_test_support::{Backend, TestDb};
use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_feather-server");
/// A short lease, so recovery is quick to observe.
pub const LEASE_MS: u64 = 1_500;

/// Starts `feather-server` on `url` (no demo, short lease, warnings only)
/// and waits for its address.
pub fn spawn(url: &str, extra: &[&str]) -> anyhow::Result<ServerProcess> {
    let mut command = Command::new(BIN);
    command
        .args(["--bind", "127.0.0.1:0", "--database-url", url, "--no-demo"])
        .args(["--lease-ms", &LEASE_MS.to_string(), "--log-level", "warn"])
        .args(extra)
        .stderr(Stdio::null());
    ServerProcess::spawn(command)
}

/// Runs `feather-server admin --json ARGS` on `url` and parses what it prints.
pub fn admin(url: &str, args: &[&str]) -> anyhow::Result<Value> {
    feather_test_support::process::admin(Path::new(BIN), url, args)
}
