//! The embedded SQLite store (the default).
//!
//! WAL mode so readers never wait for the writer, foreign keys on. Every
//! write of the process goes to one thread that owns the only write
//! connection ([`super::sqlite_writer`]: one writer, `synchronous=FULL` by
//! default, group commit); nothing else here takes SQLite's write lock, so
//! no write waits in SQLite's busy handler. Reads use a pool of eight sqlx
//! connections. The busy timeout still covers writers in other processes
//! (the admin commands). An in-memory database (tests) is one sqlx
//! connection for everything: there is no file another connection could
//! share, nor a power cut to survive.
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
    SqliteRow,
};
use sqlx::{Row, Sqlite};
use uuid::Uuid;

use super::sql::{
    self, Decision, Dialect, OwnedTx, Param, Query, ReadRow, Tx, Work, pool_stats, write_in_pool,
};
use super::sqlite_writer::{ValuesRow, Writer, WriterSettings};
use super::{
    Durability, PoolStats, SEED_ITEMS, SourceSyncState, SqliteSynchronous, StoreError, StoreResult,
    seed_config, seed_ids,
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
    /// Readers (in memory: the one connection, which also writes).
    pool: SqlitePool,
    /// The one writer (none in memory).
    writer: Option<Arc<Writer>>,
    /// The status read's inline connections (none for an in-memory
    /// database, which other connections cannot see).
    inline: Option<Arc<InlineReaders>>,
    /// `synchronous` on the write connection.
    synchronous: SqliteSynchronous,
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
    vfs: Option<String>,
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
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = open_rusqlite(&self.path, flags, self.vfs.as_deref())?;
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

/// A rusqlite connection to `path` through `vfs` (`None`: the default VFS).
pub(super) fn open_rusqlite(
    path: &std::path::Path,
    flags: rusqlite::OpenFlags,
    vfs: Option<&str>,
) -> StoreResult<rusqlite::Connection> {
    Ok(match vfs {
        Some(vfs) => rusqlite::Connection::open_with_flags_and_vfs(path, flags, vfs)?,
        None => rusqlite::Connection::open_with_flags(path, flags)?,
    })
}

/// A parameter as rusqlite binds it, in the same storage format as [`bind`].
pub(super) fn value(param: Param) -> rusqlite::types::Value {
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
        let synchronous = open_options.sqlite_synchronous;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                SqliteSynchronous::Full => sqlx::sqlite::SqliteSynchronous::Full,
                SqliteSynchronous::Normal => sqlx::sqlite::SqliteSynchronous::Normal,
            })
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let options = match &open_options.sqlite_vfs {
            Some(vfs) => options.vfs(vfs.clone()),
            None => options,
        };
        // A size limit is SQLite's max_page_count, set on every connection.
        let max_pages = open_options
            .sqlite_max_bytes
            .map(|bytes| (bytes / PAGE_SIZE).max(1));
        let options = match max_pages {
            Some(pages) => options.pragma("max_page_count", pages.to_string()),
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
        let migrations = pool_of(1).await?;
        MIGRATOR.run(&migrations).await?;
        if in_memory {
            // An in-memory database exists once per connection: keep one.
            return Ok(SqliteStore {
                pool: migrations,
                writer: None,
                inline: None,
                synchronous,
            });
        }
        // From here on the writer thread is the only connection that writes.
        migrations.close().await;
        let path = options.get_filename().to_path_buf();
        let writer = Writer::start(WriterSettings {
            path: path.clone(),
            vfs: open_options.sqlite_vfs.clone(),
            synchronous,
            max_page_count: max_pages,
            busy_timeout: BUSY_TIMEOUT,
        })?;
        let inline = InlineReaders {
            path,
            vfs: open_options.sqlite_vfs.clone(),
            idle: Mutex::new(Vec::new()),
            in_use: AtomicUsize::new(0),
        };
        Ok(SqliteStore {
            pool: pool_of(8).await?,
            writer: Some(Arc::new(writer)),
            inline: Some(Arc::new(inline)),
            synchronous,
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
read_sqlite_row!(ValuesRow, get);

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

impl Tx for OwnedTx<Sqlite> {
    type Row = SqliteRow;

    async fn execute(&mut self, query: Query) -> StoreResult<u64> {
        let prepared = prepare(&query.sql, query.params);
        Ok(prepared.execute(self.conn()?).await?.rows_affected())
    }

    async fn fetch_all(&mut self, query: Query) -> StoreResult<Vec<SqliteRow>> {
        let prepared = prepare(&query.sql, query.params);
        Ok(prepared.fetch_all(self.conn()?).await?)
    }
}

impl Dialect for SqliteStore {
    type Row = SqliteRow;

    fn latest_migration() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    // One writer serializes claims; the outer `status = 'queued'` re-check
    // keeps the statement correct on its own.
    const CLAIM_LOCK: &'static str = "";

    fn in_text_list(column: &str, param: usize) -> String {
        format!("{column} IN (SELECT value FROM json_each(${param}))")
    }

    async fn fetch_all(&self, query: Query) -> StoreResult<Vec<SqliteRow>> {
        let prepared = prepare(&query.sql, query.params);
        Ok(prepared.fetch_all(&self.pool).await?)
    }

    async fn write<W: Work>(&self, work: W) -> StoreResult<W::Output> {
        match &self.writer {
            Some(writer) => writer.write(work).await,
            None => write_in_pool(&self.pool, work).await,
        }
    }

    fn durability(&self) -> Durability {
        Durability {
            backend: "sqlite",
            setting: match self.synchronous {
                SqliteSynchronous::Full => "synchronous=full",
                SqliteSynchronous::Normal => "synchronous=normal",
            },
            power_cut_safe: self.synchronous == SqliteSynchronous::Full,
        }
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
        let jobs_per_source =
            i64::try_from(jobs_per_source).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.write(SeedHistory {
            kb_id,
            prefix: prefix.to_owned(),
            ids,
            jobs_per_source,
        })
        .await
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

    async fn close(&self) {
        // The writer finishes what was sent, checkpoints the WAL into the
        // database file and closes the only write connection.
        if let Some(writer) = &self.writer {
            writer.close();
        }
        if let Some(inline) = &self.inline
            && let Ok(mut idle) = inline.idle.lock()
        {
            idle.clear();
        }
        self.pool.close().await;
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        let (Some(inline), Some(writer)) = (&self.inline, &self.writer) else {
            // In memory: one pool serves reads and writes.
            return vec![pool_stats("writer", &self.pool)];
        };
        let idle = inline.idle.lock().map(|idle| idle.len()).unwrap_or(0);
        let writing = writer.stats().busy.load(Ordering::Relaxed);
        vec![
            PoolStats {
                pool: "writer",
                open: 1,
                idle: usize::from(!writing),
            },
            pool_stats("readers", &self.pool),
            PoolStats {
                pool: "inline",
                open: idle + inline.in_use.load(Ordering::Relaxed),
                idle,
            },
        ]
    }
}

/// [`Store::seed_history`](super::Store::seed_history) on SQLite: sources,
/// their completed jobs and their `last_job_id`, in three statements.
struct SeedHistory {
    kb_id: Uuid,
    prefix: String,
    ids: Vec<Uuid>,
    jobs_per_source: i64,
}

impl Work for SeedHistory {
    type Output = Vec<Uuid>;

    fn bulk(&self) -> bool {
        true
    }

    async fn run<T: Tx>(self, tx: &mut T) -> StoreResult<Decision<Vec<Uuid>>> {
        // A JSON array of ids is one parameter, however many sources.
        let ids_json =
            serde_json::Value::from(self.ids.iter().map(Uuid::to_string).collect::<Vec<_>>());
        let now = Utc::now();
        let insert_sources = Query::new(
            "INSERT INTO sources (id, kb_id, name, provider, config, status, created_at, updated_at) \
             SELECT j.value, k.id, $1 || ' #' || (j.key + 1), 'synthetic', $2, $6, $3, $3 \
             FROM json_each($4) AS j, knowledge_bases AS k WHERE k.id = $5",
        )
        .text(&self.prefix)
        .json(&seed_config())
        .time(now)
        .json(&ids_json)
        .id(self.kb_id)
        .source_status(SourceStatus::Active);
        if tx.execute(insert_sources).await? != self.ids.len() as u64 {
            return Err(StoreError::Invalid(format!(
                "no knowledge base {}",
                self.kb_id
            )));
        }
        // Job k of a source (k = 1 is the newest) was created k hours ago
        // and took a minute. Ids are random version-4 UUIDs made in SQL.
        let insert_jobs = Query::new(
            "WITH RECURSIVE n(k) AS (SELECT 1 WHERE $1 > 0 UNION ALL SELECT k + 1 FROM n WHERE k < $1) \
             INSERT INTO sync_jobs (id, source_id, status, total_items, processed_count, \
                                    failed_count, attempts, created_at, started_at, completed_at) \
             SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' \
                    || substr(lower(hex(randomblob(2))), 2) || '-' \
                    || substr('89ab', 1 + abs(random() % 4), 1) \
                    || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))), \
                    s.value, $5, $2, $2, 0, 1, \
                    strftime('%Y-%m-%dT%H:%M:%S', $3, '-' || n.k || ' hours') || '.000000Z', \
                    strftime('%Y-%m-%dT%H:%M:%S', $3, '-' || n.k || ' hours') || '.000000Z', \
                    strftime('%Y-%m-%dT%H:%M:%S', $3, '-' || n.k || ' hours', '+1 minutes') || '.000000Z' \
             FROM json_each($4) AS s, n",
        )
        .int(self.jobs_per_source)
        .int(SEED_ITEMS)
        .text(now.format("%Y-%m-%d %H:%M:%S").to_string())
        .json(&ids_json)
        .job_status(JobStatus::Completed);
        tx.execute(insert_jobs).await?;
        let last_jobs = Query::new(
            "UPDATE sources SET last_job_id = \
                 (SELECT j.id FROM sync_jobs j WHERE j.source_id = sources.id \
                  ORDER BY j.created_at DESC LIMIT 1) \
             WHERE id IN (SELECT value FROM json_each($1))",
        )
        .json(&ids_json);
        tx.execute(last_jobs).await?;
        Ok(Decision::Commit(self.ids))
    }
}
