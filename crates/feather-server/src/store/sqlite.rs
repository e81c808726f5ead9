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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use feather_api::{JobStatus, SourceStatus};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite};
use uuid::Uuid;

use super::sql::{self, Dialect, On, OwnedTx, Param, Query, ReadRow, pool_stats};
use super::{
    PoolStats, SEED_ITEMS, SourceSyncState, StoreError, StoreResult, seed_config, seed_ids,
};

/// How long a statement waits for the write lock before the request fails
/// with 503.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema migrations, embedded.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite's page size here (its default, which the schema never changes).
const PAGE_SIZE: u64 = 4096;

/// The SQLite implementation of [`super::Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers.
    pool: SqlitePool,
    /// The one writer connection (the same pool as `pool` in memory).
    writer: SqlitePool,
    /// The trigger's transaction in one hop (none in memory).
    triggers: Option<Arc<TriggerWriter>>,
    /// The status read's inline connections (none for an in-memory
    /// database, which other connections cannot see).
    inline: Option<Arc<InlineReaders>>,
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
    /// Connections taken out of `idle` (or opened) and reading now.
    in_use: AtomicUsize,
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
        self.in_use.fetch_add(1, Ordering::Relaxed);
        let result = read(&conn);
        self.in_use.fetch_sub(1, Ordering::Relaxed);
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

/// A trigger's two statements, sent to [`TriggerWriter`]'s thread.
struct TriggerWrite {
    flip: Query,
    insert: Query,
    done: tokio::sync::oneshot::Sender<StoreResult<bool>>,
}

/// A thread with its own rusqlite connection that runs each trigger's whole
/// transaction (`BEGIN IMMEDIATE`, flip, insert, `COMMIT`) in one hop from
/// the runtime, instead of four hops to sqlx's worker (begin, flip, insert,
/// commit). It takes SQLite's write lock like any writer (the busy timeout
/// orders it with the sqlx writer). A connection left inside a transaction
/// by a failure (a full disk failing the commit) is rolled back, and
/// replaced if that fails, never reused half-open.
#[derive(Debug)]
struct TriggerWriter {
    send: Mutex<Option<std::sync::mpsc::Sender<TriggerWrite>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl TriggerWriter {
    fn start(path: PathBuf, max_page_count: Option<u64>) -> StoreResult<Self> {
        let open = move || -> StoreResult<rusqlite::Connection> {
            let conn = rusqlite::Connection::open(&path)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", true)?;
            if let Some(pages) = max_page_count {
                conn.pragma_update(None, "max_page_count", pages)?;
            }
            Ok(conn)
        };
        let mut conn = Some(open()?);
        let (send, receive) = std::sync::mpsc::channel::<TriggerWrite>();
        let thread = std::thread::Builder::new()
            .name("feather-sqlite-triggers".into())
            .spawn(move || {
                for write in receive {
                    // A connection dropped after a failure is reopened for
                    // the next trigger; until that works, triggers get 503.
                    let current = match conn.take() {
                        Some(current) => Ok(current),
                        None => open(),
                    };
                    let mut current = match current {
                        Ok(current) => current,
                        Err(e) => {
                            let _ = write.done.send(Err(e));
                            continue;
                        }
                    };
                    let result = run_trigger(&mut current, write.flip, write.insert);
                    // Still inside a transaction after a failure: roll
                    // back, or drop the connection; never reuse it half-open.
                    if current.is_autocommit() || current.execute_batch("ROLLBACK").is_ok() {
                        conn = Some(current);
                    }
                    let _ = write.done.send(result);
                }
            })
            .map_err(|e| {
                StoreError::unavailable(format!("cannot start the trigger writer: {e}"))
            })?;
        Ok(TriggerWriter {
            send: Mutex::new(Some(send)),
            thread: Mutex::new(Some(thread)),
        })
    }

    async fn run(&self, flip: Query, insert: Query) -> StoreResult<bool> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let sent = self.send.lock().ok().and_then(|send| {
            send.as_ref()
                .map(|s| s.send(TriggerWrite { flip, insert, done }))
        });
        match sent {
            Some(Ok(())) => {}
            _ => return Err(StoreError::unavailable("the store is closed")),
        }
        answer
            .await
            .map_err(|_| StoreError::unavailable("the trigger writer stopped"))?
    }

