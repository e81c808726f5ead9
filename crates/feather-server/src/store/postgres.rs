//! The PostgreSQL store: several `feather-server` replicas on one database.
//!
//! The queries are the shared ones of [`super::sql`]; what this module adds
//! is the connection pool, native types (UUID, TIMESTAMPTZ, JSONB, arrays)
//! and how concurrency is made safe across processes, with no in-process
//! lock doing the work:
//! - the trigger's guarded `UPDATE` runs in READ COMMITTED: a concurrent
//!   trigger waits for the row lock, then re-checks the source's status
//!   against the committed row and matches nothing;
//! - workers claim with `FOR UPDATE SKIP LOCKED`, so each queued job is taken
//!   by exactly one replica;
//! - the reaper's updates are guarded by the lease and status they read, so
//!   every replica may run it at once.
//!
//! A database that goes away makes requests fail after the pool's acquire
//! timeout with 503; the pool reconnects by itself when it returns.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use feather_api::{JobStatus, SourceStatus};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row};
use uuid::Uuid;

use super::pg_status::StatusReaders;
use super::sql::{Dialect, OwnedTx, Param, Query, ReadRow, Tx, Work, pool_stats, write_in_pool};
use super::{
    Durability, PoolStats, SEED_ITEMS, SourceSyncState, StoreError, StoreResult, seed_config,
    seed_ids,
};

/// How long a request waits for a connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections per server. Measured on 2 cores (`cargo xtask bench`): 8
/// gave the same status throughput as 16 with a lower p99 (about 7.5 ms
/// against 9.5 ms at 64 HTTP connections); more backends only add context
/// switches when every query is a short indexed lookup.
const MAX_CONNECTIONS: u32 = 8;
/// A pooled connection idle for longer than this is pinged before it is
/// handed out (one that was just returned is known to be alive: the pool
/// pings every connection when it is released).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// The schema migrations, embedded.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL implementation of [`super::Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The server's `synchronous_commit`, read at open.
    synchronous_commit: &'static str,
    /// GET status's own connections (`None`: the URL has an option only
    /// sqlx reads, and the status read uses `pool`).
    status: Option<Arc<StatusReaders>>,
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
        MIGRATOR.run(&pool).await?;
        let setting: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(&pool)
            .await?;
        // This server never changes it; an operator may have lowered it.
        let synchronous_commit = match setting.as_str() {
            "on" => "synchronous_commit=on",
            "remote_apply" => "synchronous_commit=remote_apply",
            "remote_write" => "synchronous_commit=remote_write",
            "local" => "synchronous_commit=local",
            "off" => "synchronous_commit=off",
            _ => "synchronous_commit=unknown",
        };
        let status = StatusReaders::new(url).map(Arc::new);
        Ok(PgStore {
            pool,
            synchronous_commit,
            status,
        })
    }
}

