//! The `feather-server` binary: admin commands, `openapi`, and `serve` with
//! its demo banner and graceful shutdown.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_feather-server");

fn run(args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(BIN)
        .args(args)
        .env_remove("FEATHER_DATABASE_URL")
        .env_remove("FEATHER_BIND")
        .output()?)
}

fn json_of(output: &Output) -> anyhow::Result<Value> {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

#[test]
fn seed_demo_prints_the_documented_json() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("f.db").display());
    let demo = json_of(&run(&[
        "admin",
        "seed-demo",
        "--database-url",
        &url,
        "--json",
    ])?)?;
    for field in ["api_key", "org_id", "kb_id", "other_api_key"] {
        assert!(demo[field].is_string(), "{field} in {demo}");
    }
    assert!(
        demo["api_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("fth_"))
    );
    assert_ne!(demo["api_key"], demo["other_api_key"]);
    let sources = demo["sources"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = sources.iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(names.iter().any(|n| n.contains("fast")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("slow")), "{names:?}");
    for source in &sources {
        assert!(source["id"].is_string() && source["provider"].is_string());
    }
    Ok(())
}

#[test]
fn admin_commands_create_list_and_revoke() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("f.db").display());
    let admin = |args: &[&str]| -> anyhow::Result<Value> {
        let mut all = vec!["admin", "--database-url", url.as_str(), "--json"];
        all.extend_from_slice(args);
        json_of(&run(&all)?)
    };
    let org = admin(&["create-org", "--name", "Acme"])?;
    let org_id = org["id"].as_str().unwrap_or_default().to_owned();
    let key = admin(&["create-key", "--org", &org_id, "--name", "ci"])?;
    assert!(
        key["api_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("fth_"))
    );
    let kb = admin(&["create-kb", "--org", &org_id, "--name", "Docs"])?;
    let kb_id = kb["id"].as_str().unwrap_or_default().to_owned();
    let source = admin(&[
        "create-source",
        "--kb",
        &kb_id,
        "--name",
        "site",
        "--provider",
        "url",
        "--config",
        r#"{"roots": ["https://example.com"]}"#,
    ])?;
    assert_eq!(source["status"], "active");
    assert_eq!(source["config"]["roots"][0], "https://example.com");

    let keys = admin(&["list", "keys", "--org", &org_id])?;
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    assert!(
        !keys
            .to_string()
            .contains(key["api_key"].as_str().unwrap_or("?")),
        "listing never shows a key"
    );
    let sources = admin(&["list", "sources", "--kb", &kb_id])?;
    assert_eq!(sources[0]["name"], "site");

    let key_id = key["id"].as_str().unwrap_or_default();
    assert_eq!(admin(&["revoke-key", key_id])?["revoked"], true);
    assert_eq!(admin(&["revoke-key", key_id])?["revoked"], false);
    Ok(())
}

#[test]
fn bad_admin_input_is_a_clear_error() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("f.db").display());
    let kb = uuid::Uuid::new_v4().to_string();
    for (args, expected) in [
        (
            vec![
                "create-source",
                "--kb",
                &kb,
                "--name",
                "x",
                "--provider",
                "ftp",
            ],
            "unknown provider \"ftp\"",
        ),
        (
            vec![
                "create-source",
                "--kb",
                &kb,
                "--name",
                "x",
                "--provider",
                "url",
                "--config",
                "{",
            ],
            "--config is not valid JSON",
        ),
        (
            vec![
                "create-source",
                "--kb",
                &kb,
                "--name",
                "x",
                "--provider",
                "url",
            ],
            "no knowledge base",
        ),
    ] {
        let mut all = vec!["admin", "--database-url", url.as_str()];
        all.extend(args);
        let output = run(&all)?;
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let output = run(&["admin", "--database-url", "mysql://x", "list", "orgs"])?;
    assert!(String::from_utf8_lossy(&output.stderr).contains("unsupported database URL"));
    Ok(())
}

#[test]
fn openapi_prints_the_emitted_document() -> anyhow::Result<()> {
    let printed = json_of(&run(&["openapi"])?)?;
    let emitted = feather_api::openapi_document().map_err(anyhow::Error::msg)?;
    assert_eq!(printed, emitted);
    Ok(())
}

