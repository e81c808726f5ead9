//! Database ceilings: the server's own status query and trigger
//! transaction (`feather_server::store::sql`'s statements), run in a tight
//! loop straight against each database by N concurrent callers, with the
//! leanest client for each: rusqlite on SQLite (one connection and thread
//! per caller, prepared statements), tokio-postgres on PostgreSQL (one
//! connection per caller, prepared statements). What the database itself
//! can do for the work behind one request: the denominator of each server
//! row in BENCHMARKS.md.
//!
//! On PostgreSQL the trigger is measured both as a transaction of the two
//! statements (BEGIN, guarded UPDATE, INSERT, COMMIT: four round trips) and
//! as the one statement the server sends (`TRIGGER_ONE_STATEMENT`, a
//! data-modifying CTE that inserts only if the flip changed a row: one
//! round trip).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use feather_server::store::sql::{SYNC_STATE, TRIGGER_FLIP, TRIGGER_INSERT, TRIGGER_ONE_STATEMENT};
use serde::Serialize;
use uuid::Uuid;

use crate::{BenchError, Result};

/// One measured loop.
#[derive(Clone, Debug, Serialize)]
pub struct Ceiling {
    /// `status` or `trigger`.
    pub operation: String,
    /// How it was sent (`server's statements`, `one statement`, ...).
    pub variant: String,
    /// Concurrent callers.
    pub callers: usize,
    /// Operations completed.
    pub operations: u64,
    /// Seconds measured.
    pub seconds: f64,
    /// Operations per second.
    pub per_second: f64,
}

impl Ceiling {
    fn new(
        operation: &str,
        variant: &str,
        callers: usize,
        operations: u64,
        took: Duration,
    ) -> Self {
        let seconds = took.as_secs_f64();
        Ceiling {
            operation: operation.into(),
            variant: variant.into(),
            callers,
            operations,
            seconds,
            per_second: if seconds > 0.0 {
                operations as f64 / seconds
            } else {
                0.0
            },
        }
    }
}

/// The source whose status is read, and whose tenant it belongs to.
#[derive(Clone, Copy, Debug)]
pub struct StatusTarget {
    /// The organization.
    pub org_id: Uuid,
    /// The knowledge base.
    pub kb_id: Uuid,
    /// The source.
    pub source_id: Uuid,
}

/// Sources to trigger, each once, in a knowledge base of an organization.
#[derive(Clone, Debug)]
pub struct TriggerTargets {
    /// The organization.
    pub org_id: Uuid,
    /// The knowledge base.
    pub kb_id: Uuid,
    /// Sources at rest (each is flipped to `syncing` once).
    pub sources: Vec<Uuid>,
}

