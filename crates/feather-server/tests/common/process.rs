//! The `feather-server` binary as a child process, for crash and replica tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_feather-server");
/// A short lease, so recovery is quick to observe.
pub const LEASE_MS: u64 = 1_500;

/// A server process, killed when dropped.
pub struct Process {
    pub child: Child,
    pub base_url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `feather-server` on `url` (no demo, short lease) and waits for its address.
pub fn spawn(url: &str, extra: &[&str]) -> anyhow::Result<Process> {
    let lease = LEASE_MS.to_string();
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--database-url", url, "--no-demo"])
        .args(["--lease-ms", &lease, "--log-level", "warn"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    let base_url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| anyhow::anyhow!("no address in {first:?}"))?
        .to_owned();
    Ok(Process { child, base_url })
}

/// Runs `feather-server admin --json ARGS` on `url` and parses what it prints.
pub fn admin(url: &str, args: &[&str]) -> anyhow::Result<Value> {
    let output = Command::new(BIN)
        .args(["admin", "--database-url", url, "--json"])
        .args(args)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}
