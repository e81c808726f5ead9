//! The embedded SQLite store (the default).
//!
//! WAL mode so readers never wait for the writer, foreign keys on. Writes go
//! through a pool of one connection: SQLite admits one writer at a time, and
//! writers queueing for that connection wait in line (FIFO, no polling)
//! where several pooled connections would contend for the file lock in
//! SQLite's busy handler, which sleeps up to 100 ms between tries (64
//! concurrent triggers: 75/s and a 1.1 s p99 that way). Reads use a pool of
//! eight. The busy timeout still covers writers in other processes (the
//! admin command).
//!
//! The status read, the hot path every polling client hits, does not go
//! through sqlx: sqlx runs each SQLite connection on a thread of its own, so
//! every query costs two thread hand-offs, which on 2 cores held GET status
//! to a third of what the rest of the request path allows. [`InlineReaders`]
//! runs that one prepared, indexed query on the calling thread with
//! rusqlite over the same file (a few µs from SQLite's page cache), and
//! falls back to the pool if the database is busy. Ids and timestamps are stored
//! as text (hyphenated UUIDs, RFC 3339 UTC with microseconds), which keeps
//! the file readable with the `sqlite3` shell.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use uuid::Uuid;

use super::{
    ApiKeyRecord, Batch, ClaimedJob, Document, Finish, KnowledgeBase, Organization, ReapReport,
    SEED_ITEMS, Source, SourceSyncState, Store, StoreError, StoreResult, SyncJob, TriggerOutcome,
    seed_config, seed_ids, validate_source,
};

/// How long a statement waits for the write lock before the request fails
/// with 503.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Times a trigger re-checks a source that stopped syncing between its
/// guarded UPDATE and the follow-up read.
const TRIGGER_ATTEMPTS: usize = 3;

/// The SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers.
    pool: SqlitePool,
    /// The one writer connection (the same pool as `pool` in memory).
    writer: SqlitePool,
    /// The status read's inline connections (none for an in-memory
    /// database, which other connections cannot see).
    inline: Option<std::sync::Arc<InlineReaders>>,
}

/// Most idle inline connections kept (one per thread reading at once is
/// enough: a read never awaits while it holds one).
const INLINE_IDLE: usize = 16;

/// Bytes of the database file the inline readers map into memory.
const INLINE_MMAP_BYTES: i64 = 1 << 30;

/// rusqlite connections for reads run inline on the calling thread.
#[derive(Debug)]
struct InlineReaders {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl InlineReaders {
    /// Runs `read` on an idle connection (opening one if none is idle).
    fn with<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < INLINE_IDLE
        {
            idle.push(conn);
        }
        result
    }

    fn open(&self) -> StoreResult<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Never wait on this thread: a busy database sends the read to the
        // pool, which waits without blocking the runtime.
        conn.busy_timeout(Duration::ZERO)?;
        conn.pragma_update(None, "query_only", true)?;
        // Read pages straight from a shared mapping of the file instead of
        // a pread into each connection's private cache.
        conn.pragma_update(None, "mmap_size", INLINE_MMAP_BYTES)?;
        Ok(conn)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

impl SqliteStore {
    /// Opens the database at `url` (see [`super::open`]) and migrates it.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Invalid(format!("bad SQLite URL {url:?}: {e}")))?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool_of = |connections: u32| {
            SqlitePoolOptions::new()
                .max_connections(connections)
                .min_connections(if in_memory { 1 } else { 0 })
                .acquire_timeout(BUSY_TIMEOUT)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options.clone())
        };
        let writer = pool_of(1).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        // An in-memory database exists once per connection: keep one.
        let (pool, inline) = if in_memory {
            (writer.clone(), None)
        } else {
            let inline = InlineReaders {
                path: options.get_filename().to_path_buf(),
                idle: Mutex::new(Vec::new()),
            };
            (pool_of(8).await?, Some(std::sync::Arc::new(inline)))
        };
        Ok(SqliteStore {
            pool,
            writer,
            inline,
        })
    }

    /// Closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// A timestamp as stored.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(column: &str, text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{column} {text:?}: {e}")))
}

