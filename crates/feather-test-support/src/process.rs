//! The `feather-server` binary as a child process: started with its address
//! read from the banner it prints, killed (SIGKILL) when dropped; and its
//! `admin --json` commands.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;

/// How long a server may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `feather-server` binary of this build: the one Cargo built for the
/// calling test (`CARGO_BIN_EXE_feather-server`, passed in by a test of the
/// server's own package) or the one in the target directory.
pub fn server_binary(from_cargo: Option<&str>) -> PathBuf {
    if let Some(path) = from_cargo {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug").join("feather-server")
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A server process; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://ADDR` (or `https://ADDR`), as the banner says.
    pub base_url: String,
}

impl ServerProcess {
    /// Runs `command` (its stdin and stdout are taken over; stderr is the
    /// caller's choice) and waits for the stdout line that names its
    /// `http://` (or `https://`) address. Standard output is drained afterwards, so the
    /// child never blocks on a full pipe.
    pub fn spawn(mut command: Command) -> anyhow::Result<ServerProcess> {
        command.stdin(Stdio::null()).stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {:?}", command.get_program()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout from the server process"))?;
        let (found, address) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let url = line
                    .split_whitespace()
                    .find(|word| word.starts_with("http://") || word.starts_with("https://"));
                if !sent && let Some(url) = url {
                    sent = found.send(url.to_owned()).is_ok();
                }
            }
        });
        let mut process = ServerProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            base_url: String::new(),
        };
        let url = match address.recv_timeout(START_TIMEOUT) {
            Ok(url) => url,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("the server exited before saying where it listens")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!("the server did not start within {START_TIMEOUT:?}")
            }
        };
        let addr = url.split_once("://").map_or("", |(_, addr)| addr);
        process.addr = addr
            .parse()
            .with_context(|| format!("bad address {url:?} in the server's banner"))?;
        process.base_url = url;
        Ok(process)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `"TERM"`, `"KILL"`) with `kill(1)`.
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -{signal} {} failed", self.pid());
        Ok(())
    }

    /// Waits for the process to exit on its own, at most `limit`; whether it did
    /// successfully.
    pub fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<bool> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.success());
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the server did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `BINARY admin --database-url URL --json ARGS` and parses what it
/// prints.
pub fn admin(binary: &Path, url: &str, args: &[&str]) -> anyhow::Result<Value> {
    let output = Command::new(binary)
        .args(["admin", "--database-url", url, "--json"])
        .args(args)
        .output()
        .with_context(|| format!("cannot run {} admin", binary.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("admin {args:?} printed no JSON"))
}
