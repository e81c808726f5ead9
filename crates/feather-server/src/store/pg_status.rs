//! PostgreSQL's status read: a few connections of its own, each reading the
//! status of every request waiting for it in one statement.
//!
//! GET status is the hot read. Through sqlx's pool each read costs a pool
//! checkout and return and sqlx's per-query overhead, and PostgreSQL spends
//! about 40 µs of CPU per statement on this kind of lookup (protocol,
//! snapshot, executor start and end) of which the three index probes are a
//! small part (`cargo xtask bench`, 2 cores). Here the reads go to
//! [`CONNECTIONS`] tokio-postgres connections, each owned by a task that
//! takes every read queued for it and answers them with one statement
//! ([`sql::SYNC_STATE_MANY`]; a single read uses [`sql::SYNC_STATE`]). The
//! more requests wait, the fewer statements per request; a read never waits
//! for a timer, only for the statement before it. Each read still sees
//! every write committed before it was asked. The second driver is confined
//! to this one read; everything else, and every write, stays on sqlx.
//!
//! A connection that fails is dropped and reopened for the next statement;
//! a statement that finds its connection closed is retried once on a fresh
//! one. A database that cannot be reached answers 503
//! ([`StoreError::Unavailable`]) after at most [`CONNECT_TIMEOUT`] or
//! [`QUERY_TIMEOUT`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::sql::{self, ReadRow};
use super::{PoolStats, SourceSyncState, StoreError, StoreResult, transient_code};

/// Connections (and tasks) for the status read. Measured with GET status at
/// 64 HTTP connections on 2 cores: 1 and 2 gave 25-29k req/s, 4 gave 21-23k
/// and 8 19k (more statements, each answering fewer reads).
pub const CONNECTIONS: usize = 2;
/// Most reads answered by one statement.
pub const MAX_BATCH: usize = 128;
/// How long opening a connection may take before the read answers 503.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one statement may take before its reads answer 503 (and its
/// connection is replaced: one that stops answering is not trusted again).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

type Answer = StoreResult<Option<SourceSyncState>>;

/// One status read waiting for its connection's task.
#[derive(Debug)]
struct Pending {
    org_id: Uuid,
    kb_id: Uuid,
    source_id: Uuid,
    answer: oneshot::Sender<Answer>,
}

/// The status read's connections.
#[derive(Debug)]
pub struct StatusReaders {
    lanes: Vec<Lane>,
    next: AtomicUsize,
    stop: CancellationToken,
}

/// The way to one connection's task.
#[derive(Debug)]
struct Lane {
    queue: mpsc::UnboundedSender<Pending>,
    state: Arc<LaneState>,
}

/// What [`StatusReaders::pool_stats`] reports of a lane.
#[derive(Debug, Default)]
struct LaneState {
    connected: AtomicBool,
    busy: AtomicBool,
}

impl StatusReaders {
    /// Readers for `url`, or `None` when tokio-postgres cannot read the URL
    /// (an option only sqlx knows): the status read then uses sqlx's pool.
    /// Starts one task per connection on the current tokio runtime; no
    /// connection is opened until the first read.
    pub fn new(url: &str) -> Option<Self> {
        let mut config: Config = url.parse().ok()?;
        config
            .application_name("feather-server status")
            .connect_timeout(CONNECT_TIMEOUT)
            // These connections run only primary-key lookups: pin that plan
            // (nested loops of index probes), which PostgreSQL may otherwise
            // trade for scans while the tables are small and then keep in
            // its cached generic plan as they grow.
            .options("-c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off");
        let config = Arc::new(config);
        let stop = CancellationToken::new();
        let lanes = (0..CONNECTIONS)
            .map(|_| {
                let (queue, pending) = mpsc::unbounded_channel();
                let state = Arc::new(LaneState::default());
                let task = LaneTask {
                    config: Arc::clone(&config),
                    reader: None,
                    state: Arc::clone(&state),
                };
                tokio::spawn(task.run(pending, stop.clone()));
                Lane { queue, state }
            })
            .collect();
        Some(StatusReaders {
            lanes,
            next: AtomicUsize::new(0),
            stop,
        })
    }

