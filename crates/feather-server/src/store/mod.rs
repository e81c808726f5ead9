//! Persistent state: organizations, API keys, knowledge bases, sources and
//! sync jobs, behind the [`Store`] trait.
//!
//! Every query that answers a request is scoped by organization, so tenant
//! isolation is a property of the store, not of each handler. Two
//! implementations: [`sqlite::SqliteStore`] (embedded, the default) and
//! [`postgres::PgStore`] (several replicas on one database); [`open`] picks
//! one from the database URL.

pub mod pg_status;
pub mod postgres;
pub mod rules;
pub mod sql;
pub mod sqlite;
mod sqlite_writer;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use feather_api::{JobStatus, SourceStatus};
use serde::Serialize;
use uuid::Uuid;

/// Providers a source may use. `local` and `synthetic` are this server's
/// own; the others are upstream's.
pub const PROVIDERS: &[&str] = &["notion", "google_drive", "s3", "url", "local", "synthetic"];

/// The error a store operation failed with, kept as the cause.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is busy beyond the timeout; retrying
    /// later may succeed (HTTP 503).
    #[error("database unavailable: {detail}")]
    Unavailable {
        /// What failed.
        detail: String,
        /// The driver's error, if one caused it.
        #[source]
        source: Option<Cause>,
    },
    /// The caller asked for something invalid (unknown org, bad provider).
    #[error("{0}")]
    Invalid(String),
    /// A row holds a value this server cannot read.
    #[error("corrupt row: {detail}")]
    Corrupt {
        /// Which value, and what is wrong with it.
        detail: String,
        /// The parse error, if one caused it.
        #[source]
        source: Option<Cause>,
    },
    /// Any other database error.
    #[error("database error: {detail}")]
    Database {
        /// What failed.
        detail: String,
        /// The driver's error.
        #[source]
        source: Option<Cause>,
    },
}

impl StoreError {
    /// The database is unavailable for a reason of the store's own.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        StoreError::Unavailable {
            detail: detail.into(),
            source: None,
        }
    }

    /// `column` holds a value that `cause` says cannot be read.
    pub fn corrupt(column: &str, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Corrupt {
            detail: format!("{column}: {cause}"),
            source: Some(Box::new(cause)),
        }
    }

    /// The rows do not fit together as the schema promises.
    pub fn corrupt_row(detail: impl Into<String>) -> Self {
        StoreError::Corrupt {
            detail: detail.into(),
            source: None,
        }
    }

    /// The database is unavailable because of `cause`.
    pub fn unavailable_from(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unavailable {
            detail: cause.to_string(),
            source: Some(Box::new(cause)),
        }
    }

    /// The database failed with `cause`.
    pub fn database_from(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Database {
            detail: cause.to_string(),
            source: Some(Box::new(cause)),
        }
    }
}

