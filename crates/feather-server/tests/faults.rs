//! Storage faults: a database that fills up refuses writes with "unavailable"
//! (503) and loses nothing it acknowledged, before, during or after.
//!
//! The full disk is SQLite's size limit (`max_page_count`, the server's
//! `--sqlite-max-mib`), which behaves like a full disk to SQLite and runs
//! anywhere without privileges.

mod common;

use feather_server::store::{self, OpenOptions, StoreError, TriggerOutcome};
use serde_json::json;
use sqlx::Connection as _;
use uuid::Uuid;

use common::TestDb;

/// Pages of the database now, read on a connection of its own.
async fn page_count(url: &str) -> anyhow::Result<i64> {
    let mut conn = sqlx::SqliteConnection::connect(url).await?;
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(&mut conn)
        .await?;
    Ok(pages)
}

#[tokio::test]
async fn a_full_database_answers_unavailable_and_loses_no_acknowledged_trigger()
-> anyhow::Result<()> {
    let db = TestDb::sqlite()?;
    let unlimited = store::open(&db.url).await?;
    let org = unlimited.create_organization("acme").await?.id;
    let kb = unlimited.create_knowledge_base(org, "kb").await?.id;
    let mut sources = Vec::new();
    for i in 0..30 {
        let source = unlimited
            .create_source(kb, &format!("s{i}"), "synthetic", &json!({"items": 1}))
            .await?;
        sources.push(source.id);
    }
    unlimited.close().await;

    let limit = (page_count(&db.url).await? as u64 + 4) * 4096;
    let options = OpenOptions {
        sqlite_max_bytes: Some(limit),
    };
    let limited = store::open_with(&db.url, &options).await?;

    // Fill what is left with large sources, then with small ones, until
    // not even a small row fits.
    for pad_bytes in [20_000, 100] {
        let pad = "x".repeat(pad_bytes);
        let mut full = false;
        for _ in 0..5_000 {
            match limited
                .create_source(kb, "filler", "synthetic", &json!({ "pad": pad }))
                .await
            {
                Ok(_) => {}
                Err(StoreError::Unavailable { detail, .. }) => {
                    assert!(detail.contains("full"), "{detail}");
                    full = true;
                    break;
                }
                Err(other) => panic!("a full database must be 'unavailable', not {other}"),
            }
        }
        assert!(
            full,
            "the size limit never refused a {pad_bytes}-byte write"
        );
    }

    // While full: every trigger is acknowledged or refused as unavailable.
    let mut acknowledged: Vec<Uuid> = Vec::new();
    let mut refused = 0;
    for &source in &sources {
        match limited.trigger_sync(org, kb, source).await {
            Ok(TriggerOutcome::Queued(job)) => acknowledged.push(job.id),
            Err(StoreError::Unavailable { .. }) => refused += 1,
            other => panic!("while full, a trigger is queued or unavailable, got {other:?}"),
        }
    }
    assert!(refused > 0, "no trigger met the full database");

    // Space comes back (another connection, without the limit, deletes the filler).
    let mut admin = sqlx::SqliteConnection::connect(&db.url).await?;
    sqlx::query("DELETE FROM sources WHERE name = 'filler'")
        .execute(&mut admin)
        .await?;
    drop(admin);

    // Now every source that was refused can be triggered, and is kept.
    for &source in &sources {
        match limited.trigger_sync(org, kb, source).await {
            Ok(TriggerOutcome::Queued(job)) => acknowledged.push(job.id),
            Ok(TriggerOutcome::AlreadySyncing(_)) => {}
            other => panic!("with space back, a trigger must succeed, got {other:?}"),
        }
    }
    assert_eq!(acknowledged.len(), sources.len(), "one job per source");
    limited.close().await;

    // From the file, as a restarted server would see it.
    let reopened = store::open(&db.url).await?;
    for job in &acknowledged {
        let found = reopened.find_job(*job).await?;
        assert!(found.is_some(), "acknowledged job {job} was lost");
    }
    for source in reopened.list_sources(Some(kb)).await? {
        assert_eq!(
            source.status,
            feather_api::SourceStatus::Syncing,
            "{} points at its queued job",
            source.name
        );
        assert!(
            source
                .last_job_id
                .is_some_and(|id| acknowledged.contains(&id))
        );
    }
    let mut check = sqlx::SqliteConnection::connect(&db.url).await?;
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut check)
        .await?;
    assert_eq!(integrity, "ok");
    Ok(())
}
