//! A source's sync status through the generated client: one read, a trigger,
//! and reading until a condition holds.

use std::time::{Duration, Instant};

use feather_client::Client;
use feather_client::types::SyncStatusResponse;
use uuid::Uuid;

/// How often [`wait_for`] reads.
const POLL_EVERY: Duration = Duration::from_millis(25);

/// The status of `source` in `kb`.
pub async fn status(client: &Client, kb: Uuid, source: Uuid) -> anyhow::Result<SyncStatusResponse> {
    Ok(client
        .get_sync_status()
        .kb_id(kb)
        .source_id(source)
        .send()
        .await?
        .into_inner())
}

/// Triggers a sync of `source` in `kb`; the new job's id.
pub async fn trigger(client: &Client, kb: Uuid, source: Uuid) -> anyhow::Result<Uuid> {
    Ok(client
        .trigger_sync()
        .kb_id(kb)
        .source_id(source)
        .send()
        .await?
        .into_inner()
        .job_id)
}

/// Whether the last job has ended (`completed`, `partial_failure`, `failed`).
pub fn terminal(status: &SyncStatusResponse) -> bool {
    matches!(
        status.last_sync_status.as_deref(),
        Some("completed" | "partial_failure" | "failed")
    )
}

/// Reads the status of `source` until `done` holds, calling `seen` on every
/// answer; fails with the last status after `limit`.
pub async fn watch(
    client: &Client,
    kb: Uuid,
    source: Uuid,
    limit: Duration,
    mut seen: impl FnMut(&SyncStatusResponse),
    done: impl Fn(&SyncStatusResponse) -> bool,
) -> anyhow::Result<SyncStatusResponse> {
    let deadline = Instant::now() + limit;
    loop {
        let status = status(client, kb, source).await?;
        seen(&status);
        if done(&status) {
            return Ok(status);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "gave up after {limit:?}; last status {status:?}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// [`watch`] without a callback.
pub async fn wait_for(
    client: &Client,
    kb: Uuid,
    source: Uuid,
    limit: Duration,
    done: impl Fn(&SyncStatusResponse) -> bool,
) -> anyhow::Result<SyncStatusResponse> {
    watch(client, kb, source, limit, |_| {}, done).await
}