fn sqlite_time(t: chrono::DateTime<Utc>) -> String {
    // The SQLite dialect's own encoding of times.
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn sqlite_error(e: rusqlite::Error) -> BenchError {
    BenchError::Other(format!("SQLite: {e}"))
}

fn join_threads(handles: Vec<std::thread::JoinHandle<Result<u64>>>) -> Result<u64> {
    let mut total = 0;
    for handle in handles {
        total += handle
            .join()
            .map_err(|_| BenchError::Other("a ceiling thread panicked".into()))??;
    }
    Ok(total)
}

/// SQLite: the status query, `callers` threads for `duration`.
pub fn sqlite_status(
    path: &std::path::Path,
    target: StatusTarget,
    callers: usize,
    duration: Duration,
) -> Result<Ceiling> {
    let start = Instant::now();
    let deadline = start + duration;
    let handles = (0..callers)
        .map(|_| {
            let path = path.to_path_buf();
            std::thread::spawn(move || -> Result<u64> {
                let conn = rusqlite::Connection::open(&path).map_err(sqlite_error)?;
                conn.busy_timeout(Duration::from_secs(5))
                    .map_err(sqlite_error)?;
                // As the server's inline readers.
                conn.pragma_update(None, "query_only", true)
                    .map_err(sqlite_error)?;
                conn.pragma_update(None, "mmap_size", 1_i64 << 30)
                    .map_err(sqlite_error)?;
                let mut statement = conn.prepare(SYNC_STATE).map_err(sqlite_error)?;
                let (org, kb, source) = (
                    target.org_id.to_string(),
                    target.kb_id.to_string(),
                    target.source_id.to_string(),
                );
                let mut done = 0;
                while Instant::now() < deadline {
                    let mut rows = statement
                        .query(rusqlite::params![source, kb, org])
                        .map_err(sqlite_error)?;
                    let row = rows
                        .next()
                        .map_err(sqlite_error)?
                        .ok_or_else(|| BenchError::Other("the status row is missing".into()))?;
                    // Read every column, as the server does.
                    for column in 0..row.as_ref().column_count() {
                        let _: rusqlite::types::Value = row.get(column).map_err(sqlite_error)?;
                    }
                    done += 1;
                }
                Ok(done)
            })
        })
        .collect();
    let done = join_threads(handles)?;
    Ok(Ceiling::new(
        "status",
        "prepared query",
        callers,
        done,
        start.elapsed(),
    ))
}

/// SQLite: the trigger transaction (`BEGIN IMMEDIATE`, flip, insert,
/// `COMMIT`), `callers` threads for at most `duration`, each source once,
/// with `synchronous` (`FULL`: one durable transaction per trigger, an
/// fsync each, the denominator group commit must beat; `NORMAL`: flushed
/// only at checkpoints).
pub fn sqlite_trigger(
    path: &std::path::Path,
    targets: &TriggerTargets,
    callers: usize,
    duration: Duration,
    synchronous: &'static str,
) -> Result<Ceiling> {
    let start = Instant::now();
    let deadline = start + duration;
    let next = Arc::new(AtomicUsize::new(0));
    let targets = Arc::new(targets.clone());
    let handles = (0..callers)
        .map(|_| {
            let path = path.to_path_buf();
            let next = next.clone();
            let targets = targets.clone();
            std::thread::spawn(move || -> Result<u64> {
                let mut conn = rusqlite::Connection::open(&path).map_err(sqlite_error)?;
                // Callers take turns in SQLite's busy handler; with an fsync
                // per transaction one may wait long for its turn.
                conn.busy_timeout(Duration::from_secs(120))
                    .map_err(sqlite_error)?;
                conn.pragma_update(None, "synchronous", synchronous)
                    .map_err(sqlite_error)?;
                let (org, kb) = (targets.org_id.to_string(), targets.kb_id.to_string());
                let mut done = 0;
                while Instant::now() < deadline {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(source) = targets.sources.get(index) else {
                        break;
                    };
                    let (job, now) = (Uuid::new_v4().to_string(), sqlite_time(Utc::now()));
                    let source = source.to_string();
                    let tx = conn
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .map_err(sqlite_error)?;
                    let flipped = tx
                        .prepare_cached(TRIGGER_FLIP)
                        .and_then(|mut s| {
                            s.execute(rusqlite::params![
                                "syncing", job, now, source, kb, org, "active", "error"
                            ])
                        })
                        .map_err(sqlite_error)?;
                    if flipped != 1 {
                        return Err(BenchError::Other(format!("source {source} did not flip")));
                    }
                    tx.prepare_cached(TRIGGER_INSERT)
                        .and_then(|mut s| s.execute(rusqlite::params![job, source, "queued", now]))
                        .map_err(sqlite_error)?;
                    tx.commit().map_err(sqlite_error)?;
                    done += 1;
                }
                Ok(done)
            })
        })
        .collect();
    let done = join_threads(handles)?;
    let variant = if synchronous == "FULL" {
        "one transaction per trigger, synchronous=FULL"
    } else {
        "one transaction per trigger, synchronous=NORMAL"
    };
    Ok(Ceiling::new(
        "trigger",
        variant,
        callers,
        done,
        start.elapsed(),
    ))
}

fn pg_error(e: tokio_postgres::Error) -> BenchError {
    BenchError::Other(format!("PostgreSQL: {e}"))
}

async fn pg_connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(pg_error)?;
    tokio::spawn(connection);
    Ok(client)
}