    /// A source's state and last job ([`sql::SYNC_STATE`]).
    pub async fn sync_state(&self, org_id: Uuid, kb_id: Uuid, source_id: Uuid) -> Answer {
        let lane = &self.lanes[self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len()];
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            org_id,
            kb_id,
            source_id,
            answer,
        };
        if lane.queue.send(pending).is_err() {
            return Err(StoreError::unavailable("the store is closed"));
        }
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::unavailable("the store is closed")))
    }

    /// The connections, as [`super::Store::pool_stats`] reports them.
    pub fn pool_stats(&self) -> PoolStats {
        let mut stats = PoolStats {
            pool: "status",
            open: 0,
            idle: 0,
        };
        for lane in &self.lanes {
            if lane.state.connected.load(Ordering::Relaxed) {
                stats.open += 1;
                if !lane.state.busy.load(Ordering::Relaxed) {
                    stats.idle += 1;
                }
            }
        }
        stats
    }

    /// Stops the tasks and closes their connections; later reads answer 503.
    pub fn close(&self) {
        self.stop.cancel();
    }
}

impl Drop for StatusReaders {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The task that owns one connection.
struct LaneTask {
    config: Arc<Config>,
    reader: Option<Reader>,
    state: Arc<LaneState>,
}

/// An open connection and the two statements prepared on it.
struct Reader {
    client: Client,
    one: Statement,
    many: Statement,
}

impl LaneTask {
    async fn run(mut self, mut pending: mpsc::UnboundedReceiver<Pending>, stop: CancellationToken) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                received = pending.recv_many(&mut batch, MAX_BATCH) => {
                    if received == 0 {
                        break; // every sender is gone
                    }
                }
            }
            // Reads whose caller gave up need no answer.
            batch.retain(|p: &Pending| !p.answer.is_closed());
            if batch.is_empty() {
                continue;
            }
            self.state.busy.store(true, Ordering::Relaxed);
            let answers = self.answer(&batch).await;
            self.state.busy.store(false, Ordering::Relaxed);
            self.state
                .connected
                .store(self.reader.is_some(), Ordering::Relaxed);
            match answers {
                Ok(mut found) => {
                    for (i, p) in batch.drain(..).enumerate() {
                        let _ = p.answer.send(Ok(found.remove(&i)));
                    }
                }
                Err(e) => {
                    for p in batch.drain(..) {
                        let _ = p.answer.send(Err(e.duplicate()));
                    }
                }
            }
        }
        self.state.connected.store(false, Ordering::Relaxed);
    }

    /// The answer to each read of `batch` whose source exists in the
    /// knowledge base and tenant it names, by its index in `batch`.
    async fn answer(&mut self, batch: &[Pending]) -> StoreResult<HashMap<usize, SourceSyncState>> {
        match self.query(batch).await {
            // The connection was closed under us (a restarted database, a
            // cut connection): once more on a fresh one.
            Err(Failure::Closed(_)) => {
                self.reader = None;
                self.query(batch).await.map_err(|f| self.failed(f))
            }
            Err(failure) => Err(self.failed(failure)),
            Ok(found) => Ok(found),
        }
    }

    /// Turns a failure into the reads' error, dropping a connection that
    /// must not be used again.
    fn failed(&mut self, failure: Failure) -> StoreError {
        if failure.poisons() {
            self.reader = None;
        }
        failure.into_store_error()
    }

    async fn query(
        &mut self,
        batch: &[Pending],
    ) -> Result<HashMap<usize, SourceSyncState>, Failure> {
        if self.reader.as_ref().is_none_or(|r| r.client.is_closed()) {
            self.reader = Some(self.connect().await?);
        }
        let Some(reader) = &self.reader else {
            return Err(Failure::TimedOut);
        };
        let mut found = HashMap::with_capacity(batch.len());
        if let [one] = batch {
            let params: [&(dyn ToSql + Sync); 3] = [&one.source_id, &one.kb_id, &one.org_id];
            let query = reader.client.query_opt(&reader.one, &params);
            let row = tokio::time::timeout(QUERY_TIMEOUT, query)
                .await
                .map_err(|_| Failure::TimedOut)??;
            if let Some(row) = row {
                found.insert(0, sql::sync_state(&row).map_err(Failure::Store)?);
            }
            return Ok(found);
        }
        let sources: Vec<Uuid> = batch.iter().map(|p| p.source_id).collect();
        let kbs: Vec<Uuid> = batch.iter().map(|p| p.kb_id).collect();
        let orgs: Vec<Uuid> = batch.iter().map(|p| p.org_id).collect();
        let params: [&(dyn ToSql + Sync); 3] = [&sources, &kbs, &orgs];
        let query = reader.client.query(&reader.many, &params);
        let rows = tokio::time::timeout(QUERY_TIMEOUT, query)
            .await
            .map_err(|_| Failure::TimedOut)??;
        for row in &rows {
            let ord: i64 = row
                .try_get("ord")
                .map_err(|e| Failure::Store(StoreError::corrupt("ord", e)))?;
            let index = usize::try_from(ord - 1)
                .ok()
                .filter(|&i| i < batch.len())
                .ok_or_else(|| StoreError::corrupt_row(format!("status read: no read {ord}")))
                .map_err(Failure::Store)?;
            found.insert(index, sql::sync_state(row).map_err(Failure::Store)?);
        }
        Ok(found)
    }

    async fn connect(&self) -> Result<Reader, Failure> {
        let connect = async {
            let (client, connection) = self.config.connect(NoTls).await?;
            // The connection's I/O runs as its own task; it ends when the
            // client is dropped or the socket fails.
            tokio::spawn(connection);
            let one = client.prepare(sql::SYNC_STATE).await?;
            let many = client.prepare(sql::SYNC_STATE_MANY).await?;
            Ok::<_, tokio_postgres::Error>(Reader { client, one, many })
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(reader)) => Ok(reader),
            // A refused or failed connection is "closed", but retrying at
            // once would only fail again: report it as it is.
            Ok(Err(e)) => Err(Failure::Driver(e)),
            Err(_) => Err(Failure::ConnectTimedOut),
        }
    }
}

