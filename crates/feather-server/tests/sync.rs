//! The sync engine seen through the status endpoint with the generated
//! client: every transition, live progress, each connector, re-syncs, and a
//! crash of the server process mid-sync.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Backend, TestServer};
use feather_client::types::SyncStatusResponse;
use feather_test_support::on_both_backends;
use feather_test_support::poll::{self, terminal};
use serde_json::{Value, json};
use uuid::Uuid;

/// Reads the status of `source` until `done` holds, calling `seen` on every
/// answer; fails after `limit`.
async fn watch(
    server: &TestServer,
    kb: Uuid,
    source: Uuid,
    limit: Duration,
    seen: impl FnMut(&SyncStatusResponse),
    done: impl Fn(&SyncStatusResponse) -> bool,
) -> anyhow::Result<SyncStatusResponse> {
    poll::watch(&server.client()?, kb, source, limit, seen, done).await
}

async fn trigger(server: &TestServer, kb: Uuid, source: Uuid) -> anyhow::Result<Uuid> {
    poll::trigger(&server.client()?, kb, source).await
}

async fn add_source(server: &TestServer, provider: &str, config: Value) -> anyhow::Result<Uuid> {
    let source = server
        .store
        .create_source(server.demo.kb_id, provider, provider, &config)
        .await?;
    Ok(source.id)
}

async fn a_sync_goes_queued_processing_completed_with_progress(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let kb = server.demo.kb_id;
    // 40 items x 40 ms: long enough to watch, short enough for CI.
    let source = add_source(
        &server,
        "synthetic",
        json!({"items": 40, "item_delay_ms": 40}),
    )
    .await?;
    let job = trigger(&server, kb, source).await?;

    let mut statuses = Vec::new();
    let mut processing_counts = BTreeSet::new();
    let end = watch(
        &server,
        kb,
        source,
        Duration::from_secs(20),
        |s| {
            let job_status = s.last_sync_status.clone().unwrap_or_default();
            if statuses.last() != Some(&job_status) {
                statuses.push(job_status.clone());
            }
            if job_status == "processing" {
                processing_counts.insert(s.processed_count.unwrap_or(0));
                assert_eq!(s.source_status, "syncing");
                assert!(s.last_sync_started_at.is_some());
                assert_eq!(s.last_sync_completed_at, None);
            }
        },
        terminal,
    )
    .await?;
    assert_eq!(end.last_sync_job_id, Some(job));
    assert_eq!(end.last_sync_status.as_deref(), Some("completed"));
    assert_eq!(end.source_status, "active");
    assert_eq!((end.total_items, end.processed_count), (Some(40), Some(40)));
    assert_eq!(end.error_message, None);
    let (started, completed) = (end.last_sync_started_at, end.last_sync_completed_at);
    assert!(started.is_some() && completed.is_some() && started <= completed);
    // The job went through processing, and progress was seen moving.
    assert!(
        statuses.ends_with(&["processing".to_owned(), "completed".to_owned()]),
        "{statuses:?}"
    );
    assert!(
        processing_counts.len() >= 3,
        "distinct counts while processing: {processing_counts:?}"
    );
    assert_eq!(server.store.list_documents(source).await?.len(), 40);
    Ok(server.server.shutdown().await?)
}

async fn failed_items_make_a_partial_failure_and_a_dead_provider_a_failure(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let kb = server.demo.kb_id;
    let flaky = add_source(
        &server,
        "synthetic",
        json!({"items": 30, "failure_rate": 0.3}),
    )
    .await?;
    trigger(&server, kb, flaky).await?;
    let end = watch(
        &server,
        kb,
        flaky,
        Duration::from_secs(10),
        |_| {},
        terminal,
    )
    .await?;
    assert_eq!(end.last_sync_status.as_deref(), Some("partial_failure"));
    assert_eq!(end.source_status, "active");
    let message = end.error_message.unwrap_or_default();
    assert!(
        message.ends_with(" of 30 items failed to sync."),
        "{message}"
    );

    let notion = add_source(&server, "notion", json!({"workspace": "acme"})).await?;
    trigger(&server, kb, notion).await?;
    let end = watch(
        &server,
        kb,
        notion,
        Duration::from_secs(10),
        |_| {},
        terminal,
    )
    .await?;
    assert_eq!(end.last_sync_status.as_deref(), Some("failed"));
    assert_eq!(end.source_status, "error");
    let message = end.error_message.unwrap_or_default();
    assert!(
        message.contains("cannot reach the notion provider"),
        "{message}"
    );
    // A source in error may be synced again.
    let again = trigger(&server, kb, notion).await?;
    assert_ne!(Some(again), end.last_sync_job_id);
    Ok(server.server.shutdown().await?)
}

