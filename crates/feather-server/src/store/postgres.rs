//! The PostgreSQL store: several `feather-server` replicas on one database.
//!
//! Same behaviour as the SQLite store; what differs is how concurrency is
//! made safe across processes, with no in-process lock doing the work:
//! - the trigger's guarded `UPDATE` runs in READ COMMITTED: a concurrent
//!   trigger waits for the row lock, then re-checks `status IN ('active',
//!   'error')` against the committed row and matches nothing;
//! - workers claim with `FOR UPDATE SKIP LOCKED`, so each queued job is taken
//!   by exactly one replica;
//! - the reaper's updates are guarded by the lease and status they read, so
//!   every replica may run it at once.
//!
//! A database that goes away makes requests fail after the pool's acquire
//! timeout with 503; the pool reconnects by itself when it returns.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use uuid::Uuid;

use super::{
    ApiKeyRecord, Batch, ClaimedJob, Document, Finish, KnowledgeBase, Organization, ReapReport,
    SEED_ITEMS, Source, SourceSyncState, Store, StoreError, StoreResult, SyncJob, TriggerOutcome,
    seed_config, seed_ids, validate_source,
};

/// How long a request waits for a connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections per server. Measured on 2 cores (`cargo xtask bench`): 8
/// gave the same status throughput as 16 with a lower p99 (about 7.5 ms
/// against 9.5 ms at 64 HTTP connections); more backends only add context
/// switches when every query is a short indexed lookup.
const MAX_CONNECTIONS: u32 = 8;
/// Times a trigger re-checks a source that stopped syncing meanwhile.
const TRIGGER_ATTEMPTS: usize = 3;
/// A pooled connection idle for longer than this is pinged before it is
/// handed out (one that was just returned is known to be alive: the pool
/// pings every connection when it is released).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// The PostgreSQL implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://...`) and migrates the database.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("bad PostgreSQL URL: {e}")))?
            .application_name("feather-server");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx's `test_before_acquire` pings on every acquire: one more
            // round trip per request on top of the release ping. Under load
            // connections come back within microseconds, so ping only those
            // that sat idle (and may have died with a restarted server).
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_IF_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// The connection pool (for tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn parse_status<T: FromStr<Err = feather_api::UnknownStatus>>(
    column: &str,
    text: &str,
) -> StoreResult<T> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    column: &str,
) -> StoreResult<T> {
    Ok(row.try_get::<T, _>(column)?)
}

fn organization(row: &PgRow) -> StoreResult<Organization> {
    Ok(Organization {
        id: get(row, "id")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
    })
}