fn parse_uuid(column: &str, text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("{column} {text:?}: {e}")))
}

fn parse_status<T: FromStr<Err = feather_api::UnknownStatus>>(
    column: &str,
    text: &str,
) -> StoreResult<T> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Typed column access with the column named in errors. Implementations
/// read text and integers; ids and times are parsed from text here (SQLite
/// stores them as text), the same way for sqlx and rusqlite rows.
trait RowExt {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn uuid(&self, column: &str) -> StoreResult<Uuid> {
        parse_uuid(column, &self.text(column)?)
    }
    fn opt_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        self.opt_text(column)?
            .map(|t| parse_uuid(column, &t))
            .transpose()
    }
    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        parse_ts(column, &self.text(column)?)
    }
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.opt_text(column)?
            .map(|t| parse_ts(column, &t))
            .transpose()
    }
}

impl RowExt for SqliteRow {
    fn text(&self, column: &str) -> StoreResult<String> {
        Ok(self.try_get::<String, _>(column)?)
    }
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get::<Option<String>, _>(column)?)
    }
    fn int(&self, column: &str) -> StoreResult<i64> {
        Ok(self.try_get::<i64, _>(column)?)
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get::<Option<i64>, _>(column)?)
    }
}

impl RowExt for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> StoreResult<String> {
        Ok(self.get::<_, String>(column)?)
    }
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.get::<_, Option<String>>(column)?)
    }
    fn int(&self, column: &str) -> StoreResult<i64> {
        Ok(self.get::<_, i64>(column)?)
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.get::<_, Option<i64>>(column)?)
    }
}

fn organization(row: &SqliteRow) -> StoreResult<Organization> {
    Ok(Organization {
        id: row.uuid("id")?,
        name: row.text("name")?,
        created_at: row.time("created_at")?,
    })
}

fn api_key(row: &SqliteRow) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.text("id")?,
        org_id: row.uuid("org_id")?,
        name: row.text("name")?,
        key_hash: row.try_get::<Vec<u8>, _>("key_hash")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

fn knowledge_base(row: &SqliteRow) -> StoreResult<KnowledgeBase> {
    Ok(KnowledgeBase {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        name: row.text("name")?,
        created_at: row.time("created_at")?,
    })
}

fn source(row: &SqliteRow) -> StoreResult<Source> {
    let config = row.text("config")?;
    Ok(Source {
        id: row.uuid("id")?,
        kb_id: row.uuid("kb_id")?,
        name: row.text("name")?,
        provider: row.text("provider")?,
        config: serde_json::from_str(&config)
            .map_err(|e| StoreError::Corrupt(format!("config: {e}")))?,
        status: parse_status("status", &row.text("status")?)?,
        last_job_id: row.opt_uuid("last_job_id")?,
        created_at: row.time("created_at")?,
    })
}

/// A source's state and last job, scoped to its knowledge base and tenant:
/// three primary-key lookups.
const SYNC_STATE: &str = "SELECT s.id AS s_id, s.status AS s_status, \
            j.id, j.source_id, j.status, j.total_items, j.processed_count, j.failed_count, \
            j.error_message, j.attempts, j.created_at, j.started_at, j.completed_at \
     FROM sources s \
     JOIN knowledge_bases k ON k.id = s.kb_id \
     LEFT JOIN sync_jobs j ON j.id = s.last_job_id \
     WHERE s.id = ?1 AND s.kb_id = ?2 AND k.org_id = ?3";

fn sync_state(row: &impl RowExt) -> StoreResult<SourceSyncState> {
    let last_job = match row.opt_text("id")? {
        Some(_) => Some(job(row)?),
        None => None,
    };
    Ok(SourceSyncState {
        source_id: row.uuid("s_id")?,
        source_status: parse_status("s_status", &row.text("s_status")?)?,
        last_job,
    })
}

/// Columns that [`job`] reads.
const JOB_COLUMNS: &str = "id, source_id, status, total_items, processed_count, failed_count, \
     error_message, attempts, created_at, started_at, completed_at";