    /// Stops the thread after the writes already sent, closing its
    /// connection.
    fn close(&self) {
        if let Ok(mut send) = self.send.lock() {
            send.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// One trigger's transaction on `conn`.
fn run_trigger(conn: &mut rusqlite::Connection, flip: Query, insert: Query) -> StoreResult<bool> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let flipped = tx
        .prepare_cached(&flip.sql)?
        .execute(rusqlite::params_from_iter(
            flip.params.into_iter().map(value),
        ))?;
    if flipped != 1 {
        tx.rollback()?;
        return Ok(false);
    }
    tx.prepare_cached(&insert.sql)?
        .execute(rusqlite::params_from_iter(
            insert.params.into_iter().map(value),
        ))?;
    tx.commit()?;
    Ok(true)
}

/// A parameter as rusqlite binds it, in the same storage format as [`bind`].
fn value(param: Param) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    let text = |t: Option<String>| t.map_or(Value::Null, Value::Text);
    match param {
        Param::Id(id) => Value::Text(id.to_string()),
        Param::OptId(id) => text(id.map(|id| id.to_string())),
        Param::Time(t) => Value::Text(ts(t)),
        Param::OptTime(t) => text(t.map(ts)),
        Param::Text(t) => Value::Text(t),
        Param::OptText(t) => text(t),
        Param::Int(v) => Value::Integer(v),
        Param::OptInt(v) => v.map_or(Value::Null, Value::Integer),
        Param::Bytes(b) => Value::Blob(b),
        Param::Json(v) => Value::Text(v.to_string()),
        Param::Texts(texts) => Value::Text(serde_json::Value::from(texts).to_string()),
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(
                rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
                | rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::DiskFull,
            ) => StoreError::unavailable_from(e),
            _ => StoreError::database_from(e),
        }
    }
}

impl SqliteStore {
    /// Opens the database at `url` (see [`super::open`]) and migrates it.
    pub async fn open(url: &str, open_options: &super::OpenOptions) -> StoreResult<Self> {
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
        // A size limit is SQLite's max_page_count, set on every connection.
        let options = match open_options.sqlite_max_bytes {
            Some(bytes) => options.pragma("max_page_count", (bytes / PAGE_SIZE).max(1).to_string()),
            None => options,
        };
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
        MIGRATOR.run(&writer).await?;
        // An in-memory database exists once per connection: keep one.
        let (pool, inline, triggers) = if in_memory {
            (writer.clone(), None, None)
        } else {
            let path = options.get_filename().to_path_buf();
            let inline = InlineReaders {
                path: path.clone(),
                idle: Mutex::new(Vec::new()),
                in_use: AtomicUsize::new(0),
            };
            let max_pages = open_options
                .sqlite_max_bytes
                .map(|bytes| (bytes / PAGE_SIZE).max(1));
            let triggers = Arc::new(TriggerWriter::start(path, max_pages)?);
            (pool_of(8).await?, Some(Arc::new(inline)), Some(triggers))
        };
        Ok(SqliteStore {
            pool,
            writer,
            triggers,
            inline,
        })
    }
}

/// A timestamp as stored.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(column: &str, text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::corrupt(&format!("{column} {text:?}"), e))
}

fn parse_uuid(column: &str, text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::corrupt(&format!("{column} {text:?}"), e))
}

fn parse_json(column: &str, text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(column, e))
}

/// Column access on SQLite's storage classes: text and integers are read by
/// the driver, ids, times and JSON are parsed from text here, the same way
/// for sqlx and rusqlite rows.
macro_rules! read_sqlite_row {
    ($row:ty, $get:ident) => {
        impl ReadRow for $row {
            fn text(&self, column: &str) -> StoreResult<String> {
                Ok(self.$get::<_, String>(column)?)
            }
            fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
                Ok(self.$get::<_, Option<String>>(column)?)
            }
            fn int(&self, column: &str) -> StoreResult<i64> {
                Ok(self.$get::<_, i64>(column)?)
            }
            fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
                Ok(self.$get::<_, Option<i64>>(column)?)
            }
            fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
                Ok(self.$get::<_, Vec<u8>>(column)?)
            }
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
            fn json(&self, column: &str) -> StoreResult<serde_json::Value> {
                parse_json(column, &self.text(column)?)
            }
        }
    };
}