async fn url_sources_crawl_a_site_and_count_bad_pages_as_failed_items(
    backend: Backend,
) -> anyhow::Result<()> {
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let site = MockServer::start().await;
    let html = |body: &str| ResponseTemplate::new(200).set_body_raw(body.to_owned(), "text/html");
    for (at, answer) in [
        (
            "/",
            html("<title>Home</title><a href='/a'>a</a><a href='/gone'>gone</a>"),
        ),
        ("/a", html("<title>A</title><p>alpha</p>")),
        ("/gone", ResponseTemplate::new(404)),
    ] {
        Mock::given(path(at))
            .respond_with(answer)
            .mount(&site)
            .await;
    }
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let kb = server.demo.kb_id;
    let source = add_source(
        &server,
        "url",
        json!({"roots": [format!("{}/", site.uri())]}),
    )
    .await?;
    trigger(&server, kb, source).await?;
    let end = watch(
        &server,
        kb,
        source,
        Duration::from_secs(10),
        |_| {},
        terminal,
    )
    .await?;
    assert_eq!(end.last_sync_status.as_deref(), Some("partial_failure"));
    assert_eq!((end.total_items, end.processed_count), (Some(3), Some(3)));
    assert_eq!(
        end.error_message.as_deref(),
        Some("1 of 3 items failed to sync.")
    );
    let titles: Vec<_> = server
        .store
        .list_documents(source)
        .await?
        .into_iter()
        .map(|d| d.title.unwrap_or_default())
        .collect();
    assert_eq!(titles, ["Home", "A"]);
    Ok(server.server.shutdown().await?)
}

async fn local_resyncs_are_incremental(backend: Backend) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let kb = server.demo.kb_id;
    let docs = tempfile::tempdir()?;
    std::fs::write(docs.path().join("keep.md"), "unchanged")?;
    std::fs::write(docs.path().join("edit.md"), "first version")?;
    std::fs::write(docs.path().join("delete.txt"), "soon gone")?;
    let source = add_source(&server, "local", json!({"root": docs.path()})).await?;

    trigger(&server, kb, source).await?;
    let end = watch(
        &server,
        kb,
        source,
        Duration::from_secs(10),
        |_| {},
        terminal,
    )
    .await?;
    assert_eq!(end.last_sync_status.as_deref(), Some("completed"));
    let before = server.store.list_documents(source).await?;
    let ids: Vec<_> = before.iter().map(|d| d.external_id.as_str()).collect();
    assert_eq!(ids, ["delete.txt", "edit.md", "keep.md"]);

    std::fs::write(docs.path().join("edit.md"), "second version")?;
    std::fs::write(docs.path().join("new.txt"), "brand new")?;
    std::fs::remove_file(docs.path().join("delete.txt"))?;
    trigger(&server, kb, source).await?;
    let end = watch(
        &server,
        kb,
        source,
        Duration::from_secs(10),
        |_| {},
        terminal,
    )
    .await?;
    assert_eq!(end.last_sync_status.as_deref(), Some("completed"));
    assert_eq!(
        end.processed_count,
        Some(3),
        "unchanged items still count as processed"
    );

    let after = server.store.list_documents(source).await?;
    let by_id = |docs: &[feather_server::store::Document], id: &str| {
        docs.iter().find(|d| d.external_id == id).cloned()
    };
    let ids: Vec<_> = after.iter().map(|d| d.external_id.as_str()).collect();
    assert_eq!(
        ids,
        ["edit.md", "keep.md", "new.txt"],
        "deleted file removed"
    );
    assert_eq!(
        by_id(&after, "edit.md").map(|d| d.text),
        Some("second version".into())
    );
    let kept_before = by_id(&before, "keep.md");
    let kept_after = by_id(&after, "keep.md");
    assert_eq!(
        kept_before.map(|d| (d.content_hash, d.updated_at)),
        kept_after.map(|d| (d.content_hash, d.updated_at)),
        "unchanged content is not rewritten"
    );
    Ok(server.server.shutdown().await?)
}

async fn graceful_shutdown_gives_a_running_job_back_and_a_restart_finishes_it(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let kb = server.demo.kb_id;
    let source = add_source(
        &server,
        "synthetic",
        json!({"items": 30, "item_delay_ms": 50}),
    )
    .await?;
    let job = trigger(&server, kb, source).await?;
    watch(
        &server,
        kb,
        source,
        Duration::from_secs(10),
        |_| {},
        |s| s.processed_count.unwrap_or(0) > 0,
    )
    .await?;

    let TestServer {
        server: running,
        store,
        demo,
        db,
    } = server;
    running.shutdown().await?;
    let parked = store
        .find_job(job)
        .await?
        .ok_or_else(|| anyhow::anyhow!("job gone"))?;
    assert_eq!(
        parked.status,
        feather_api::JobStatus::Queued,
        "back in the queue"
    );
    assert_eq!(parked.attempts, 0, "a shutdown is not a failed attempt");
    let state = store.sync_state(demo.org_id, kb, source).await?;
    assert_eq!(
        state.map(|s| s.source_status),
        Some(feather_api::SourceStatus::Syncing)
    );

    let server = TestServer::restart(store, demo, db).await?;
    let end = watch(
        &server,
        kb,
        source,
        Duration::from_secs(15),
        |_| {},
        terminal,
    )
    .await?;
    assert_eq!(end.last_sync_job_id, Some(job));
    assert_eq!(end.last_sync_status.as_deref(), Some("completed"));
    assert_eq!(end.source_status, "active");
    Ok(server.server.shutdown().await?)
}

on_both_backends!(
    a_sync_goes_queued_processing_completed_with_progress,
    failed_items_make_a_partial_failure_and_a_dead_provider_a_failure,
    url_sources_crawl_a_site_and_count_bad_pages_as_failed_items,
    local_resyncs_are_incremental,
    graceful_shutdown_gives_a_running_job_back_and_a_restart_finishes_it,
);