#[test]
fn serve_seeds_an_empty_database_prints_curl_lines_and_stops_on_sigterm() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--log-level", "warn"])
        .current_dir(dir.path())
        .env_remove("FEATHER_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    // The banner ends with the last source's status curl line.
    while banner
        .iter()
        .filter(|l: &&String| l.contains("/status"))
        .count()
        < 3
    {
        match lines.next() {
            Some(line) => banner.push(line?),
            None => break,
        }
    }
    let text = banner.join("\n");
    assert!(text.contains("listening on http://127.0.0.1:"), "{text}");
    let status_line = banner
        .iter()
        .find(|l| l.starts_with("curl") && l.contains("/status"))
        .ok_or_else(|| anyhow::anyhow!("no curl line in {text}"))?;
    // Run the printed curl line's request: key and URL as printed.
    let key = status_line
        .split('\'')
        .nth(1)
        .and_then(|h| h.strip_prefix("x-api-key: "))
        .ok_or_else(|| anyhow::anyhow!("no key in {status_line}"))?;
    let url = status_line
        .split_whitespace()
        .last()
        .ok_or_else(|| anyhow::anyhow!("no URL in {status_line}"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let answer: Value = runtime.block_on(async {
        reqwest::Client::new()
            .get(url)
            .header("x-api-key", key)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    })?;
    assert_eq!(answer["source_status"], "active");
    assert!(
        dir.path().join("feather.db").exists(),
        "default database file"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill()?;
            panic!("the server did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful shutdown exits 0: {status}");
    Ok(())
}

/// After SIGTERM the database file alone is complete: a copy of `feather.db`
/// without its `-wal` holds the job the server acknowledged.
#[tokio::test]
async fn after_sigterm_the_sqlite_file_alone_holds_every_acknowledged_write() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("feather.db").display());
    let demo = common::admin(&url, &["seed-demo"])?;
    let key = demo["api_key"].as_str().unwrap_or_default().to_owned();
    let kb: uuid::Uuid = demo["kb_id"].as_str().unwrap_or_default().parse()?;
    let source: uuid::Uuid = demo["sources"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .parse()?;

    let mut server = common::spawn(&url, &["--workers", "0"])?;
    let client = feather_client::Client::with_api_key(&server.base_url, &key)?;
    let job = feather_test_support::poll::trigger(&client, kb, source).await?;
    server.signal("TERM")?;
    assert!(
        server.wait_exit(Duration::from_secs(10))?,
        "graceful shutdown exits 0"
    );

    let copy = tempfile::tempdir()?;
    std::fs::copy(
        dir.path().join("feather.db"),
        copy.path().join("feather.db"),
    )?;
    let copy_url = format!("sqlite:{}", copy.path().join("feather.db").display());
    let jobs = common::admin(
        &copy_url,
        &["list", "jobs", "--source", &source.to_string()],
    )?;
    assert_eq!(jobs[0]["id"], job.to_string(), "{jobs}");
    assert_eq!(jobs[0]["status"], "queued");
    Ok(())
}

/// `--log-format json`: one Bunyan line per request on stderr, and on
/// SIGTERM every line logged before the exit is written (the buffered log
/// writer is flushed by shutdown, not lost with the process).
#[tokio::test]
async fn json_log_has_a_line_per_request_and_sigterm_writes_them_all() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("f.db").display());
    let demo = common::admin(&url, &["seed-demo"])?;
    let key = demo["api_key"].as_str().unwrap_or_default().to_owned();
    let kb = demo["kb_id"].as_str().unwrap_or_default().to_owned();
    let source = demo["sources"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let log_path = dir.path().join("stderr.log");
    let mut command = Command::new(BIN);
    command
        .args(["--bind", "127.0.0.1:0", "--database-url", &url, "--no-demo"])
        .args([
            "--workers",
            "0",
            "--log-format",
            "json",
            "--log-level",
            "info",
        ])
        .stderr(std::fs::File::create(&log_path)?);
    let mut server = common::ServerProcess::spawn(command)?;
    let client = reqwest::Client::new();
    let status_url = format!(
        "{}/v1/knowledge-base/knowledge-bases/{kb}/sources/{source}/sync/status",
        server.base_url
    );
    const REQUESTS: usize = 300;
    for _ in 0..REQUESTS {
        let answer = client
            .get(&status_url)
            .header("x-api-key", &key)
            .send()
            .await?;
        assert_eq!(answer.status(), reqwest::StatusCode::OK);
    }
    server.signal("TERM")?;
    assert!(
        server.wait_exit(Duration::from_secs(10))?,
        "exit 0 on SIGTERM"
    );

    let log = std::fs::read_to_string(&log_path)?;
    let records: Vec<Value> = log
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("a line is not JSON ({e}):\n{log}"))?;
    let completed: Vec<&Value> = records
        .iter()
        .filter(|r| r["msg"] == "request completed" && r["uri"].as_str() != Some("/healthz"))
        .collect();
    assert_eq!(completed.len(), REQUESTS, "one line per request:\n{log}");
    for record in &completed {
        assert_eq!(record["name"], "feather-server");
        assert_eq!(record["level"], 30);
        assert_eq!(record["response_code"], 200);
        assert_eq!(record["method"], "GET");
        assert!(record["req_id"].is_string() && record["latency_us"].is_u64());
        assert!(
            !record.to_string().contains(&key[4..]),
            "the key leaked: {record}"
        );
    }
    assert!(
        records.iter().any(|r| r["msg"] == "listening"),
        "lifecycle lines too:\n{log}"
    );
    Ok(())
}