/// Whether a database error code means "retry later": the storage or the
/// server is out of something (space, locks, connections) or unreachable,
/// not that the request is wrong.
fn transient_code(code: &str) -> bool {
    // SQLite reports extended result codes as decimal numbers (at most four
    // digits; a SQLSTATE is always five characters); the primary code is the
    // low byte: SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_IOERR (10),
    // SQLITE_FULL (13).
    if code.len() < 5
        && let Ok(extended) = code.parse::<u32>()
    {
        return matches!(extended & 0xff, 5 | 6 | 10 | 13);
    }
    // PostgreSQL SQLSTATEs: connection exceptions (08), insufficient
    // resources such as disk_full and too_many_connections (53), operator
    // intervention such as admin_shutdown (57P), system errors such as
    // io_error (58).
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code.starts_with("58")
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let unavailable = match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
            _ => false,
        };
        if unavailable {
            StoreError::unavailable_from(e)
        } else {
            StoreError::database_from(e)
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database {
            detail: format!("migration failed: {e}"),
            source: Some(Box::new(e)),
        }
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A tenant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Organization {
    /// Its id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An API key as stored: never the key itself.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiKeyRecord {
    /// Public lookup id (the part of the key after `fth_`, before the secret).
    pub id: String,
    /// The organization the key acts for.
    pub org_id: Uuid,
    /// Display name.
    pub name: String,
    /// SHA-256 of the whole key.
    #[serde(skip)]
    pub key_hash: Vec<u8>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A knowledge base.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KnowledgeBase {
    /// Its id.
    pub id: Uuid,
    /// The owning organization.
    pub org_id: Uuid,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A connector source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Source {
    /// Its id.
    pub id: Uuid,
    /// The knowledge base it feeds.
    pub kb_id: Uuid,
    /// Display name.
    pub name: String,
    /// One of [`PROVIDERS`].
    pub provider: String,
    /// Provider configuration (a JSON object).
    pub config: serde_json::Value,
    /// Current state.
    pub status: SourceStatus,
    /// The most recent sync job.
    pub last_job_id: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A sync job.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncJob {
    /// Its id.
    pub id: Uuid,
    /// The source it syncs.
    pub source_id: Uuid,
    /// Lifecycle state.
    pub status: JobStatus,
    /// Items found so far, once known.
    pub total_items: Option<i64>,
    /// Items processed.
    pub processed_count: i64,
    /// Items that failed.
    pub failed_count: i64,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Times a worker has started it.
    pub attempts: i64,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When processing started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a terminal status.
    pub completed_at: Option<DateTime<Utc>>,
}

/// What the status endpoint reports: a source and its last job.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceSyncState {
    /// The source.
    pub source_id: Uuid,
    /// Its state.
    pub source_status: SourceStatus,
    /// Its last job, if it ever synced.
    pub last_job: Option<SyncJob>,
}

/// A job a worker has claimed, with what it needs to run it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedJob {
    /// The job (now `processing`, attempts counted).
    pub job: SyncJob,
    /// The source's provider.
    pub provider: String,
    /// The source's config.
    pub config: serde_json::Value,
}

/// A document to store (or to find unchanged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentWrite {
    /// Id within the source.
    pub external_id: String,
    /// Title, if any.
    pub title: Option<String>,
    /// Extracted text.
    pub text: String,
    /// Raw size.
    pub size_bytes: i64,
    /// Hex SHA-256 of the text.
    pub content_hash: String,
}

/// A stored document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Document {
    /// Id within the source.
    pub external_id: String,
    /// Title, if any.
    pub title: Option<String>,
    /// Hex SHA-256 of the text.
    pub content_hash: String,
    /// Raw size.
    pub size_bytes: i64,
    /// Extracted text.
    pub text: String,
    /// First stored.
    pub created_at: DateTime<Utc>,
    /// Last time the content changed.
    pub updated_at: DateTime<Utc>,
}

/// Counters a worker reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Items found so far, once known.
    pub total_items: Option<i64>,
    /// Items processed (ingested, unchanged or failed).
    pub processed_count: i64,
    /// Items that failed.
    pub failed_count: i64,
}

/// One batch of a running job's work, written in one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Items read.
    pub documents: Vec<DocumentWrite>,
    /// Ids of items that failed (their old documents are kept).
    pub failed_ids: Vec<String>,
    /// Counters after this batch.
    pub progress: Progress,
}

/// How a job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finish {
    /// `completed`, `partial_failure` or `failed`.
    pub status: JobStatus,
    /// Why, for `failed` and `partial_failure`.
    pub error_message: Option<String>,
    /// Delete the source's documents this job did not see (a complete run).
    pub delete_unseen: bool,
}

/// What one reaper pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReapReport {
    /// Jobs with an expired lease put back in the queue.
    pub retried: Vec<Uuid>,
    /// Jobs with an expired lease and no attempts left, now `failed`.
    pub failed: Vec<Uuid>,
    /// Sources found `syncing` without a live job, set back to a resting status.
    pub repaired_sources: u64,
}

impl Organization {
    /// A new organization, created now.
    pub fn new(name: &str) -> Self {
        Organization {
            id: Uuid::new_v4(),
            name: name.to_owned(),
            created_at: Utc::now(),
        }
    }
}

impl ApiKeyRecord {
    /// A new, live key record, created now.
    pub fn new(org_id: Uuid, id: &str, name: &str, key_hash: &[u8]) -> Self {
        ApiKeyRecord {
            id: id.to_owned(),
            org_id,
            name: name.to_owned(),
            key_hash: key_hash.to_vec(),
            created_at: Utc::now(),
            revoked_at: None,
        }
    }
}