fn api_key(row: &PgRow) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        key_hash: get(row, "key_hash")?,
        created_at: get(row, "created_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

fn knowledge_base(row: &PgRow) -> StoreResult<KnowledgeBase> {
    Ok(KnowledgeBase {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
    })
}

fn source(row: &PgRow) -> StoreResult<Source> {
    let status: String = get(row, "status")?;
    Ok(Source {
        id: get(row, "id")?,
        kb_id: get(row, "kb_id")?,
        name: get(row, "name")?,
        provider: get(row, "provider")?,
        config: get(row, "config")?,
        status: parse_status("status", &status)?,
        last_job_id: get(row, "last_job_id")?,
        created_at: get(row, "created_at")?,
    })
}

const JOB_COLUMNS: &str = "id, source_id, status, total_items, processed_count, failed_count, \
     error_message, attempts, created_at, started_at, completed_at";

fn job(row: &PgRow) -> StoreResult<SyncJob> {
    let status: String = get(row, "status")?;
    Ok(SyncJob {
        id: get(row, "id")?,
        source_id: get(row, "source_id")?,
        status: parse_status("status", &status)?,
        total_items: get(row, "total_items")?,
        processed_count: get(row, "processed_count")?,
        failed_count: get(row, "failed_count")?,
        error_message: get(row, "error_message")?,
        attempts: get(row, "attempts")?,
        created_at: get(row, "created_at")?,
        started_at: get(row, "started_at")?,
        completed_at: get(row, "completed_at")?,
    })
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn is_empty(&self) -> StoreResult<bool> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM organizations) AS any_org")
            .fetch_one(&self.pool)
            .await?;
        Ok(!get::<bool>(&row, "any_org")?)
    }

    async fn create_organization(&self, name: &str) -> StoreResult<Organization> {
        let org = Organization::new(name);
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(org.id)
            .bind(&org.name)
            .bind(org.created_at)
            .execute(&self.pool)
            .await?;
        Ok(org)
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(organization)
            .collect()
    }

    async fn create_api_key(
        &self,
        org_id: Uuid,
        id: &str,
        name: &str,
        key_hash: &[u8],
    ) -> StoreResult<ApiKeyRecord> {
        let record = ApiKeyRecord::new(org_id, id, name, key_hash);
        let inserted = sqlx::query(
            "INSERT INTO api_keys (id, org_id, name, key_hash, created_at) \
             SELECT $1, id, $2, $3, $4 FROM organizations WHERE id = $5",
        )
        .bind(&record.id)
        .bind(&record.name)
        .bind(&record.key_hash)
        .bind(record.created_at)
        .bind(org_id)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("no organization {org_id}")));
        }
        Ok(record)
    }

    async fn find_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        sqlx::query(
            "SELECT id, org_id, name, key_hash, created_at, revoked_at FROM api_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(api_key)
        .transpose()
    }

    async fn revoke_api_key(&self, id: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(Utc::now())
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_api_keys(&self, org_id: Option<Uuid>) -> StoreResult<Vec<ApiKeyRecord>> {
        sqlx::query(
            "SELECT id, org_id, name, key_hash, created_at, revoked_at FROM api_keys \
             WHERE $1::uuid IS NULL OR org_id = $1 ORDER BY created_at, id",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(api_key)
        .collect()
    }

    async fn create_knowledge_base(&self, org_id: Uuid, name: &str) -> StoreResult<KnowledgeBase> {
        let kb = KnowledgeBase::new(org_id, name);
        let inserted = sqlx::query(
            "INSERT INTO knowledge_bases (id, org_id, name, created_at) \
             SELECT $1, id, $2, $3 FROM organizations WHERE id = $4",
        )
        .bind(kb.id)
        .bind(&kb.name)
        .bind(kb.created_at)
        .bind(org_id)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("no organization {org_id}")));
        }
        Ok(kb)
    }

    async fn list_knowledge_bases(&self, org_id: Option<Uuid>) -> StoreResult<Vec<KnowledgeBase>> {
        sqlx::query(
            "SELECT id, org_id, name, created_at FROM knowledge_bases \
             WHERE $1::uuid IS NULL OR org_id = $1 ORDER BY created_at, id",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(knowledge_base)
        .collect()
    }

    async fn create_source(
        &self,
        kb_id: Uuid,
        name: &str,
        provider: &str,
        config: &serde_json::Value,
    ) -> StoreResult<Source> {
        validate_source(provider, config)?;
        let now = Utc::now();
        let source = Source::new(kb_id, name, provider, config, now);
        let inserted = sqlx::query(
            "INSERT INTO sources (id, kb_id, name, provider, config, status, created_at, updated_at) \
             SELECT $1, id, $2, $3, $4, 'active', $5, $5 FROM knowledge_bases WHERE id = $6",
        )
        .bind(source.id)
        .bind(&source.name)
        .bind(&source.provider)
        .bind(config)
        .bind(now)
        .bind(kb_id)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("no knowledge base {kb_id}")));
        }
        Ok(source)
    }

    async fn list_sources(&self, kb_id: Option<Uuid>) -> StoreResult<Vec<Source>> {
        sqlx::query(
            "SELECT id, kb_id, name, provider, config, status, last_job_id, created_at FROM sources \
             WHERE $1::uuid IS NULL OR kb_id = $1 ORDER BY created_at, id",
        )
        .bind(kb_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(source)
        .collect()
    }

    async fn list_jobs(&self, source_id: Uuid) -> StoreResult<Vec<SyncJob>> {
        sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM sync_jobs WHERE source_id = $1 ORDER BY created_at, id"
        ))
        .bind(source_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(job)
        .collect()
    }

    async fn trigger_sync(
        &self,
        org_id: Uuid,
        kb_id: Uuid,
        source_id: Uuid,
    ) -> StoreResult<TriggerOutcome> {
        for _ in 0..TRIGGER_ATTEMPTS {
            let now = Utc::now();
            let job = SyncJob::queued(source_id, now);
            let mut tx = self.pool.begin().await?;
            let flipped = sqlx::query(
                "UPDATE sources SET status = 'syncing', last_job_id = $1, updated_at = $2 \
                 WHERE id = $3 AND kb_id = $4 \
                   AND kb_id IN (SELECT id FROM knowledge_bases WHERE org_id = $5) \
                   AND status IN ('active', 'error')",
            )
            .bind(job.id)
            .bind(now)
            .bind(source_id)
            .bind(kb_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
            if flipped.rows_affected() == 1 {
                sqlx::query(
                    "INSERT INTO sync_jobs (id, source_id, status, processed_count, created_at) \
                     VALUES ($1, $2, 'queued', 0, $3)",
                )
                .bind(job.id)
                .bind(source_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(TriggerOutcome::Queued(job));
            }
            tx.rollback().await?;
            let current = sqlx::query(
                "SELECT s.status, s.last_job_id FROM sources s \
                 JOIN knowledge_bases k ON k.id = s.kb_id \
                 WHERE s.id = $1 AND s.kb_id = $2 AND k.org_id = $3",
            )
            .bind(source_id)
            .bind(kb_id)
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = current else {
                return Ok(TriggerOutcome::NotFound);
            };
            let status: String = get(&row, "status")?;
            if parse_status::<feather_api::SourceStatus>("status", &status)?
                == feather_api::SourceStatus::Syncing
            {
                return Ok(TriggerOutcome::AlreadySyncing(get(&row, "last_job_id")?));
            }
        }
        Err(StoreError::Unavailable(format!(
            "source {source_id} kept changing state; retry the trigger"
        )))
    }

    async fn claim_job(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<ClaimedJob>> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(&format!(
            "UPDATE sync_jobs SET status = 'processing', lease_owner = $1, lease_expires_at = $2, \
                 attempts = attempts + 1, started_at = $3, completed_at = NULL, total_items = NULL, \
                 processed_count = 0, failed_count = 0, error_message = NULL \
             WHERE id = (SELECT id FROM sync_jobs WHERE status = 'queued' \
                         ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(Utc::now())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = claimed else {
            tx.rollback().await?;
            return Ok(None);
        };
        let job = job(&row)?;
        let source = sqlx::query("SELECT provider, config FROM sources WHERE id = $1")
            .bind(job.source_id)
            .fetch_one(&mut *tx)
            .await?;
        let claimed = ClaimedJob {
            provider: get(&source, "provider")?,
            config: get(&source, "config")?,
            job,
        };
        tx.commit().await?;
        Ok(Some(claimed))
    }

    async fn record_batch(
        &self,
        job: &SyncJob,
        owner: &str,
        batch: &Batch,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let held = sqlx::query(
            "UPDATE sync_jobs SET total_items = $1, processed_count = $2, failed_count = $3, \
                 lease_expires_at = $4 \
             WHERE id = $5 AND lease_owner = $6 AND status = 'processing'",
        )
        .bind(batch.progress.total_items)
        .bind(batch.progress.processed_count)
        .bind(batch.progress.failed_count)
        .bind(lease_until)
        .bind(job.id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let now = Utc::now();
        for doc in &batch.documents {
            let unchanged = sqlx::query(
                "UPDATE documents SET last_seen_job_id = $1 \
                 WHERE source_id = $2 AND external_id = $3 AND content_hash = $4",
            )
            .bind(job.id)
            .bind(job.source_id)
            .bind(&doc.external_id)
            .bind(&doc.content_hash)
            .execute(&mut *tx)
            .await?;
            if unchanged.rows_affected() == 1 {
                continue;
            }
            sqlx::query(
                "INSERT INTO documents (id, source_id, external_id, title, content_hash, size_bytes, \
                     text, last_seen_job_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                 ON CONFLICT (source_id, external_id) DO UPDATE SET \
                     title = excluded.title, content_hash = excluded.content_hash, \
                     size_bytes = excluded.size_bytes, text = excluded.text, \
                     last_seen_job_id = excluded.last_seen_job_id, updated_at = excluded.updated_at",
            )
            .bind(Uuid::new_v4())
            .bind(job.source_id)
            .bind(&doc.external_id)
            .bind(&doc.title)
            .bind(&doc.content_hash)
            .bind(doc.size_bytes)
            .bind(&doc.text)
            .bind(job.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if !batch.failed_ids.is_empty() {
            sqlx::query(
                "UPDATE documents SET last_seen_job_id = $1 \
                 WHERE source_id = $2 AND external_id = ANY($3)",
            )
            .bind(job.id)
            .bind(job.source_id)
            .bind(&batch.failed_ids)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_job(&self, job: &SyncJob, owner: &str, finish: &Finish) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let now = Utc::now();
        let ended = sqlx::query(
            "UPDATE sync_jobs SET status = $1, error_message = $2, completed_at = $3, \
                 lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $4 AND lease_owner = $5 AND status = 'processing'",
        )
        .bind(finish.status.as_str())
        .bind(&finish.error_message)
        .bind(now)
        .bind(job.id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if finish.delete_unseen {
            sqlx::query("DELETE FROM documents WHERE source_id = $1 AND last_seen_job_id <> $2")
                .bind(job.source_id)
                .bind(job.id)
                .execute(&mut *tx)
                .await?;
        }
        let rest = if finish.status == feather_api::JobStatus::Failed {
            "error"
        } else {
            "active"
        };
        sqlx::query(
            "UPDATE sources SET status = $1, updated_at = $2 \
             WHERE id = $3 AND last_job_id = $4 AND status = 'syncing'",
        )
        .bind(rest)
        .bind(now)
        .bind(job.source_id)
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn release_job(&self, job_id: Uuid, owner: &str) -> StoreResult<bool> {
        let released = sqlx::query(
            "UPDATE sync_jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, \
                 attempts = GREATEST(attempts - 1, 0), started_at = NULL \
             WHERE id = $1 AND lease_owner = $2 AND status = 'processing'",
        )
        .bind(job_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(released.rows_affected() == 1)
    }

    async fn reap(&self, now: DateTime<Utc>, max_attempts: i64) -> StoreResult<ReapReport> {
        let mut tx = self.pool.begin().await?;
        // Each UPDATE re-checks its WHERE against the committed row after
        // waiting for a lock, so replicas reaping at once cannot both act.
        let failed = sqlx::query(
            "UPDATE sync_jobs SET status = 'failed', completed_at = $1, \
                 lease_owner = NULL, lease_expires_at = NULL, \
                 error_message = 'The sync stopped making progress: its worker stopped ' \
                     || 'renewing its lease on each of ' || attempts || ' attempts.' \
             WHERE status = 'processing' AND lease_expires_at < $1 AND attempts >= $2 \
             RETURNING id",
        )
        .bind(now)
        .bind(max_attempts)
        .fetch_all(&mut *tx)
        .await?;
        let retried = sqlx::query(
            "UPDATE sync_jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL \
             WHERE status = 'processing' AND lease_expires_at < $1 \
             RETURNING id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;

        // Sources left syncing: decide on what was read, then update only
        // if the source still points at that same job (a trigger committing
        // meanwhile changes last_job_id, and the update then matches nothing).
        let orphans = sqlx::query(
            "SELECT s.id, s.last_job_id, j.status AS job_status FROM sources s \
             LEFT JOIN sync_jobs j ON j.id = s.last_job_id \
             WHERE s.status = 'syncing' \
               AND (j.id IS NULL OR j.status NOT IN ('queued', 'processing'))",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut repaired = 0;
        for row in &orphans {
            let job_status: Option<String> = get(row, "job_status")?;
            let rest = match job_status.as_deref() {
                Some("completed" | "partial_failure") => "active",
                _ => "error",
            };
            let done = sqlx::query(
                "UPDATE sources SET status = $1, updated_at = $2 \
                 WHERE id = $3 AND status = 'syncing' AND last_job_id IS NOT DISTINCT FROM $4",
            )
            .bind(rest)
            .bind(now)
            .bind(get::<Uuid>(row, "id")?)
            .bind(get::<Option<Uuid>>(row, "last_job_id")?)
            .execute(&self.pool)
            .await?;
            repaired += done.rows_affected();
        }
        let ids = |rows: Vec<PgRow>| -> StoreResult<Vec<Uuid>> {
            rows.iter().map(|r| get(r, "id")).collect()
        };
        Ok(ReapReport {
            retried: ids(retried)?,
            failed: ids(failed)?,
            repaired_sources: repaired,
        })
    }

    async fn list_documents(&self, source_id: Uuid) -> StoreResult<Vec<Document>> {
        sqlx::query(
            "SELECT external_id, title, content_hash, size_bytes, text, created_at, updated_at \
             FROM documents WHERE source_id = $1 ORDER BY external_id",
        )
        .bind(source_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Document {
                external_id: get(row, "external_id")?,
                title: get(row, "title")?,
                content_hash: get(row, "content_hash")?,
                size_bytes: get(row, "size_bytes")?,
                text: get(row, "text")?,
                created_at: get(row, "created_at")?,
                updated_at: get(row, "updated_at")?,
            })
        })
        .collect()
    }

    async fn find_job(&self, job_id: Uuid) -> StoreResult<Option<SyncJob>> {
        sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM sync_jobs WHERE id = $1"
        ))
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(job)
        .transpose()
    }

    async fn sync_state(
        &self,
        org_id: Uuid,
        kb_id: Uuid,
        source_id: Uuid,
    ) -> StoreResult<Option<SourceSyncState>> {
        let row = sqlx::query(
            "SELECT s.id AS s_id, s.status AS s_status, \
                    j.id, j.source_id, j.status, j.total_items, j.processed_count, j.failed_count, \
                    j.error_message, j.attempts, j.created_at, j.started_at, j.completed_at \
             FROM sources s \
             JOIN knowledge_bases k ON k.id = s.kb_id \
             LEFT JOIN sync_jobs j ON j.id = s.last_job_id \
             WHERE s.id = $1 AND s.kb_id = $2 AND k.org_id = $3",
        )
        .bind(source_id)
        .bind(kb_id)
        .bind(org_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let last_job = match get::<Option<Uuid>>(&row, "id")? {
            Some(_) => Some(job(&row)?),
            None => None,
        };
        let status: String = get(&row, "s_status")?;
        Ok(Some(SourceSyncState {
            source_id: get(&row, "s_id")?,
            source_status: parse_status("s_status", &status)?,
            last_job,
        }))
    }

    async fn seed_history(
        &self,
        kb_id: Uuid,
        prefix: &str,
        sources: u64,
        jobs_per_source: u64,
    ) -> StoreResult<Vec<Uuid>> {
        let ids = seed_ids(prefix, sources, jobs_per_source)?;
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO sources (id, kb_id, name, provider, config, status, created_at, updated_at) \
             SELECT u.id, k.id, $1 || ' #' || u.n, 'synthetic', $2, 'active', $3, $3 \
             FROM unnest($4::uuid[]) WITH ORDINALITY AS u(id, n), knowledge_bases AS k \
             WHERE k.id = $5",
        )
        .bind(prefix)
        .bind(seed_config())
        .bind(now)
        .bind(&ids)
        .bind(kb_id)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != sources {
            return Err(StoreError::Invalid(format!("no knowledge base {kb_id}")));
        }
        // Job k of a source (k = 1 is the newest) was created k hours ago
        // and took a minute.
        sqlx::query(
            "INSERT INTO sync_jobs (id, source_id, status, total_items, processed_count, \
                                    failed_count, attempts, created_at, started_at, completed_at) \
             SELECT gen_random_uuid(), s.id, 'completed', $2, $2, 0, 1, \
                    $3 - make_interval(hours => k), $3 - make_interval(hours => k), \
                    $3 - make_interval(hours => k) + interval '1 minute' \
             FROM unnest($1::uuid[]) AS s(id), generate_series(1, $4) AS k",
        )
        .bind(&ids)
        .bind(SEED_ITEMS)
        .bind(now)
        .bind(i32::try_from(jobs_per_source).map_err(|e| StoreError::Invalid(e.to_string()))?)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sources SET last_job_id = \
                 (SELECT j.id FROM sync_jobs j WHERE j.source_id = sources.id \
                  ORDER BY j.created_at DESC LIMIT 1) \
             WHERE id = ANY($1)",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }
}
