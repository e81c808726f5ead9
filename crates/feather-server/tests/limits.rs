//! Process limits: the server raises its soft open-files limit at start, so
//! slow clients beyond the limit it was started with do not lock out others.

mod common;

use std::io::Write as _;
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::{BIN, ServerProcess, admin};

/// The soft limit on open files the server starts with in these tests.
const STARTED_WITH: usize = 256;

/// `feather-server` on `url` under `prlimit --nofile=SOFT:HARD`, or `None`
/// (skipped, a failure under CI) without `prlimit`.
fn spawn_limited(url: &str, soft: usize, hard: usize) -> anyhow::Result<Option<ServerProcess>> {
    if Command::new("prlimit").arg("--version").output().is_err() {
        feather_test_support::skip("limits tests", "prlimit (util-linux) is not installed")?;
        return Ok(None);
    }
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={soft}:{hard}"))
        .arg(BIN)
        .args(["--bind", "127.0.0.1:0", "--database-url", url, "--no-demo"])
        .args(["--log-level", "warn", "--workers", "0"])
        .stderr(Stdio::null());
    Ok(Some(ServerProcess::spawn(command)?))
}

/// Soft and hard "Max open files" of a process.
fn open_files_limit(pid: u32) -> anyhow::Result<(String, String)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or_else(|| anyhow::anyhow!("no open files line in {limits}"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    Ok((fields[3].to_owned(), fields[4].to_owned()))
}

#[tokio::test]
async fn slow_clients_beyond_the_starting_limit_do_not_lock_out_a_normal_client()
-> anyhow::Result<()> {
    let db = common::TestDb::sqlite()?;
    let demo = admin(&db.url, &["seed-demo"])?;
    let Some(server) = spawn_limited(&db.url, STARTED_WITH, 8192)? else {
        return Ok(());
    };
    let (soft, hard) = open_files_limit(server.pid())?;
    assert_eq!((soft.as_str(), hard.as_str()), ("8192", "8192"));

    // Twice the starting limit of clients that send half a request and stall.
    let mut slow = Vec::new();
    for _ in 0..STARTED_WITH * 2 {
        let mut stream = TcpStream::connect(server.addr)?;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")?;
        slow.push(stream);
    }
    let key = demo["api_key"].as_str().unwrap_or_default();
    let kb: uuid::Uuid = demo["kb_id"].as_str().unwrap_or_default().parse()?;
    let source: uuid::Uuid = demo["sources"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let client = feather_client::Client::with_api_key(&server.base_url, key)?;
    for _ in 0..8 {
        let status = feather_test_support::poll::status(&client, kb, source).await?;
        assert_eq!(status.source_status, "active");
    }
    drop(slow);
    Ok(())
}
