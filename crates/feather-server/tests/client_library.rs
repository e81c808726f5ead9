//! `feather-client`'s waiting calls against the real server: trigger and
//! wait (completed, partial failure, two callers on one source), and a
//! status stream that survives the server being killed and started again
//! in the middle of a sync.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use feather_client::{Client, PollPolicy, SyncOutcome};
use feather_test_support::on_both_backends;
use futures_util::StreamExt as _;

use common::{BIN, Backend, LEASE_MS, ServerProcess, TestDb, TestServer};

async fn trigger_and_wait_reports_how_syncs_end(backend: Backend) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let client = Client::builder(server.base_url())
        .api_key(&server.demo.api_key)
        .poll(PollPolicy::default().deadline(Duration::from_secs(60)))
        .build()?;
    let kb = server.demo.kb_id;

    let fast = client.trigger_and_wait(kb, server.source("fast")).await?;
    match &fast {
        SyncOutcome::Completed(status) => {
            assert_eq!(status.processed_count, Some(20));
            assert_eq!(status.source_status, "active");
        }
        other => anyhow::bail!("fast source: {other:?}"),
    }

    let flaky = client.trigger_and_wait(kb, server.source("flaky")).await?;
    match &flaky {
        SyncOutcome::PartialFailure(status) => {
            assert!(status.error_message.is_some(), "{status:?}");
        }
        other => anyhow::bail!("flaky source: {other:?}"),
    }

    // Two callers at once on one source: one queues, the other attaches;
    // both get the same job's end.
    let source = server.source("fast");
    let (first, second) = tokio::join!(
        client.trigger_and_wait(kb, source),
        client.trigger_and_wait(kb, source)
    );
    let (first, second) = (first?, second?);
    assert!(matches!(first, SyncOutcome::Completed(_)), "{first:?}");
    assert_eq!(first, second, "both saw the same final status");
    assert_ne!(
        first.status().last_sync_job_id,
        fast.status().last_sync_job_id,
        "a new job, not the earlier one"
    );
    let jobs = server.store.list_jobs(source).await?;
    assert_eq!(jobs.len(), 2, "two triggers at once queued one job");
    Ok(server.server.shutdown().await?)
}

on_both_backends!(trigger_and_wait_reports_how_syncs_end);

/// `feather-server` on a fixed address over `url` (no demo, short lease).
fn serve_on(url: &str, bind: &str) -> anyhow::Result<ServerProcess> {
    let mut command = Command::new(BIN);
    command
        .args(["--bind", bind, "--database-url", url, "--no-demo"])
        .args(["--lease-ms", &LEASE_MS.to_string(), "--log-level", "warn"])
        .stderr(Stdio::null());
    ServerProcess::spawn(command)
}

#[tokio::test]
async fn a_status_stream_keeps_going_across_a_server_restart() -> anyhow::Result<()> {
    let db = TestDb::sqlite()?;
    let demo = common::admin(&db.url, &["seed-demo"])?;
    let kb = demo["kb_id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no kb_id in {demo}"))?
        .to_owned();
    let key = demo["api_key"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no api_key in {demo}"))?
        .to_owned();
    // About 4 s of work: long enough to kill the server in the middle.
    let source = common::admin(
        &db.url,
        &[
            "create-source",
            "--kb",
            &kb,
            "--name",
            "four-seconds",
            "--provider",
            "synthetic",
            "--config",
            r#"{"items": 80, "item_delay_ms": 50}"#,
        ],
    )?;
    let source: uuid::Uuid = source["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no id in {source}"))?
        .parse()?;
    let kb: uuid::Uuid = kb.parse()?;
    let bind = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.to_string()
    };
    let server = serve_on(&db.url, &bind)?;
    let client = Client::builder(server.base_url.clone())
        .api_key(key)
        .poll(PollPolicy::default().deadline(Duration::from_secs(90)))
        .build()?;
    let job = match client.trigger_or_attach(kb, source).await? {
        feather_client::Triggered::Queued(answer) => answer.job_id,
        other => anyhow::bail!("expected a new job, got {other:?}"),
    };

    let mut updates = std::pin::pin!(client.watch_sync(kb, source));
    let mut before_kill = Vec::new();
    while let Some(update) = updates.next().await {
        let status = update?;
        let progressed = status.processed_count.unwrap_or(0) > 0;
        before_kill.push(status);
        if progressed {
            break;
        }
    }
    anyhow::ensure!(
        before_kill
            .last()
            .is_some_and(|s| s.last_sync_status.as_deref() == Some("processing")),
        "the sync was not running before the kill: {before_kill:?}"
    );
    drop(server); // SIGKILL, in the middle of the sync
    let restart = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        tokio::task::spawn_blocking(move || serve_on(&db.url, &bind).map(|server| (server, db)))
            .await
    });

    let mut after_kill = Vec::new();
    while let Some(update) = updates.next().await {
        after_kill.push(update?);
    }
    let (_server, db) = restart.await???;
    let last = after_kill
        .last()
        .ok_or_else(|| anyhow::anyhow!("no status after the restart"))?;
    assert_eq!(
        last.last_sync_status.as_deref(),
        Some("completed"),
        "{last:?}"
    );
    assert_eq!(last.last_sync_job_id, Some(job), "the same job, retried");
    assert_eq!(last.processed_count, Some(80));
    // The killed run's lease expired and the restarted server ran it again.
    let jobs = common::admin(&db.url, &["list", "jobs", "--source", &source.to_string()])?;
    assert_eq!(jobs[0]["attempts"], 2, "{jobs}");
    Ok(())
}