impl KnowledgeBase {
    /// A new knowledge base, created now.
    pub fn new(org_id: Uuid, name: &str) -> Self {
        KnowledgeBase {
            id: Uuid::new_v4(),
            org_id,
            name: name.to_owned(),
            created_at: Utc::now(),
        }
    }
}

impl Source {
    /// A new `active` source, created at `now`.
    pub fn new(
        kb_id: Uuid,
        name: &str,
        provider: &str,
        config: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Self {
        Source {
            id: Uuid::new_v4(),
            kb_id,
            name: name.to_owned(),
            provider: provider.to_owned(),
            config: config.clone(),
            status: SourceStatus::Active,
            last_job_id: None,
            created_at: now,
        }
    }
}

impl SyncJob {
    /// A new `queued` job for `source_id`, created at `now`.
    pub fn queued(source_id: Uuid, now: DateTime<Utc>) -> Self {
        SyncJob {
            id: Uuid::new_v4(),
            source_id,
            status: JobStatus::Queued,
            total_items: None,
            processed_count: 0,
            failed_count: 0,
            error_message: None,
            attempts: 0,
            created_at: now,
            started_at: None,
            completed_at: None,
        }
    }
}

/// Outcome of a trigger attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum TriggerOutcome {
    /// The job was inserted and the source flipped to `syncing`.
    Queued(SyncJob),
    /// No such source in this knowledge base for this organization.
    NotFound,
    /// The source is already syncing; the running (or queued) job, if known.
    AlreadySyncing(Option<Uuid>),
}