fn job(row: &impl RowExt) -> StoreResult<SyncJob> {
    Ok(SyncJob {
        id: row.uuid("id")?,
        source_id: row.uuid("source_id")?,
        status: parse_status("status", &row.text("status")?)?,
        total_items: row.opt_int("total_items")?,
        processed_count: row.int("processed_count")?,
        failed_count: row.int("failed_count")?,
        error_message: row.opt_text("error_message")?,
        attempts: row.int("attempts")?,
        created_at: row.time("created_at")?,
        started_at: row.opt_time("started_at")?,
        completed_at: row.opt_time("completed_at")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn is_empty(&self) -> StoreResult<bool> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM organizations) AS any_org")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.int("any_org")? == 0)
    }

    async fn create_organization(&self, name: &str) -> StoreResult<Organization> {
        let org = Organization::new(name);
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)")
            .bind(org.id.to_string())
            .bind(&org.name)
            .bind(ts(org.created_at))
            .execute(&self.writer)
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
             SELECT ?, id, ?, ?, ? FROM organizations WHERE id = ?",
        )
        .bind(&record.id)
        .bind(&record.name)
        .bind(&record.key_hash)
        .bind(ts(record.created_at))
        .bind(org_id.to_string())
        .execute(&self.writer)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("no organization {org_id}")));
        }
        Ok(record)
    }

    async fn find_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        sqlx::query(
            "SELECT id, org_id, name, key_hash, created_at, revoked_at FROM api_keys WHERE id = ?",
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
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(ts(Utc::now()))
                .bind(id)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_api_keys(&self, org_id: Option<Uuid>) -> StoreResult<Vec<ApiKeyRecord>> {
        sqlx::query(
            "SELECT id, org_id, name, key_hash, created_at, revoked_at FROM api_keys \
             WHERE ?1 IS NULL OR org_id = ?1 ORDER BY created_at, id",
        )
        .bind(org_id.map(|id| id.to_string()))
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
             SELECT ?, id, ?, ? FROM organizations WHERE id = ?",
        )
        .bind(kb.id.to_string())
        .bind(&kb.name)
        .bind(ts(kb.created_at))
        .bind(org_id.to_string())
        .execute(&self.writer)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("no organization {org_id}")));
        }
        Ok(kb)
    }

    async fn list_knowledge_bases(&self, org_id: Option<Uuid>) -> StoreResult<Vec<KnowledgeBase>> {
        sqlx::query(
            "SELECT id, org_id, name, created_at FROM knowledge_bases \
             WHERE ?1 IS NULL OR org_id = ?1 ORDER BY created_at, id",
        )
        .bind(org_id.map(|id| id.to_string()))
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
             SELECT ?, id, ?, ?, ?, 'active', ?, ? FROM knowledge_bases WHERE id = ?",
        )
        .bind(source.id.to_string())
        .bind(&source.name)
        .bind(&source.provider)
        .bind(config.to_string())
        .bind(ts(now))
        .bind(ts(now))
        .bind(kb_id.to_string())
        .execute(&self.writer)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("no knowledge base {kb_id}")));
        }
        Ok(source)
    }

    async fn list_sources(&self, kb_id: Option<Uuid>) -> StoreResult<Vec<Source>> {
        sqlx::query(
            "SELECT id, kb_id, name, provider, config, status, last_job_id, created_at FROM sources \
             WHERE ?1 IS NULL OR kb_id = ?1 ORDER BY created_at, id",
        )
        .bind(kb_id.map(|id| id.to_string()))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(source)
        .collect()
    }

    async fn list_jobs(&self, source_id: Uuid) -> StoreResult<Vec<SyncJob>> {
        sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM sync_jobs WHERE source_id = ? ORDER BY created_at, id"
        ))
        .bind(source_id.to_string())
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
            let mut tx = self.writer.begin().await?;
            // The guarded flip comes first: as the transaction's first
            // statement is a write, SQLite takes the write lock at once
            // (waiting up to the busy timeout) instead of failing to upgrade
            // a read lock under contention.
            let flipped = sqlx::query(
                "UPDATE sources SET status = 'syncing', last_job_id = ?, updated_at = ? \
                 WHERE id = ? AND kb_id = ? \
                   AND kb_id IN (SELECT id FROM knowledge_bases WHERE org_id = ?) \
                   AND status IN ('active', 'error')",
            )
            .bind(job.id.to_string())
            .bind(ts(now))
            .bind(source_id.to_string())
            .bind(kb_id.to_string())
            .bind(org_id.to_string())
            .execute(&mut *tx)
            .await?;
            if flipped.rows_affected() == 1 {
                sqlx::query(
                    "INSERT INTO sync_jobs (id, source_id, status, processed_count, created_at) \
                     VALUES (?, ?, 'queued', 0, ?)",
                )
                .bind(job.id.to_string())
                .bind(source_id.to_string())
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(TriggerOutcome::Queued(job));
            }
            tx.rollback().await?;

            // Zero rows: tell "not yours / not there" from "already syncing".
            let current = sqlx::query(
                "SELECT s.status, s.last_job_id FROM sources s \
                 JOIN knowledge_bases k ON k.id = s.kb_id \
                 WHERE s.id = ? AND s.kb_id = ? AND k.org_id = ?",
            )
            .bind(source_id.to_string())
            .bind(kb_id.to_string())
            .bind(org_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = current else {
                return Ok(TriggerOutcome::NotFound);
            };
            let status: feather_api::SourceStatus = parse_status("status", &row.text("status")?)?;
            if status == feather_api::SourceStatus::Syncing {
                return Ok(TriggerOutcome::AlreadySyncing(row.opt_uuid("last_job_id")?));
            }
            // The running sync finished in between: try again.
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
        let mut tx = self.writer.begin().await?;
        let claimed = sqlx::query(&format!(
            "UPDATE sync_jobs SET status = 'processing', lease_owner = ?, lease_expires_at = ?, \
                 attempts = attempts + 1, started_at = ?, completed_at = NULL, total_items = NULL, \
                 processed_count = 0, failed_count = 0, error_message = NULL \
             WHERE id = (SELECT id FROM sync_jobs WHERE status = 'queued' \
                         ORDER BY created_at, id LIMIT 1) \
               AND status = 'queued' \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(owner)
        .bind(ts(lease_until))
        .bind(ts(Utc::now()))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = claimed else {
            tx.rollback().await?;
            return Ok(None);
        };
        let job = job(&row)?;
        let source = sqlx::query("SELECT provider, config FROM sources WHERE id = ?")
            .bind(job.source_id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let config = source.text("config")?;
        let claimed = ClaimedJob {
            provider: source.text("provider")?,
            config: serde_json::from_str(&config)
                .map_err(|e| StoreError::Corrupt(format!("config: {e}")))?,
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
        let mut tx = self.writer.begin().await?;
        let held = sqlx::query(
            "UPDATE sync_jobs SET total_items = ?, processed_count = ?, failed_count = ?, \
                 lease_expires_at = ? \
             WHERE id = ? AND lease_owner = ? AND status = 'processing'",
        )
        .bind(batch.progress.total_items)
        .bind(batch.progress.processed_count)
        .bind(batch.progress.failed_count)
        .bind(ts(lease_until))
        .bind(job.id.to_string())
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let job_id = job.id.to_string();
        let source_id = job.source_id.to_string();
        let now = ts(Utc::now());
        for doc in &batch.documents {
            // Unchanged content: only note that this job saw it.
            let unchanged = sqlx::query(
                "UPDATE documents SET last_seen_job_id = ? \
                 WHERE source_id = ? AND external_id = ? AND content_hash = ?",
            )
            .bind(&job_id)
            .bind(&source_id)
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
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (source_id, external_id) DO UPDATE SET \
                     title = excluded.title, content_hash = excluded.content_hash, \
                     size_bytes = excluded.size_bytes, text = excluded.text, \
                     last_seen_job_id = excluded.last_seen_job_id, updated_at = excluded.updated_at",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(&source_id)
            .bind(&doc.external_id)
            .bind(&doc.title)
            .bind(&doc.content_hash)
            .bind(doc.size_bytes)
            .bind(&doc.text)
            .bind(&job_id)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        for external_id in &batch.failed_ids {
            // A failed item keeps its previous version.
            sqlx::query(
                "UPDATE documents SET last_seen_job_id = ? WHERE source_id = ? AND external_id = ?",
            )
            .bind(&job_id)
            .bind(&source_id)
            .bind(external_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_job(&self, job: &SyncJob, owner: &str, finish: &Finish) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        let now = ts(Utc::now());
        let ended = sqlx::query(
            "UPDATE sync_jobs SET status = ?, error_message = ?, completed_at = ?, \
                 lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = ? AND lease_owner = ? AND status = 'processing'",
        )
        .bind(finish.status.as_str())
        .bind(&finish.error_message)
        .bind(&now)
        .bind(job.id.to_string())
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if finish.delete_unseen {
            sqlx::query("DELETE FROM documents WHERE source_id = ? AND last_seen_job_id != ?")
                .bind(job.source_id.to_string())
                .bind(job.id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let rest = if finish.status == feather_api::JobStatus::Failed {
            "error"
        } else {
            "active"
        };
        sqlx::query(
            "UPDATE sources SET status = ?, updated_at = ? \
             WHERE id = ? AND last_job_id = ? AND status = 'syncing'",
        )
        .bind(rest)
        .bind(&now)
        .bind(job.source_id.to_string())
        .bind(job.id.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn release_job(&self, job_id: Uuid, owner: &str) -> StoreResult<bool> {
        let released = sqlx::query(
            "UPDATE sync_jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, \
                 attempts = MAX(attempts - 1, 0), started_at = NULL \
             WHERE id = ? AND lease_owner = ? AND status = 'processing'",
        )
        .bind(job_id.to_string())
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(released.rows_affected() == 1)
    }

    async fn reap(&self, now: DateTime<Utc>, max_attempts: i64) -> StoreResult<ReapReport> {
        let now = ts(now);
        let mut tx = self.writer.begin().await?;
        let failed = sqlx::query(
            "UPDATE sync_jobs SET status = 'failed', completed_at = ?, \
                 lease_owner = NULL, lease_expires_at = NULL, \
                 error_message = 'The sync stopped making progress: its worker stopped ' \
                     || 'renewing its lease on each of ' || attempts || ' attempts.' \
             WHERE status = 'processing' AND lease_expires_at < ? AND attempts >= ? \
             RETURNING id",
        )
        .bind(&now)
        .bind(&now)
        .bind(max_attempts)
        .fetch_all(&mut *tx)
        .await?;
        let retried = sqlx::query(
            "UPDATE sync_jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL \
             WHERE status = 'processing' AND lease_expires_at < ? \
             RETURNING id",
        )
        .bind(&now)
        .fetch_all(&mut *tx)
        .await?;
        let repaired = sqlx::query(
            "UPDATE sources SET updated_at = ?, status = CASE \
                 WHEN (SELECT j.status FROM sync_jobs j WHERE j.id = sources.last_job_id) \
                      IN ('completed', 'partial_failure') THEN 'active' ELSE 'error' END \
             WHERE status = 'syncing' AND NOT EXISTS ( \
                 SELECT 1 FROM sync_jobs j WHERE j.id = sources.last_job_id \
                   AND j.status IN ('queued', 'processing'))",
        )
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let ids = |rows: Vec<SqliteRow>| -> StoreResult<Vec<Uuid>> {
            rows.iter().map(|r| r.uuid("id")).collect()
        };
        Ok(ReapReport {
            retried: ids(retried)?,
            failed: ids(failed)?,
            repaired_sources: repaired.rows_affected(),
        })
    }

    async fn list_documents(&self, source_id: Uuid) -> StoreResult<Vec<Document>> {
        sqlx::query(
            "SELECT external_id, title, content_hash, size_bytes, text, created_at, updated_at \
             FROM documents WHERE source_id = ? ORDER BY external_id",
        )
        .bind(source_id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Document {
                external_id: row.text("external_id")?,
                title: row.opt_text("title")?,
                content_hash: row.text("content_hash")?,
                size_bytes: row.int("size_bytes")?,
                text: row.text("text")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        })
        .collect()
    }

    async fn find_job(&self, job_id: Uuid) -> StoreResult<Option<SyncJob>> {
        sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM sync_jobs WHERE id = ?"))
            .bind(job_id.to_string())
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
        let ids = [source_id.to_string(), kb_id.to_string(), org_id.to_string()];
        if let Some(inline) = &self.inline {
            let read = inline.with(|conn| {
                let mut statement = conn.prepare_cached(SYNC_STATE)?;
                let mut rows = statement.query(rusqlite::params![&ids[0], &ids[1], &ids[2]])?;
                rows.next()?.map(sync_state).transpose()
            });
            match read {
                Err(StoreError::Unavailable(_)) => {} // busy: wait in the pool instead
                done => return done,
            }
        }
        let [source_id, kb_id, org_id] = ids;
        sqlx::query(SYNC_STATE)
            .bind(source_id)
            .bind(kb_id)
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(sync_state)
            .transpose()
    }

    async fn seed_history(
        &self,
        kb_id: Uuid,
        prefix: &str,
        sources: u64,
        jobs_per_source: u64,
    ) -> StoreResult<Vec<Uuid>> {
        let ids = seed_ids(prefix, sources, jobs_per_source)?;
        // A JSON array of ids is one parameter, however many sources.
        let ids_json = serde_json::Value::from(ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
            .to_string();
        let now = Utc::now();
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO sources (id, kb_id, name, provider, config, status, created_at, updated_at) \
             SELECT j.value, k.id, ? || ' #' || (j.key + 1), 'synthetic', ?, 'active', ?, ? \
             FROM json_each(?) AS j, knowledge_bases AS k WHERE k.id = ?",
        )
        .bind(prefix)
        .bind(seed_config().to_string())
        .bind(ts(now))
        .bind(ts(now))
        .bind(&ids_json)
        .bind(kb_id.to_string())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != sources {
            return Err(StoreError::Invalid(format!("no knowledge base {kb_id}")));
        }
        // Job k of a source (k = 1 is the newest) was created k hours ago
        // and took a minute. Ids are random version-4 UUIDs made in SQL.
        sqlx::query(
            "WITH RECURSIVE n(k) AS (SELECT 1 WHERE ?1 > 0 UNION ALL SELECT k + 1 FROM n WHERE k < ?1) \
             INSERT INTO sync_jobs (id, source_id, status, total_items, processed_count, \
                                    failed_count, attempts, created_at, started_at, completed_at) \
             SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' \
                    || substr(lower(hex(randomblob(2))), 2) || '-' \
                    || substr('89ab', 1 + abs(random() % 4), 1) \
                    || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))), \
                    s.value, 'completed', ?2, ?2, 0, 1, \
                    strftime('%Y-%m-%dT%H:%M:%S', ?3, '-' || n.k || ' hours') || '.000000Z', \
                    strftime('%Y-%m-%dT%H:%M:%S', ?3, '-' || n.k || ' hours') || '.000000Z', \
                    strftime('%Y-%m-%dT%H:%M:%S', ?3, '-' || n.k || ' hours', '+1 minutes') || '.000000Z' \
             FROM json_each(?4) AS s, n",
        )
        .bind(i64::try_from(jobs_per_source).map_err(|e| StoreError::Invalid(e.to_string()))?)
        .bind(SEED_ITEMS)
        .bind(now.format("%Y-%m-%d %H:%M:%S").to_string())
        .bind(&ids_json)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sources SET last_job_id = \
                 (SELECT j.id FROM sync_jobs j WHERE j.source_id = sources.id \
                  ORDER BY j.created_at DESC LIMIT 1) \
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(&ids_json)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }
}
