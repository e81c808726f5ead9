//! SQLite's one writer: a thread that owns the process's only write
//! connection and runs every write transaction with group commit.
//!
//! SQLite admits one writer at a time. Two connections that both write wait
//! for each other in SQLite's busy handler, which sleeps 1, 2, 5 ... 100 ms
//! between tries, so their tails were ten times PostgreSQL's. Here nothing
//! else in the process writes: every [`Work`] (a trigger, a claim, an ingest
//! batch, the reaper, source changes) is sent to this thread, and no write
//! ever waits in a busy handler (the busy timeout is left for other
//! processes, the `admin` commands).
//!
//! With `synchronous=FULL` every commit flushes the WAL (`fsync`) before it
//! returns, which is what makes an acknowledged write survive a power cut.
//! One flush per write would bound writes by the disk's flush rate; instead
//! (group commit, as PostgreSQL's WAL writer does) the thread takes every
//! write that is waiting, runs each inside a `SAVEPOINT` of one
//! transaction, commits once, and only then answers each caller:
//!
//! - a write that fails rolls back to its savepoint and is answered with
//!   its error alone; the others still commit;
//! - a failed `COMMIT` (full disk, I/O error) answers every write of the
//!   group `503`, and a connection left inside a transaction is rolled back
//!   or replaced, never reused half-open;
//! - no timer: a lone write commits at once; a group is whatever queued up
//!   while the previous commit was flushing;
//! - fairness: small writes go first; bulk work (an ingest batch) runs one
//!   per group, and more only while no small write is waiting, so a trigger
//!   waits for at most one batch and one flush.
//!
//! - checkpoints leave the writer: SQLite's automatic checkpoint runs inside
//!   the `COMMIT` that crosses 1,000 WAL frames (copying pages and, with
//!   `FULL`, flushing the database file), a pause every caller of that group
//!   waits out. Here a WAL hook counts the frames and, past the threshold,
//!   wakes a checkpointer thread with a connection of its own, which runs a
//!   `PASSIVE` checkpoint beside the writer (a checkpoint takes no write
//!   lock). Should the WAL still grow far beyond it, the writer checkpoints
//!   itself.
//!
//! A work's statements run here through [`WriterTx`], whose futures are
//! ready at once: the thread polls a work's future once and never parks.

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use rusqlite::types::{FromSql, Value, ValueRef};

use super::sql::{Decision, Query, Tx, Work};
use super::{SqliteSynchronous, StoreError, StoreResult};

/// The most small writes in one commit. Each is a few statements; the bound
/// keeps one group's latency (and its callers' answers) short under a flood.
const MAX_GROUP: usize = 512;

/// Bulk work keeps running in one group, while no small write waits, for at
/// most this long.
const BULK_BUDGET: Duration = Duration::from_millis(5);

/// Prepared statements kept per connection (the store has about 30).
const STATEMENT_CACHE: usize = 64;

/// WAL frames after which the checkpointer is woken (SQLite's own
/// automatic checkpoint threshold).
const CHECKPOINT_FRAMES: u64 = 1_000;

/// WAL frames after which the writer checkpoints itself: the checkpointer
/// has not kept up (about 64 MiB of WAL with 4 KiB pages).
const WRITER_CHECKPOINT_FRAMES: u64 = 16_000;

/// How the writer opens its connection.
#[derive(Clone, Debug)]
pub(super) struct WriterSettings {
    /// The database file.
    pub path: PathBuf,
    /// A registered VFS to open it through (`None`: the default).
    pub vfs: Option<String>,
    /// `synchronous` on this connection.
    pub synchronous: SqliteSynchronous,
    /// `max_page_count` (a size limit), if any.
    pub max_page_count: Option<u64>,
    /// How long to wait for another process's write lock.
    pub busy_timeout: Duration,
}