/// Storage for the server. Every method is one consistent database action.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Checks that the database answers and holds every migration this
    /// server carries (for `/readyz`); `Unavailable` otherwise.
    async fn ready(&self) -> StoreResult<()>;
    /// Whether no organization exists yet (the demo is seeded then).
    async fn is_empty(&self) -> StoreResult<bool>;

    /// Creates an organization.
    async fn create_organization(&self, name: &str) -> StoreResult<Organization>;
    /// All organizations, oldest first.
    async fn list_organizations(&self) -> StoreResult<Vec<Organization>>;

    /// Stores a new key's hash for `org_id`.
    async fn create_api_key(
        &self,
        org_id: Uuid,
        id: &str,
        name: &str,
        key_hash: &[u8],
    ) -> StoreResult<ApiKeyRecord>;
    /// The key with this lookup id, revoked or not.
    async fn find_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Revokes a key; false if there is no such key or it was revoked already.
    async fn revoke_api_key(&self, id: &str) -> StoreResult<bool>;
    /// Keys of one organization (all when `None`), oldest first.
    async fn list_api_keys(&self, org_id: Option<Uuid>) -> StoreResult<Vec<ApiKeyRecord>>;

    /// Creates a knowledge base.
    async fn create_knowledge_base(&self, org_id: Uuid, name: &str) -> StoreResult<KnowledgeBase>;
    /// Knowledge bases of one organization (all when `None`).
    async fn list_knowledge_bases(&self, org_id: Option<Uuid>) -> StoreResult<Vec<KnowledgeBase>>;

    /// Creates a source (status `active`).
    async fn create_source(
        &self,
        kb_id: Uuid,
        name: &str,
        provider: &str,
        config: &serde_json::Value,
    ) -> StoreResult<Source>;
    /// Sources of one knowledge base (all when `None`).
    async fn list_sources(&self, kb_id: Option<Uuid>) -> StoreResult<Vec<Source>>;
    /// Jobs of one source, oldest first.
    async fn list_jobs(&self, source_id: Uuid) -> StoreResult<Vec<SyncJob>>;

    /// Queues a sync: in one transaction, flips the source from `active` or
    /// `error` to `syncing` with a guarded UPDATE and inserts the job; rolls
    /// back when the guard matches no row.
    async fn trigger_sync(
        &self,
        org_id: Uuid,
        kb_id: Uuid,
        source_id: Uuid,
    ) -> StoreResult<TriggerOutcome>;
    /// Claims the oldest queued job for `owner` with a lease until
    /// `lease_until`, resetting its counters and stamping `started_at`.
    async fn claim_job(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<ClaimedJob>>;
    /// Writes a batch and the counters, renewing the lease; false (and
    /// nothing written) if `owner` no longer holds the job.
    async fn record_batch(
        &self,
        job: &SyncJob,
        owner: &str,
        batch: &Batch,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Ends the job and puts its source back to rest (`active`, or `error`
    /// when the job failed); false if `owner` no longer holds the job.
    async fn finish_job(&self, job: &SyncJob, owner: &str, finish: &Finish) -> StoreResult<bool>;
    /// Gives a job back to the queue (graceful shutdown); the attempt is not counted.
    async fn release_job(&self, job_id: Uuid, owner: &str) -> StoreResult<bool>;
    /// Retries or fails jobs whose lease expired before `now`, and repairs
    /// sources left `syncing` without a live job.
    async fn reap(&self, now: DateTime<Utc>, max_attempts: i64) -> StoreResult<ReapReport>;
    /// Documents of a source, by external id.
    async fn list_documents(&self, source_id: Uuid) -> StoreResult<Vec<Document>>;
    /// One job by id.
    async fn find_job(&self, job_id: Uuid) -> StoreResult<Option<SyncJob>>;

    /// The source's state and last job, if the source is in this knowledge
    /// base of this organization.
    async fn sync_state(
        &self,
        org_id: Uuid,
        kb_id: Uuid,
        source_id: Uuid,
    ) -> StoreResult<Option<SourceSyncState>>;

    /// Bulk-loads history for capacity tests and benchmarks: `sources` new
    /// `synthetic` sources in `kb_id` (named `"{prefix} #N"`, N from 1), each
    /// with `jobs_per_source` completed jobs an hour apart, the newest being
    /// its last job. One transaction; returns the new sources' ids in N order.
    async fn seed_history(
        &self,
        kb_id: Uuid,
        prefix: &str,
        sources: u64,
        jobs_per_source: u64,
    ) -> StoreResult<Vec<Uuid>>;

    /// Writes a consistent snapshot of the whole database to a new file at
    /// `path` while the store keeps serving (SQLite's `VACUUM INTO`); the
    /// snapshot's size in bytes. PostgreSQL answers `Invalid`: back it up
    /// with `pg_dump`.
    async fn backup(&self, path: &std::path::Path) -> StoreResult<u64>;

    /// Closes every connection; the store answers no more calls. On SQLite,
    /// closing the last connection checkpoints the WAL into the database
    /// file, so the file alone is then a complete copy.
    async fn close(&self);

    /// Jobs waiting in the queue, across every organization (metrics).
    async fn queued_jobs(&self) -> StoreResult<u64>;

    /// The connection pools' sizes now (metrics; no database call).
    fn pool_stats(&self) -> Vec<PoolStats>;

    /// What "acknowledged" means on this store (banner and metrics).
    fn durability(&self) -> Durability;
}

/// How many connections one pool holds, and how many of them are idle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// The pool's name (`writer`, `readers`, `inline`; `primary` and `status`
    /// on PostgreSQL).
    pub pool: &'static str,
    /// Connections open, idle or in use.
    pub open: usize,
    /// Connections open and idle.
    pub idle: usize,
}

/// Most sources one [`Store::seed_history`] call creates.
pub const MAX_SEED_SOURCES: u64 = 10_000_000;
/// Most jobs per source one [`Store::seed_history`] call creates.
pub const MAX_SEED_JOBS_PER_SOURCE: u64 = 100_000;

/// Checks [`Store::seed_history`]'s arguments and makes the new sources'
/// ids.
pub fn seed_ids(prefix: &str, sources: u64, jobs_per_source: u64) -> StoreResult<Vec<Uuid>> {
    if sources > MAX_SEED_SOURCES || jobs_per_source > MAX_SEED_JOBS_PER_SOURCE {
        return Err(StoreError::Invalid(format!(
            "at most {MAX_SEED_SOURCES} sources with {MAX_SEED_JOBS_PER_SOURCE} jobs each"
        )));
    }
    if prefix.trim().is_empty() {
        return Err(StoreError::Invalid(
            "the name prefix must not be empty".into(),
        ));
    }
    Ok((0..sources).map(|_| Uuid::new_v4()).collect())
}

/// Config of the sources [`Store::seed_history`] creates.
pub fn seed_config() -> serde_json::Value {
    serde_json::json!({ "items": SEED_ITEMS })
}

/// Items of every seeded job (and of the seeded sources' connector).
pub const SEED_ITEMS: i64 = 10;

/// SQLite's `synchronous` setting on the write connection (WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SqliteSynchronous {
    /// Every commit is flushed to disk (`fsync` of the WAL) before it is
    /// acknowledged: a power cut or OS crash loses nothing acknowledged.
    /// Group commit shares one flush among the writes waiting together.
    #[default]
    Full,
    /// Commits reach the OS but are flushed only at checkpoints: a process
    /// crash loses nothing, a power cut or OS crash loses the writes
    /// acknowledged since the last checkpoint.
    Normal,
}