impl ReadRow for PgRow {
    fn text(&self, column: &str) -> StoreResult<String> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> StoreResult<i64> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get(column)?)
    }
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        Ok(self.try_get(column)?)
    }
    fn uuid(&self, column: &str) -> StoreResult<Uuid> {
        Ok(self.try_get(column)?)
    }
    fn opt_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        Ok(self.try_get(column)?)
    }
    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        Ok(self.try_get(column)?)
    }
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.try_get(column)?)
    }
    fn json(&self, column: &str) -> StoreResult<serde_json::Value> {
        Ok(self.try_get(column)?)
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// Binds a parameter as PostgreSQL's native type.
fn bind(query: PgQuery<'_>, param: Param) -> PgQuery<'_> {
    match param {
        Param::Id(id) => query.bind(id),
        Param::OptId(id) => query.bind(id),
        Param::Time(t) => query.bind(t),
        Param::OptTime(t) => query.bind(t),
        Param::Text(text) => query.bind(text),
        Param::OptText(text) => query.bind(text),
        Param::Int(value) => query.bind(value),
        Param::OptInt(value) => query.bind(value),
        Param::Bytes(bytes) => query.bind(bytes),
        Param::Json(value) => query.bind(value),
        Param::Texts(texts) => query.bind(texts),
    }
}

/// The statement `sql` with `params` bound (moved, not copied).
fn prepare(sql: &str, params: Vec<Param>) -> PgQuery<'_> {
    params.into_iter().fold(sqlx::query(sql), bind)
}

impl Tx for OwnedTx<Postgres> {
    type Row = PgRow;

    async fn execute(&mut self, query: Query) -> StoreResult<u64> {
        let prepared = prepare(&query.sql, query.params);
        Ok(prepared.execute(self.conn()?).await?.rows_affected())
    }

    async fn fetch_all(&mut self, query: Query) -> StoreResult<Vec<PgRow>> {
        let prepared = prepare(&query.sql, query.params);
        Ok(prepared.fetch_all(self.conn()?).await?)
    }
}

impl Dialect for PgStore {
    type Row = PgRow;

    fn latest_migration() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    const CLAIM_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";

    fn in_text_list(column: &str, param: usize) -> String {
        format!("{column} = ANY(${param})")
    }

    async fn fetch_all(&self, query: Query) -> StoreResult<Vec<PgRow>> {
        let prepared = prepare(&query.sql, query.params);
        Ok(prepared.fetch_all(&self.pool).await?)
    }

    async fn write<W: Work>(&self, work: W) -> StoreResult<W::Output> {
        write_in_pool(&self.pool, work).await
    }

    /// Autocommitted: one round trip instead of three.
    async fn execute_write(&self, query: Query) -> StoreResult<u64> {
        let prepared = prepare(&query.sql, query.params);
        Ok(prepared.execute(&self.pool).await?.rows_affected())
    }

    /// One statement, autocommitted: one round trip instead of four
    /// (BEGIN, flip, insert, COMMIT). Under READ COMMITTED its UPDATE waits
    /// for a concurrent trigger's row lock and re-checks the status, as the
    /// two-statement transaction did; the deferred foreign key on
    /// `sources.last_job_id` is checked at the statement's commit.
    async fn flip_and_insert(&self, writes: super::sql::TriggerWrites) -> StoreResult<bool> {
        Ok(self.execute_write(writes.combined).await? == 1)
    }

    fn durability(&self) -> Durability {
        Durability {
            backend: "postgres",
            setting: self.synchronous_commit,
            power_cut_safe: self.synchronous_commit != "synchronous_commit=off",
        }
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
        let mut tx = OwnedTx::begin(&self.pool).await?;
        let inserted = sqlx::query(
            "INSERT INTO sources (id, kb_id, name, provider, config, status, created_at, updated_at) \
             SELECT u.id, k.id, $1 || ' #' || u.n, 'synthetic', $2, $6, $3, $3 \
             FROM unnest($4::uuid[]) WITH ORDINALITY AS u(id, n), knowledge_bases AS k \
             WHERE k.id = $5",
        )
        .bind(prefix)
        .bind(seed_config())
        .bind(now)
        .bind(&ids)
        .bind(kb_id)
        .bind(SourceStatus::Active.as_str())
        .execute(tx.conn()?)
        .await?;
        if inserted.rows_affected() != sources {
            return Err(StoreError::Invalid(format!("no knowledge base {kb_id}")));
        }
        // Job k of a source (k = 1 is the newest) was created k hours ago
        // and took a minute.
        sqlx::query(
            "INSERT INTO sync_jobs (id, source_id, status, total_items, processed_count, \
                                    failed_count, attempts, created_at, started_at, completed_at) \
             SELECT gen_random_uuid(), s.id, $5, $2, $2, 0, 1, \
                    $3 - make_interval(hours => k), $3 - make_interval(hours => k), \
                    $3 - make_interval(hours => k) + interval '1 minute' \
             FROM unnest($1::uuid[]) AS s(id), generate_series(1, $4) AS k",
        )
        .bind(&ids)
        .bind(SEED_ITEMS)
        .bind(now)
        .bind(i32::try_from(jobs_per_source).map_err(|e| StoreError::Invalid(e.to_string()))?)
        .bind(JobStatus::Completed.as_str())
        .execute(tx.conn()?)
        .await?;
        sqlx::query(
            "UPDATE sources SET last_job_id = \
                 (SELECT j.id FROM sync_jobs j WHERE j.source_id = sources.id \
                  ORDER BY j.created_at DESC LIMIT 1) \
             WHERE id = ANY($1)",
        )
        .bind(&ids)
        .execute(tx.conn()?)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn backup(&self, _path: &std::path::Path) -> StoreResult<u64> {
        Err(StoreError::Invalid(
            "backups of a PostgreSQL database are pg_dump's job (see README)".into(),
        ))
    }

    async fn sync_state_direct(
        &self,
        org_id: Uuid,
        kb_id: Uuid,
        source_id: Uuid,
    ) -> Option<StoreResult<Option<SourceSyncState>>> {
        let status = self.status.as_ref()?;
        Some(status.sync_state(org_id, kb_id, source_id).await)
    }

    async fn close(&self) {
        if let Some(status) = &self.status {
            status.close();
        }
        self.pool.close().await;
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        let mut stats = vec![pool_stats("primary", &self.pool)];
        stats.extend(self.status.as_ref().map(|status| status.pool_stats()));
        stats
    }
}