impl WriterSettings {
    /// The writer's connection, its WAL frames counted into `wal_frames`
    /// (which replaces SQLite's automatic checkpoint on it).
    fn open_writer(&self, wal_frames: &Arc<AtomicU64>) -> StoreResult<WriterTx> {
        let tx = self.open()?;
        // SAFETY: the hook's argument is the `AtomicU64` inside `wal_frames`,
        // which the writer loop keeps alive longer than the connection (its
        // field is dropped after `conn`), and the callback only stores to it.
        unsafe {
            rusqlite::ffi::sqlite3_wal_hook(
                tx.conn.handle(),
                Some(count_wal_frames),
                Arc::as_ptr(wal_frames) as *mut std::ffi::c_void,
            );
        }
        Ok(tx)
    }

    fn open(&self) -> StoreResult<WriterTx> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = super::sqlite::open_rusqlite(&self.path, flags, self.vfs.as_deref())?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", self.synchronous.as_str())?;
        conn.pragma_update(None, "foreign_keys", true)?;
        if let Some(pages) = self.max_page_count {
            conn.pragma_update(None, "max_page_count", pages)?;
        }
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(WriterTx { conn })
    }
}

/// SQLite's WAL hook on the writer's connection: the WAL's frames after a
/// commit.
unsafe extern "C" fn count_wal_frames(
    frames: *mut std::ffi::c_void,
    _db: *mut rusqlite::ffi::sqlite3,
    _database: *const std::ffi::c_char,
    wal_frames: std::ffi::c_int,
) -> std::ffi::c_int {
    // SAFETY: `frames` is the `AtomicU64` registered in `open_writer`.
    let counter = unsafe { &*(frames as *const AtomicU64) };
    counter.store(u64::try_from(wal_frames).unwrap_or(0), Ordering::Relaxed);
    rusqlite::ffi::SQLITE_OK
}

