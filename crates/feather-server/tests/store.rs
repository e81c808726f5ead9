//! Store-level guarantees of the job queue: lease-guarded writes, the reaper.

mod common;

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use common::{Backend, TestDb};
use feather_api::{JobStatus, SourceStatus};
use feather_server::store::{Batch, Finish, Store, TriggerOutcome};
use feather_test_support::on_both_backends;
use serde_json::json;
use uuid::Uuid;

struct Fixture {
    store: Arc<dyn Store>,
    org: Uuid,
    kb: Uuid,
    source: Uuid,
    db: TestDb,
}

async fn fixture(backend: Backend) -> anyhow::Result<Option<Fixture>> {
    let Some(db) = TestDb::fresh(backend).await? else {
        return Ok(None);
    };
    let store = feather_server::store::open(&db.url).await?;
    let org = store.create_organization("acme").await?.id;
    let kb = store.create_knowledge_base(org, "kb").await?.id;
    let source = store
        .create_source(kb, "s", "synthetic", &json!({}))
        .await?
        .id;
    Ok(Some(Fixture {
        store,
        org,
        kb,
        source,
        db,
    }))
}

fn done() -> Finish {
    Finish {
        status: JobStatus::Completed,
        error_message: None,
        delete_unseen: true,
    }
}

async fn a_worker_that_lost_its_lease_cannot_write(backend: Backend) -> anyhow::Result<()> {
    let Some(f) = fixture(backend).await? else {
        return Ok(());
    };
    let TriggerOutcome::Queued(_) = f.store.trigger_sync(f.org, f.kb, f.source).await? else {
        anyhow::bail!("trigger refused");
    };
    let past = Utc::now() - TimeDelta::seconds(1);
    let a = f
        .store
        .claim_job("a", past)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no job"))?;
    let report = f.store.reap(Utc::now(), 3).await?;
    assert_eq!(report.retried, [a.job.id]);
    let future = Utc::now() + TimeDelta::seconds(30);
    let b = f
        .store
        .claim_job("b", future)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no job"))?;
    assert_eq!((b.job.id, b.job.attempts), (a.job.id, 2));

    assert!(
        !f.store
            .record_batch(&a.job, "a", &Batch::default(), future)
            .await?
    );
    assert!(!f.store.finish_job(&a.job, "a", &done()).await?);
    assert!(!f.store.release_job(a.job.id, "a").await?);
    assert!(
        f.store
            .record_batch(&b.job, "b", &Batch::default(), future)
            .await?
    );
    assert!(f.store.finish_job(&b.job, "b", &done()).await?);
    let state = f.store.sync_state(f.org, f.kb, f.source).await?;
    assert_eq!(state.map(|s| s.source_status), Some(SourceStatus::Active));
    assert!(
        f.store.claim_job("c", future).await?.is_none(),
        "the queue is empty"
    );
    Ok(())
}

async fn expired_jobs_without_attempts_left_fail_and_their_source_errors(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(f) = fixture(backend).await? else {
        return Ok(());
    };
    let TriggerOutcome::Queued(job) = f.store.trigger_sync(f.org, f.kb, f.source).await? else {
        anyhow::bail!("trigger refused");
    };
    let past = Utc::now() - TimeDelta::seconds(1);
    f.store.claim_job("a", past).await?;
    // A lease that has not expired is left alone.
    let report = f.store.reap(past - TimeDelta::seconds(1), 1).await?;
    assert!(report.failed.is_empty() && report.retried.is_empty());

    let report = f.store.reap(Utc::now(), 1).await?;
    assert_eq!(report.failed, [job.id]);
    let job = f
        .store
        .find_job(job.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("job gone"))?;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(job.completed_at.is_some());
    assert!(job.error_message.unwrap_or_default().contains("1 attempts"));
    let state = f.store.sync_state(f.org, f.kb, f.source).await?;
    assert_eq!(state.map(|s| s.source_status), Some(SourceStatus::Error));
    Ok(())
}

async fn a_source_left_syncing_without_a_live_job_is_repaired(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(f) = fixture(backend).await? else {
        return Ok(());
    };
    // As an older server version or a manual edit could leave it.
    let sql = format!(
        "UPDATE sources SET status = 'syncing' WHERE id = '{}'",
        f.source
    );
    match f.db.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&f.db.url).await?;
            sqlx::query(&sql).execute(&pool).await?;
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&f.db.url).await?;
            sqlx::query(&sql).execute(&pool).await?;
            pool.close().await;
        }
    }
    let report = f.store.reap(Utc::now(), 3).await?;
    assert_eq!(report.repaired_sources, 1);
    let state = f.store.sync_state(f.org, f.kb, f.source).await?;
    assert_eq!(state.map(|s| s.source_status), Some(SourceStatus::Error));
    // A queued job is live: its source is left syncing.
    f.store.trigger_sync(f.org, f.kb, f.source).await?;
    assert_eq!(f.store.reap(Utc::now(), 3).await?.repaired_sources, 0);
    Ok(())
}