/// `Row::try_get` with the type first, as rusqlite's `get` takes it.
trait TryGetFirst {
    fn try_get_first<I, T>(&self, column: I) -> Result<T, sqlx::Error>
    where
        I: sqlx::ColumnIndex<SqliteRow>,
        T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>;
}

impl TryGetFirst for SqliteRow {
    fn try_get_first<I, T>(&self, column: I) -> Result<T, sqlx::Error>
    where
        I: sqlx::ColumnIndex<SqliteRow>,
        T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
    {
        self.try_get(column)
    }
}

read_sqlite_row!(SqliteRow, try_get_first);
read_sqlite_row!(rusqlite::Row<'_>, get);

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// Binds a parameter in SQLite's storage format: ids as hyphenated text,
/// times as RFC 3339 UTC text with microseconds, JSON and lists as JSON text.
fn bind(query: SqliteQuery<'_>, param: Param) -> SqliteQuery<'_> {
    match param {
        Param::Id(id) => query.bind(id.to_string()),
        Param::OptId(id) => query.bind(id.map(|id| id.to_string())),
        Param::Time(t) => query.bind(ts(t)),
        Param::OptTime(t) => query.bind(t.map(ts)),
        Param::Text(text) => query.bind(text),
        Param::OptText(text) => query.bind(text),
        Param::Int(value) => query.bind(value),
        Param::OptInt(value) => query.bind(value),
        Param::Bytes(bytes) => query.bind(bytes),
        Param::Json(value) => query.bind(value.to_string()),
        Param::Texts(texts) => query.bind(serde_json::Value::from(texts).to_string()),
    }
}

/// The statement `sql` with `params` bound (moved, not copied).
fn prepare(sql: &str, params: Vec<Param>) -> SqliteQuery<'_> {
    params.into_iter().fold(sqlx::query(sql), bind)
}

impl Dialect for SqliteStore {
    type Row = SqliteRow;
    type Tx = OwnedTx<Sqlite>;

    // One writer connection serializes claims; the outer `status = 'queued'`
    // re-check keeps the statement correct on its own.
    fn latest_migration() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    const CLAIM_LOCK: &'static str = "";

    fn in_text_list(column: &str, param: usize) -> String {
        format!("{column} IN (SELECT value FROM json_each(${param}))")
    }

    async fn begin(&self) -> StoreResult<Self::Tx> {
        OwnedTx::begin(&self.writer).await
    }

    async fn commit(tx: Self::Tx) -> StoreResult<()> {
        tx.commit().await
    }

    async fn rollback(tx: Self::Tx) -> StoreResult<()> {
        tx.rollback().await
    }

    async fn execute(&self, on: On<'_, Self::Tx>, query: Query) -> StoreResult<u64> {
        let prepared = prepare(&query.sql, query.params);
        let done = match on {
            On::Read => prepared.execute(&self.pool).await?,
            On::Write => prepared.execute(&self.writer).await?,
            On::Tx(tx) => prepared.execute(tx.conn()?).await?,
        };
        Ok(done.rows_affected())
    }

    async fn fetch_all(&self, on: On<'_, Self::Tx>, query: Query) -> StoreResult<Vec<SqliteRow>> {
        let prepared = prepare(&query.sql, query.params);
        Ok(match on {
            On::Read => prepared.fetch_all(&self.pool).await?,
            On::Write => prepared.fetch_all(&self.writer).await?,
            On::Tx(tx) => prepared.fetch_all(tx.conn()?).await?,
        })
    }

    async fn sync_state_direct(
        &self,
        org_id: Uuid,
        kb_id: Uuid,
        source_id: Uuid,
    ) -> Option<StoreResult<Option<SourceSyncState>>> {
        let inline = self.inline.as_ref()?;
        let read = inline.with(|conn| {
            let mut statement = conn.prepare_cached(sql::SYNC_STATE)?;
            let mut rows = statement.query(rusqlite::named_params! {
                "$1": source_id.to_string(),
                "$2": kb_id.to_string(),
                "$3": org_id.to_string(),
            })?;
            rows.next()?.map(sql::sync_state).transpose()
        });
        match read {
            // Busy: wait in the pool instead.
            Err(StoreError::Unavailable { .. }) => None,
            done => Some(done),
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
        // A JSON array of ids is one parameter, however many sources.
        let ids_json = serde_json::Value::from(ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
            .to_string();
        let now = Utc::now();
        let mut tx = OwnedTx::begin(&self.writer).await?;
        let inserted = sqlx::query(
            "INSERT INTO sources (id, kb_id, name, provider, config, status, created_at, updated_at) \
             SELECT j.value, k.id, ?1 || ' #' || (j.key + 1), 'synthetic', ?2, ?6, ?3, ?3 \
             FROM json_each(?4) AS j, knowledge_bases AS k WHERE k.id = ?5",
        )
        .bind(prefix)
        .bind(seed_config().to_string())
        .bind(ts(now))
        .bind(&ids_json)
        .bind(kb_id.to_string())
        .bind(SourceStatus::Active.as_str())
        .execute(tx.conn()?)
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
                    s.value, ?5, ?2, ?2, 0, 1, \
                    strftime('%Y-%m-%dT%H:%M:%S', ?3, '-' || n.k || ' hours') || '.000000Z', \
                    strftime('%Y-%m-%dT%H:%M:%S', ?3, '-' || n.k || ' hours') || '.000000Z', \
                    strftime('%Y-%m-%dT%H:%M:%S', ?3, '-' || n.k || ' hours', '+1 minutes') || '.000000Z' \
             FROM json_each(?4) AS s, n",
        )
        .bind(i64::try_from(jobs_per_source).map_err(|e| StoreError::Invalid(e.to_string()))?)
        .bind(SEED_ITEMS)
        .bind(now.format("%Y-%m-%d %H:%M:%S").to_string())
        .bind(&ids_json)
        .bind(JobStatus::Completed.as_str())
        .execute(tx.conn()?)
        .await?;
        sqlx::query(
            "UPDATE sources SET last_job_id = \
                 (SELECT j.id FROM sync_jobs j WHERE j.source_id = sources.id \
                  ORDER BY j.created_at DESC LIMIT 1) \
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(&ids_json)
        .execute(tx.conn()?)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn backup(&self, path: &std::path::Path) -> StoreResult<u64> {
        if path.exists() {
            return Err(StoreError::Invalid(format!(
                "{} exists already; a backup is written to a new file",
                path.display()
            )));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", path.display())))?;
        // One read transaction: the copy is the database as of its start,
        // while writers go on (WAL readers never block them).
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await?;
        let bytes = std::fs::metadata(path)
            .map_err(StoreError::database_from)?
            .len();
        Ok(bytes)
    }

    async fn flip_and_insert(&self, writes: sql::TriggerWrites) -> StoreResult<bool> {
        // SQLite has no data-modifying CTE: the two statements, in one hop.
        match &self.triggers {
            Some(triggers) => triggers.run(writes.flip, writes.insert).await,
            None => sql::flip_then_insert(self, writes.flip, writes.insert).await,
        }
    }

    async fn close(&self) {
        if let Some(triggers) = &self.triggers {
            triggers.close();
        }
        // Copy every page of the WAL into the database file and empty the
        // WAL, so the file alone is complete even if another process still
        // holds the database open (SQLite checkpoints on the last close
        // only). Best effort: a busy reader makes it partial, not wrong.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await;
        if let Some(inline) = &self.inline
            && let Ok(mut idle) = inline.idle.lock()
        {
            idle.clear();
        }
        self.pool.close().await;
        self.writer.close().await;
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        let Some(inline) = &self.inline else {
            // In memory: one pool serves reads and writes.
            return vec![pool_stats("writer", &self.writer)];
        };
        let idle = inline.idle.lock().map(|idle| idle.len()).unwrap_or(0);
        vec![
            pool_stats("writer", &self.writer),
            pool_stats("readers", &self.pool),
            PoolStats {
                pool: "inline",
                open: idle + inline.in_use.load(Ordering::Relaxed),
                idle,
            },
        ]
    }
}