async fn join_tasks(tasks: Vec<tokio::task::JoinHandle<Result<u64>>>) -> Result<u64> {
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total)
}

/// PostgreSQL: the status query, `callers` connections for `duration`.
pub async fn postgres_status(
    url: &str,
    target: StatusTarget,
    callers: usize,
    duration: Duration,
) -> Result<Ceiling> {
    let mut clients = Vec::new();
    for _ in 0..callers {
        clients.push(pg_connect(url).await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let tasks = clients
        .into_iter()
        .map(|client| {
            tokio::spawn(async move {
                let statement = client.prepare(SYNC_STATE).await.map_err(pg_error)?;
                let mut done = 0;
                while Instant::now() < deadline {
                    let row = client
                        .query_opt(
                            &statement,
                            &[&target.source_id, &target.kb_id, &target.org_id],
                        )
                        .await
                        .map_err(pg_error)?;
                    if row.is_none() {
                        return Err(BenchError::Other("the status row is missing".into()));
                    }
                    done += 1;
                }
                Ok(done)
            })
        })
        .collect();
    let done = join_tasks(tasks).await?;
    Ok(Ceiling::new(
        "status",
        "prepared query",
        callers,
        done,
        start.elapsed(),
    ))
}

/// How [`postgres_trigger`] sends a trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgTrigger {
    /// As a transaction: BEGIN, flip, insert, COMMIT (four round trips;
    /// what the server sent before it used one statement).
    ServerStatements,
    /// Flip and insert in one statement, autocommitted (one round trip).
    OneStatement,
}

/// PostgreSQL: triggers, `callers` connections for at most `duration`,
/// each source once.
pub async fn postgres_trigger(
    url: &str,
    targets: &TriggerTargets,
    callers: usize,
    duration: Duration,
    how: PgTrigger,
) -> Result<Ceiling> {
    let mut clients = Vec::new();
    for _ in 0..callers {
        clients.push(pg_connect(url).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let targets = Arc::new(targets.clone());
    let start = Instant::now();
    let deadline = start + duration;
    let tasks = clients
        .into_iter()
        .map(|mut client| {
            let next = next.clone();
            let targets = targets.clone();
            tokio::spawn(async move {
                let flip = client.prepare(TRIGGER_FLIP).await.map_err(pg_error)?;
                let insert = client.prepare(TRIGGER_INSERT).await.map_err(pg_error)?;
                let one = client
                    .prepare(TRIGGER_ONE_STATEMENT)
                    .await
                    .map_err(pg_error)?;
                let mut done = 0;
                while Instant::now() < deadline {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(source) = targets.sources.get(index) else {
                        break;
                    };
                    let (job, now) = (Uuid::new_v4(), Utc::now());
                    let flip_params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
                        &"syncing",
                        &job,
                        &now,
                        source,
                        &targets.kb_id,
                        &targets.org_id,
                        &"active",
                        &"error",
                    ];
                    let queued = match how {
                        PgTrigger::ServerStatements => {
                            let tx = client.transaction().await.map_err(pg_error)?;
                            let flipped =
                                tx.execute(&flip, &flip_params).await.map_err(pg_error)?;
                            if flipped == 1 {
                                tx.execute(&insert, &[&job, source, &"queued", &now])
                                    .await
                                    .map_err(pg_error)?;
                            }
                            tx.commit().await.map_err(pg_error)?;
                            flipped
                        }
                        PgTrigger::OneStatement => {
                            let mut params = flip_params.to_vec();
                            params.push(&"queued");
                            client.execute(&one, &params).await.map_err(pg_error)?
                        }
                    };
                    if queued != 1 {
                        return Err(BenchError::Other(format!("source {source} did not flip")));
                    }
                    done += 1;
                }
                Ok(done)
            })
        })
        .collect();
    let done = join_tasks(tasks).await?;
    let variant = match how {
        PgTrigger::ServerStatements => "transaction of two statements",
        PgTrigger::OneStatement => "one statement",
    };
    Ok(Ceiling::new(
        "trigger",
        variant,
        callers,
        done,
        start.elapsed(),
    ))
}