/// Why a statement failed, and what that says about its connection.
#[derive(Debug)]
enum Failure {
    /// The connection is closed: retry on a new one.
    Closed(tokio_postgres::Error),
    /// The database answered with an error (or the driver failed).
    Driver(tokio_postgres::Error),
    /// No connection within [`CONNECT_TIMEOUT`].
    ConnectTimedOut,
    /// No answer within [`QUERY_TIMEOUT`].
    TimedOut,
    /// A row could not be read.
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.is_closed() {
            Failure::Closed(e)
        } else {
            Failure::Driver(e)
        }
    }
}

impl Failure {
    /// Whether the connection must not be used again.
    fn poisons(&self) -> bool {
        match self {
            Failure::Closed(_) | Failure::TimedOut | Failure::ConnectTimedOut => true,
            // An answer from the database leaves the connection usable; an
            // I/O or protocol error does not.
            Failure::Driver(e) => e.as_db_error().is_none(),
            Failure::Store(_) => false,
        }
    }

    fn into_store_error(self) -> StoreError {
        match self {
            Failure::Closed(e) => StoreError::unavailable_from(e),
            Failure::Driver(e) => {
                let transient = match e.code() {
                    Some(code) => transient_code(code.code()),
                    // No SQLSTATE: the socket or the protocol failed.
                    None => true,
                };
                if transient {
                    StoreError::unavailable_from(e)
                } else {
                    StoreError::database_from(e)
                }
            }
            Failure::ConnectTimedOut => StoreError::unavailable(format!(
                "PostgreSQL did not accept a connection within {CONNECT_TIMEOUT:?}"
            )),
            Failure::TimedOut => StoreError::unavailable(format!(
                "PostgreSQL did not answer the status read within {QUERY_TIMEOUT:?}"
            )),
            Failure::Store(e) => e,
        }
    }
}

impl StoreError {
    /// The same kind of error with the same message, for each read of a
    /// batch (the cause itself is not cloneable).
    fn duplicate(&self) -> StoreError {
        match self {
            StoreError::Unavailable { detail, .. } => StoreError::unavailable(detail.clone()),
            StoreError::Invalid(detail) => StoreError::Invalid(detail.clone()),
            StoreError::Corrupt { detail, .. } => StoreError::corrupt_row(detail.clone()),
            StoreError::Database { detail, .. } => StoreError::Database {
                detail: detail.clone(),
                source: None,
            },
        }
    }
}

impl ReadRow for Row {
    fn text(&self, column: &str) -> StoreResult<String> {
        self.try_get(column).map_err(column_error(column))
    }
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.try_get(column).map_err(column_error(column))
    }
    fn int(&self, column: &str) -> StoreResult<i64> {
        self.try_get(column).map_err(column_error(column))
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        self.try_get(column).map_err(column_error(column))
    }
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        self.try_get(column).map_err(column_error(column))
    }
    fn uuid(&self, column: &str) -> StoreResult<Uuid> {
        self.try_get(column).map_err(column_error(column))
    }
    fn opt_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        self.try_get(column).map_err(column_error(column))
    }
    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        self.try_get(column).map_err(column_error(column))
    }
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get(column).map_err(column_error(column))
    }
    fn json(&self, column: &str) -> StoreResult<serde_json::Value> {
        self.try_get(column).map_err(column_error(column))
    }
}

fn column_error(column: &str) -> impl FnOnce(tokio_postgres::Error) -> StoreError + '_ {
    move |e| StoreError::corrupt(column, e)
}