impl SqliteSynchronous {
    /// The pragma value, and the name in the banner and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "full",
            SqliteSynchronous::Normal => "normal",
        }
    }
}

/// What "acknowledged" means on a store: the backend and the setting that
/// decides whether an acknowledged write survives a power cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Durability {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// `synchronous=full|normal` on SQLite; `synchronous_commit` (as the
    /// server left it; this server never lowers it) on PostgreSQL.
    pub setting: &'static str,
    /// Whether an acknowledged write survives a power cut.
    pub power_cut_safe: bool,
}

/// Settings of [`open_with`] beyond the URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// SQLite only: the most bytes the database may hold (rounded down to
    /// whole pages). Writes beyond it fail as on a full disk: requests answer
    /// 503 and nothing acknowledged is lost. `None`: as much as the disk holds.
    pub sqlite_max_bytes: Option<u64>,
    /// SQLite only: `synchronous` on the write connection.
    pub sqlite_synchronous: SqliteSynchronous,
    /// SQLite only: the name of a registered SQLite VFS every connection
    /// opens the file through (tests: a VFS that simulates power cuts).
    /// `None`: the default VFS.
    pub sqlite_vfs: Option<String>,
}

/// Opens (creating if needed) and migrates the database at `url`.
///
/// Accepted: `postgres://...` / `postgresql://...` (PostgreSQL),
/// `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:` or a plain file path
/// (SQLite).
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    open_with(url, &OpenOptions::default()).await
}

/// [`open`] with [`OpenOptions`].
pub async fn open_with(url: &str, options: &OpenOptions) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        if options.sqlite_max_bytes.is_some() {
            return Err(StoreError::Invalid(
                "a database size limit applies to SQLite only; PostgreSQL has its own quotas"
                    .into(),
            ));
        }
        if options.sqlite_synchronous != SqliteSynchronous::Full || options.sqlite_vfs.is_some() {
            return Err(StoreError::Invalid(
                "--sqlite-synchronous and a SQLite VFS apply to SQLite only; PostgreSQL \
                 commits durably (synchronous_commit)"
                    .into(),
            ));
        }
        return Ok(Arc::new(postgres::PgStore::open(url).await?));
    }
    if let Some((scheme, _)) = url.split_once("://")
        && scheme != "sqlite"
    {
        return Err(StoreError::Invalid(format!(
            "unsupported database URL scheme {scheme:?}: expected sqlite:PATH or a file path"
        )));
    }
    Ok(Arc::new(sqlite::SqliteStore::open(url, options).await?))
}

/// Checks a provider name and config before they reach the database.
pub fn validate_source(provider: &str, config: &serde_json::Value) -> StoreResult<()> {
    if !PROVIDERS.contains(&provider) {
        return Err(StoreError::Invalid(format!(
            "unknown provider {provider:?}; expected one of {}",
            PROVIDERS.join(", ")
        )));
    }
    if !config.is_object() {
        return Err(StoreError::Invalid(
            "a source config must be a JSON object".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::transient_code;

    #[test]
    fn full_disks_io_errors_and_lost_connections_are_transient() {
        // SQLite: BUSY, BUSY_SNAPSHOT, LOCKED, IOERR_WRITE, IOERR_FSYNC, FULL.
        for code in ["5", "517", "6", "778", "1034", "13"] {
            assert!(transient_code(code), "{code}");
        }
        // PostgreSQL: connection failure, disk_full, too_many_connections,
        // admin_shutdown, io_error.
        for code in ["08006", "53100", "53300", "57P01", "58030"] {
            assert!(transient_code(code), "{code}");
        }
        // A constraint violation is the request's fault, not the storage's:
        // SQLITE_CONSTRAINT_FOREIGNKEY, PostgreSQL unique_violation.
        for code in ["787", "19", "23505", "42P01"] {
            assert!(!transient_code(code), "{code}");
        }
    }
}
