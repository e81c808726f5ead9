//! The `feather` binary against a real server on a loopback port, with
//! stdout piped (the non-terminal output mode).

use std::process::Output;

use feather_test_support::{Backend, server::TestServer};
use serde_json::{Value, json};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_feather");

/// An in-process server on SQLite with the demo, and the `feather` binary
/// pointed at it.
struct Server {
    server: TestServer,
}

impl Server {
    async fn start() -> anyhow::Result<Server> {
        let server = TestServer::start(Backend::Sqlite)
            .await?
            .ok_or_else(|| anyhow::anyhow!("SQLite is always available"))?;
        Ok(Server { server })
    }

    fn base_url(&self) -> String {
        self.server.base_url()
    }

    async fn shutdown(self) -> anyhow::Result<()> {
        Ok(self.server.server.shutdown().await?)
    }

    async fn source(&self, provider: &str, config: Value) -> anyhow::Result<Uuid> {
        Ok(self
            .server
            .store
            .create_source(self.server.demo.kb_id, "cli", provider, &config)
            .await?
            .id)
    }

    /// Runs `feather` with the demo key in the environment.
    async fn feather(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.feather_with_key(&self.server.demo.api_key, args).await
    }

    async fn feather_with_key(&self, key: &str, args: &[&str]) -> anyhow::Result<Output> {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(args)
            .env("FEATHER_BASE_URL", self.base_url())
            .env("FEATHER_API_KEY", key);
        Ok(command.output().await?)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_wait_follows_the_sync_to_completion_in_plain_lines() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let source = server
        .source("synthetic", json!({"items": 20, "item_delay_ms": 40}))
        .await?;
    let (kb, src) = (server.server.demo.kb_id.to_string(), source.to_string());
    let out = server
        .feather(&["sync", "trigger", &kb, &src, "--wait"])
        .await?;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        !stdout.contains('\u{1b}'),
        "no control codes when stdout is not a terminal: {stdout:?}"
    );
    assert!(stdout.starts_with("queued sync job "), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("processing ")),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("completed: 20/20 items in "), "{last}");
    assert!(
        !stdout.contains(&server.server.demo.api_key),
        "the key is never printed"
    );

    let out = server
        .feather(&["sync", "status", &kb, &src, "--json"])
        .await?;
    let status: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(status["last_sync_status"], "completed");
    assert_eq!(status["processed_count"], 20);
    let out = server.feather(&["sync", "status", &kb, &src]).await?;
    assert!(
        text(&out.stdout).contains("completed  20/20"),
        "{}",
        text(&out.stdout)
    );
    server.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_sync_is_reported_and_wait_attaches_to_it() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let source = server
        .source("synthetic", json!({"items": 15, "item_delay_ms": 60}))
        .await?;
    let (kb, src) = (server.server.demo.kb_id.to_string(), source.to_string());
    let first = server
        .feather(&["sync", "trigger", &kb, &src, "--json"])
        .await?;
    let job: Value = serde_json::from_slice(&first.stdout)?;
    assert_eq!(job["status"], "queued");

    let again = server.feather(&["sync", "trigger", &kb, &src]).await?;
    assert_eq!(again.status.code(), Some(1));
    let stderr = text(&again.stderr);
    assert!(stderr.starts_with("feather: already running:"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one clean line: {stderr}");

    let attached = server
        .feather(&["sync", "trigger", &kb, &src, "--wait", "--json"])
        .await?;
    assert_eq!(
        attached.status.code(),
        Some(0),
        "{}",
        text(&attached.stderr)
    );
    let lines: Vec<Value> = text(&attached.stdout)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let last = lines.last().cloned().unwrap_or_default();
    assert_eq!(
        last["last_sync_job_id"], job["job_id"],
        "attached to the running job"
    );
    assert_eq!(last["last_sync_status"], "completed");
    server.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_partial_syncs_have_their_own_exit_codes() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let kb = server.server.demo.kb_id.to_string();
    let dead = server.source("notion", json!({})).await?.to_string();
    let out = server
        .feather(&["sync", "trigger", &kb, &dead, "--wait"])
        .await?;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("failed: "),
        "{}",
        text(&out.stdout)
    );

    let flaky = server
        .source("synthetic", json!({"items": 20, "failure_rate": 0.3}))
        .await?
        .to_string();
    let out = server
        .feather(&["sync", "trigger", &kb, &flaky, "--wait"])
        .await?;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("items failed to sync"),
        "{}",
        text(&out.stdout)
    );
    server.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_line_with_the_server_message() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let kb = server.server.demo.kb_id.to_string();
    let secret = format!("fth_{}", "Q".repeat(40));
    let out = server
        .feather_with_key(
            &secret,
            &["sync", "status", &kb, &Uuid::new_v4().to_string()],
        )
        .await?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "feather: 401: No valid API key was provided. Pass your key in the x-api-key header."
    );
    assert!(!stderr.contains(&secret) && !text(&out.stdout).contains(&secret));

    let unknown = Uuid::new_v4().to_string();
    let out = server.feather(&["sync", "status", &kb, &unknown]).await?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("feather: 404: Source "),
        "{}",
        text(&out.stderr)
    );

    let out = server
        .feather(&["sync", "status", "not-a-uuid", &unknown])
        .await?;
    assert_eq!(out.status.code(), Some(2), "usage error for a malformed id");

    let mut command = tokio::process::Command::new(BIN);
    let out = command
        .args(["sync", "status", &kb, &unknown])
        .env("FEATHER_BASE_URL", "http://127.0.0.1:9")
        .env("FEATHER_RETRY_SECONDS", "1")
        .env("FEATHER_API_KEY", &secret)
        .output()
        .await?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("feather: cannot reach the server"),
        "{}",
        text(&out.stderr)
    );
    server.shutdown().await
}