async fn seeded_history_ends_in_each_sources_last_job(backend: Backend) -> anyhow::Result<()> {
    let Some(f) = fixture(backend).await? else {
        return Ok(());
    };
    let ids = f.store.seed_history(f.kb, "bulk", 50, 7).await?;
    assert_eq!(ids.len(), 50);
    let sources = f.store.list_sources(Some(f.kb)).await?;
    assert_eq!(sources.len(), 51, "the fixture's source plus 50");
    for (n, id) in ids.iter().enumerate() {
        let source = sources
            .iter()
            .find(|s| s.id == *id)
            .ok_or_else(|| anyhow::anyhow!("seeded source {id} missing"))?;
        assert_eq!(source.name, format!("bulk #{}", n + 1));
        assert_eq!(source.provider, "synthetic");
        let jobs = f.store.list_jobs(*id).await?;
        assert_eq!(jobs.len(), 7);
        assert!(jobs.iter().all(|j| j.status == JobStatus::Completed));
        let newest = jobs
            .iter()
            .max_by_key(|j| j.created_at)
            .ok_or_else(|| anyhow::anyhow!("no jobs"))?;
        let state = f
            .store
            .sync_state(f.org, f.kb, *id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no state for {id}"))?;
        assert_eq!(state.source_status, SourceStatus::Active);
        let last = state
            .last_job
            .ok_or_else(|| anyhow::anyhow!("no last job"))?;
        assert_eq!(last.id, newest.id);
        assert_eq!(last.processed_count, 10);
        assert!(last.completed_at > last.started_at);
    }
    // A seeded source can be synced like any other.
    assert!(matches!(
        f.store.trigger_sync(f.org, f.kb, ids[0]).await?,
        TriggerOutcome::Queued(_)
    ));
    // Bad input changes nothing.
    let unknown_kb = Uuid::new_v4();
    assert!(
        f.store
            .seed_history(unknown_kb, "bulk", 3, 1)
            .await
            .is_err()
    );
    assert!(f.store.seed_history(f.kb, " ", 3, 1).await.is_err());
    assert_eq!(f.store.list_sources(None).await?.len(), 51);
    let empty = f.store.seed_history(f.kb, "fresh", 2, 0).await?;
    let state = f.store.sync_state(f.org, f.kb, empty[1]).await?;
    assert!(state.is_some_and(|s| s.last_job.is_none()));
    drop(f);
    Ok(())
}

/// Both schemas declare the same foreign key: a source's last job must be
/// one of its jobs' table (checked at commit, since a trigger sets it before
/// inserting the job).
async fn a_source_cannot_point_at_a_job_that_does_not_exist(
    backend: Backend,
) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let Some(f) = fixture(backend).await? else {
        return Ok(());
    };
    let missing = Uuid::new_v4();
    let refused = match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&f.db.url).await?;
            sqlx::query("PRAGMA foreign_keys = ON")
                .execute(&mut conn)
                .await?;
            sqlx::query("UPDATE sources SET last_job_id = $1 WHERE id = $2")
                .bind(missing.to_string())
                .bind(f.source.to_string())
                .execute(&mut conn)
                .await
                .map(|done| done.rows_affected())
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&f.db.url).await?;
            sqlx::query("UPDATE sources SET last_job_id = $1 WHERE id = $2")
                .bind(missing)
                .bind(f.source)
                .execute(&mut conn)
                .await
                .map(|done| done.rows_affected())
        }
    };
    let error = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.to_lowercase().contains("foreign key"),
        "a dangling last_job_id must be refused, got {error:?}"
    );
    let sources = f.store.list_sources(Some(f.kb)).await?;
    assert_eq!(sources[0].last_job_id, None, "nothing was written");
    Ok(())
}

on_both_backends!(
    a_source_cannot_point_at_a_job_that_does_not_exist,
    a_worker_that_lost_its_lease_cannot_write,
    expired_jobs_without_attempts_left_fail_and_their_source_errors,
    a_source_left_syncing_without_a_live_job_is_repaired,
    seeded_history_ends_in_each_sources_last_job,
);

/// After `close`, the SQLite database file alone holds every write: the WAL
/// has been checkpointed into it, so copying the file is a backup.
#[tokio::test]
async fn closing_a_sqlite_store_leaves_a_complete_database_file() -> anyhow::Result<()> {
    let Some(f) = fixture(Backend::Sqlite).await? else {
        anyhow::bail!("SQLite is always available");
    };
    let TriggerOutcome::Queued(job) = f.store.trigger_sync(f.org, f.kb, f.source).await? else {
        anyhow::bail!("trigger refused");
    };
    f.store.close().await;
    let path =
        f.db.url
            .strip_prefix("sqlite:")
            .ok_or_else(|| anyhow::anyhow!("not a sqlite URL: {}", f.db.url))?;
    let copy_dir = tempfile::tempdir()?;
    let copy = copy_dir.path().join("copy.db");
    std::fs::copy(path, &copy)?;
    let reopened = feather_server::store::open(&format!("sqlite:{}", copy.display())).await?;
    let found = reopened.find_job(job.id).await?;
    assert_eq!(found.map(|j| j.status), Some(JobStatus::Queued));
    assert_eq!(reopened.list_sources(Some(f.kb)).await?.len(), 1);
    reopened.close().await;
    Ok(())
}
