//! Crash recovery: the `feather-server` process is killed with SIGKILL in
//! the middle of a sync and started again on the same database file.

mod common;

use std::time::{Duration, Instant};

use common::{LEASE_MS, admin, spawn};
use feather_test_support::poll;

use feather_client::Client;
use feather_client::types::SyncStatusResponse;
use uuid::Uuid;

struct Setup {
    _dir: tempfile::TempDir,
    url: String,
    key: String,
    kb: Uuid,
    source: Uuid,
}

/// A database with the demo and a ~3 s synthetic source.
fn setup() -> anyhow::Result<Setup> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("crash.db").display());
    let demo = admin(&url, &["seed-demo"])?;
    let kb = demo["kb_id"].as_str().unwrap_or_default().to_owned();
    let source = admin(
        &url,
        &[
            "create-source",
            "--kb",
            &kb,
            "--name",
            "crash-test",
            "--provider",
            "synthetic",
            "--config",
            r#"{"items": 60, "item_delay_ms": 50}"#,
        ],
    )?;
    Ok(Setup {
        key: demo["api_key"].as_str().unwrap_or_default().to_owned(),
        kb: kb.parse()?,
        source: source["id"].as_str().unwrap_or_default().parse()?,
        url,
        _dir: dir,
    })
}

/// Reads the status of the set-up's source until `done` holds.
async fn wait_for(
    client: &Client,
    setup: &Setup,
    limit: Duration,
    done: impl Fn(&SyncStatusResponse) -> bool,
) -> anyhow::Result<SyncStatusResponse> {
    poll::wait_for(client, setup.kb, setup.source, limit, done).await
}

/// Starts a sync and kills the server once it has made progress.
async fn start_and_kill(
    setup: &Setup,
    extra: &[&str],
) -> anyhow::Result<(Uuid, SyncStatusResponse)> {
    let process = spawn(&setup.url, extra)?;
    let client = Client::with_api_key(&process.base_url, &setup.key)?;
    let job = client
        .trigger_sync()
        .kb_id(setup.kb)
        .source_id(setup.source)
        .send()
        .await?
        .into_inner()
        .job_id;
    let mid = wait_for(&client, setup, Duration::from_secs(10), |s| {
        s.last_sync_status.as_deref() == Some("processing") && s.processed_count.unwrap_or(0) > 0
    })
    .await?;
    drop(process); // SIGKILL
    Ok((job, mid))
}

#[tokio::test]
async fn a_killed_server_s_job_is_retried_after_restart() -> anyhow::Result<()> {
    let setup = setup()?;
    let (job, mid) = start_and_kill(&setup, &[]).await?;
    let killed_at = Instant::now();

    let process = spawn(&setup.url, &[])?;
    let client = Client::with_api_key(&process.base_url, &setup.key)?;
    // Within the lease (plus a reaper period and slack) the job is claimed
    // again: a new start time.
    let retried = wait_for(&client, &setup, Duration::from_millis(LEASE_MS * 3), |s| {
        s.last_sync_started_at != mid.last_sync_started_at
    })
    .await?;
    assert_eq!(
        retried.last_sync_job_id,
        Some(job),
        "the same job is retried"
    );
    let reclaimed_after = killed_at.elapsed();
    let end = wait_for(&client, &setup, Duration::from_secs(20), |s| {
        s.source_status != "syncing"
    })
    .await?;
    assert_eq!(end.last_sync_status.as_deref(), Some("completed"));
    assert_eq!(end.source_status, "active");
    assert_eq!(end.processed_count, Some(60));
    let jobs = admin(
        &setup.url,
        &["list", "jobs", "--source", &setup.source.to_string()],
    )?;
    assert_eq!(jobs.as_array().map(Vec::len), Some(1));
    assert_eq!(jobs[0]["attempts"], 2);
    println!("job reclaimed {reclaimed_after:?} after SIGKILL (lease {LEASE_MS} ms)");
    Ok(())
}

#[tokio::test]
async fn with_no_attempts_left_a_killed_job_fails_clearly() -> anyhow::Result<()> {
    let setup = setup()?;
    let (job, _) = start_and_kill(&setup, &["--max-attempts", "1"]).await?;

    let process = spawn(&setup.url, &["--max-attempts", "1"])?;
    let client = Client::with_api_key(&process.base_url, &setup.key)?;
    let end = wait_for(&client, &setup, Duration::from_millis(LEASE_MS * 3), |s| {
        s.source_status != "syncing"
    })
    .await?;
    assert_eq!(end.last_sync_job_id, Some(job));
    assert_eq!(end.last_sync_status.as_deref(), Some("failed"));
    assert_eq!(end.source_status, "error");
    let message = end.error_message.unwrap_or_default();
    assert!(message.contains("stopped renewing its lease"), "{message}");
    Ok(())
}