/// The checkpointer: its own connection, woken by the writer once the WAL
/// passes [`CHECKPOINT_FRAMES`]; a `PASSIVE` checkpoint copies what no
/// reader still needs into the database file without blocking anyone.
fn start_checkpointer(
    settings: &WriterSettings,
) -> StoreResult<(mpsc::SyncSender<()>, std::thread::JoinHandle<()>)> {
    let conn = settings.open()?;
    let (wake, woken) = mpsc::sync_channel::<()>(1);
    let thread = std::thread::Builder::new()
        .name("feather-sqlite-checkpointer".into())
        .spawn(move || {
            for () in woken {
                // Best effort: a failed checkpoint is retried at the next
                // wake-up; the WAL keeps every commit meanwhile.
                let _ = conn
                    .conn
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })
        .map_err(|e| {
            StoreError::unavailable(format!("cannot start the SQLite checkpointer: {e}"))
        })?;
    Ok((wake, thread))
}

/// The writer's state, for metrics.
#[derive(Debug, Default)]
pub(super) struct WriterStats {
    /// A group is being run or committed now.
    pub busy: AtomicBool,
}

/// What a submitted work became once run.
enum Ran {
    /// Its writes are in the group; answer it with the commit's outcome.
    Deferred(Answer),
    /// Answered already (it failed and was rolled back to its savepoint).
    Answered,
    /// Answered with an error, and the group's transaction may be gone (a
    /// savepoint could not be rolled back): the group cannot commit.
    Broken,
}

/// Answers a caller once its group's commit is known (`Err`: why it failed).
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A work and its caller's answer channel, type-erased for the queue.
trait Job: Send {
    /// Runs it inside a savepoint of the open group transaction.
    fn run(self: Box<Self>, tx: &mut WriterTx) -> Ran;
    /// Answers it with `why` without running it (its group never began).
    fn fail(self: Box<Self>, why: String);
}

struct Pending<W: Work> {
    work: W,
    done: tokio::sync::oneshot::Sender<StoreResult<W::Output>>,
}

impl<W: Work> Job for Pending<W> {
    fn run(self: Box<Self>, tx: &mut WriterTx) -> Ran {
        run_work(tx, self.work, self.done)
    }

    fn fail(self: Box<Self>, why: String) {
        let _ = self.done.send(Err(StoreError::unavailable(why)));
    }
}

struct Submitted {
    job: Box<dyn Job>,
    bulk: bool,
}

/// The writer thread and the queue to it.
#[derive(Debug)]
pub(super) struct Writer {
    send: Mutex<Option<mpsc::Sender<Submitted>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Small works sent and not yet taken off the queue by the thread.
    small_waiting: Arc<AtomicUsize>,
    stats: Arc<WriterStats>,
}

impl Writer {
    /// Opens the connection and starts the thread.
    pub fn start(settings: WriterSettings) -> StoreResult<Self> {
        let wal_frames = Arc::new(AtomicU64::new(0));
        let conn = settings.open_writer(&wal_frames)?;
        let (checkpoint, checkpointer) = start_checkpointer(&settings)?;
        let (send, receive) = mpsc::channel::<Submitted>();
        let small_waiting = Arc::new(AtomicUsize::new(0));
        let stats = Arc::new(WriterStats::default());
        let mut state = WriterLoop {
            settings,
            conn: Some(conn),
            receive,
            small: VecDeque::new(),
            bulk: VecDeque::new(),
            small_waiting: small_waiting.clone(),
            stats: stats.clone(),
            checkpoint: Some(checkpoint),
            checkpointer: Some(checkpointer),
            wal_frames,
        };
        let thread = std::thread::Builder::new()
            .name("feather-sqlite-writer".into())
            .spawn(move || state.run())
            .map_err(|e| StoreError::unavailable(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Writer {
            send: Mutex::new(Some(send)),
            thread: Mutex::new(Some(thread)),
            small_waiting,
            stats,
        })
    }

    /// Counters, for metrics.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Runs `work` in the next group; its output once the group committed.
    pub async fn write<W: Work>(&self, work: W) -> StoreResult<W::Output> {
        let (done, answer) = tokio::sync::oneshot::channel::<StoreResult<W::Output>>();
        let bulk = work.bulk();
        let job: Box<dyn Job> = Box::new(Pending { work, done });
        let sent = self.send.lock().ok().and_then(|send| {
            send.as_ref().map(|send| {
                if !bulk {
                    self.small_waiting.fetch_add(1, Ordering::Relaxed);
                }
                send.send(Submitted { job, bulk })
            })
        });
        match sent {
            Some(Ok(())) => {}
            _ => return Err(StoreError::unavailable("the store is closed")),
        }
        answer
            .await
            .map_err(|_| StoreError::unavailable("the SQLite writer stopped"))?
    }

    /// Stops the thread after the writes already sent; it checkpoints the
    /// WAL into the database file and closes its connection.
    pub fn close(&self) {
        if let Ok(mut send) = self.send.lock() {
            send.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// Runs one work inside a savepoint of the open group transaction.
fn run_work<W: Work>(
    tx: &mut WriterTx,
    work: W,
    done: tokio::sync::oneshot::Sender<StoreResult<W::Output>>,
) -> Ran {
    if let Err(e) = tx.conn.execute_batch("SAVEPOINT work") {
        let _ = done.send(Err(e.into()));
        return Ran::Broken;
    }
    let outcome = match poll_once(work.run(tx)) {
        Some(outcome) => outcome,
        None => Err(StoreError::Database {
            detail: "a write transaction awaited something other than the database".into(),
            source: None,
        }),
    };
    let (keep, result) = match outcome {
        Ok(Decision::Commit(output)) => (true, Ok(output)),
        Ok(Decision::Rollback(output)) => (false, Ok(output)),
        Err(e) => (false, Err(e)),
    };
    let ended = if keep {
        tx.conn.execute_batch("RELEASE work")
    } else {
        tx.conn.execute_batch("ROLLBACK TO work; RELEASE work")
    };
    match (ended, result) {
        (Ok(()), Ok(output)) => Ran::Deferred(Box::new(move |committed| {
            let _ = done.send(match committed {
                Ok(()) => Ok(output),
                Err(why) => Err(StoreError::unavailable(why)),
            });
        })),
        (Ok(()), Err(e)) => {
            let _ = done.send(Err(e));
            Ran::Answered
        }
        (Err(e), result) => {
            // The transaction is gone with the savepoint (SQLite rolls back
            // a whole transaction on some errors, a full disk among them).
            let _ = done.send(Err(result.err().unwrap_or_else(|| e.into())));
            Ran::Broken
        }
    }
}

/// Polls a future once; `None` if it is not done.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// The writer thread's state.
struct WriterLoop {
    settings: WriterSettings,
    /// `None` after a failure left it unusable: reopened for the next group.
    conn: Option<WriterTx>,
    receive: mpsc::Receiver<Submitted>,
    small: VecDeque<Submitted>,
    bulk: VecDeque<Submitted>,
    small_waiting: Arc<AtomicUsize>,
    stats: Arc<WriterStats>,
    /// Wakes the checkpointer (dropped at close to stop it).
    checkpoint: Option<mpsc::SyncSender<()>>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
    /// The writer connection's WAL frames (its WAL hook's counter; declared
    /// after `conn`, so it outlives the connection).
    wal_frames: Arc<AtomicU64>,
}

impl WriterLoop {
    fn take(&mut self, submitted: Submitted) {
        if submitted.bulk {
            self.bulk.push_back(submitted);
        } else {
            self.small_waiting.fetch_sub(1, Ordering::Relaxed);
            self.small.push_back(submitted);
        }
    }

    fn run(&mut self) {
        loop {
            if self.small.is_empty() && self.bulk.is_empty() {
                match self.receive.recv() {
                    Ok(submitted) => self.take(submitted),
                    // Every sender is gone: the store is closing.
                    Err(_) => break,
                }
            }
            // Everything waiting now joins this group.
            while self.small.len() < MAX_GROUP {
                match self.receive.try_recv() {
                    Ok(submitted) => self.take(submitted),
                    Err(_) => break,
                }
            }
            self.stats.busy.store(true, Ordering::Relaxed);
            self.group();
            self.stats.busy.store(false, Ordering::Relaxed);
        }
        self.checkpoint.take();
        if let Some(checkpointer) = self.checkpointer.take() {
            let _ = checkpointer.join();
        }
        if let Some(tx) = self.conn.take() {
            // Copy the WAL into the database file and empty it, so the file
            // alone is complete. Best effort: a busy reader makes it partial.
            let _ = tx
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }

    /// Runs one group: the waiting small works, then bulk work, one commit.
    fn group(&mut self) {
        let conn = match self.conn.take() {
            Some(conn) => Ok(conn),
            None => self.settings.open_writer(&self.wal_frames),
        };
        let mut tx = match conn.and_then(|tx| {
            tx.conn.execute_batch("BEGIN IMMEDIATE")?;
            Ok(tx)
        }) {
            Ok(tx) => tx,
            Err(e) => {
                // No transaction: fail what waits (nothing was written).
                let why = e.to_string();
                for submitted in self.small.drain(..).chain(self.bulk.drain(..)) {
                    submitted.job.fail(why.clone());
                }
                return;
            }
        };
        let started = Instant::now();
        let mut answers: Vec<Answer> = Vec::new();
        let mut broken = false;
        while let Some(submitted) = self.small.pop_front() {
            match submitted.job.run(&mut tx) {
                Ran::Deferred(answer) => answers.push(answer),
                Ran::Answered => {}
                Ran::Broken => {
                    broken = true;
                    break;
                }
            }
        }
        let mut bulk_ran = 0;
        while !broken && !self.bulk.is_empty() {
            let others_wait = self.small_waiting.load(Ordering::Relaxed) > 0;
            if bulk_ran > 0 && (others_wait || started.elapsed() >= BULK_BUDGET) {
                break;
            }
            let Some(submitted) = self.bulk.pop_front() else {
                break;
            };
            bulk_ran += 1;
            match submitted.job.run(&mut tx) {
                Ran::Deferred(answer) => answers.push(answer),
                Ran::Answered => {}
                Ran::Broken => broken = true,
            }
        }
        let committed = if broken {
            Err("the write transaction was rolled back by the database".to_owned())
        } else {
            tx.conn.execute_batch("COMMIT").map_err(|e| e.to_string())
        };
        // Still inside a transaction after a failure: roll back, or drop the
        // connection; never reuse it half-open.
        if tx.conn.is_autocommit() || tx.conn.execute_batch("ROLLBACK").is_ok() {
            self.conn = Some(tx);
        }
        // Answered only now: an acknowledged write is a committed one.
        for answer in answers {
            answer(committed.clone());
        }
        self.checkpoint_if_due();
    }

    /// Wakes the checkpointer once the WAL is long; checkpoints here if it
    /// has fallen far behind.
    fn checkpoint_if_due(&mut self) {
        let frames = self.wal_frames.load(Ordering::Relaxed);
        if frames >= WRITER_CHECKPOINT_FRAMES
            && let Some(tx) = &self.conn
        {
            let _ = tx
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        } else if frames >= CHECKPOINT_FRAMES
            && let Some(checkpoint) = &self.checkpoint
        {
            // Full: a wake-up is pending already.
            let _ = checkpoint.try_send(());
        }
    }
}

/// The writer's connection as a [`Tx`]: statements run at once on this
/// thread, their futures are ready.
#[derive(Debug)]
pub(super) struct WriterTx {
    conn: rusqlite::Connection,
}

impl WriterTx {
    fn execute_now(&mut self, query: Query) -> StoreResult<u64> {
        let mut statement = self.conn.prepare_cached(&query.sql)?;
        bind_numbered(&mut statement, query.params)?;
        Ok(statement.raw_execute()? as u64)
    }

    fn fetch_now(&mut self, query: Query) -> StoreResult<Vec<ValuesRow>> {
        let mut statement = self.conn.prepare_cached(&query.sql)?;
        bind_numbered(&mut statement, query.params)?;
        let columns: Arc<[String]> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut rows = statement.raw_query();
        let mut read = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..columns.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<Value>>>()?;
            read.push(ValuesRow {
                columns: columns.clone(),
                values,
            });
        }
        Ok(read)
    }
}

impl Tx for WriterTx {
    type Row = ValuesRow;

    fn execute(&mut self, query: Query) -> impl Future<Output = StoreResult<u64>> + Send {
        std::future::ready(self.execute_now(query))
    }

    fn fetch_all(
        &mut self,
        query: Query,
    ) -> impl Future<Output = StoreResult<Vec<ValuesRow>>> + Send {
        std::future::ready(self.fetch_now(query))
    }
}

/// Binds `params` to a statement written with `$N` (or `?N`) placeholders
/// by number, as sqlx does: SQLite numbers named parameters in order of
/// first appearance, which is not always `N`.
pub(super) fn bind_numbered(
    statement: &mut rusqlite::Statement<'_>,
    params: Vec<super::sql::Param>,
) -> StoreResult<()> {
    let mut values: Vec<Option<Value>> = params
        .into_iter()
        .map(|param| Some(super::sqlite::value(param)))
        .collect();
    for index in 1..=statement.parameter_count() {
        let number = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix(['$', '?']))
            .and_then(|number| number.parse::<usize>().ok())
            .unwrap_or(index);
        let value = values
            .get_mut(number.wrapping_sub(1))
            .and_then(Option::take)
            .ok_or_else(|| StoreError::Database {
                detail: format!("no value bound for parameter ${number}"),
                source: None,
            })?;
        statement.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

/// A row read on the writer's connection, owned (rusqlite's rows borrow
/// their statement).
#[derive(Debug)]
pub struct ValuesRow {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl ValuesRow {
    /// The value of `column`, converted as rusqlite's `Row::get` does.
    pub fn get<I: AsRef<str>, T: FromSql>(&self, column: I) -> rusqlite::Result<T> {
        let column = column.as_ref();
        let index = self
            .columns
            .iter()
            .position(|name| name == column)
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(column.to_owned()))?;
        let value = self
            .values
            .get(index)
            .ok_or(rusqlite::Error::InvalidColumnIndex(index))?;
        T::column_result(ValueRef::from(value)).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(index, value.data_type(), Box::new(e))
        })
    }
}
