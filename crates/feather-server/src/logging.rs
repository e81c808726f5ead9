//! The server's log: its formats and the buffered JSON writer.
//!
//! JSON lines are the Bunyan records dropshot's `ConfigLogging::File` writes
//! (slog-bunyan's fields: `name`, `hostname`, `pid`, `level`, `time`, `msg`,
//! `v`, then the record's own). What differs is how they reach stderr.
//! dropshot hands every record to slog-async's thread, which wakes for it,
//! formats it and writes it with a system call of its own: per request, one
//! `write`, two `futex` and about four `sched_yield` calls, and 30% of the
//! server's instructions (callgrind, GET status on PostgreSQL). Here the
//! thread that logs formats the record into a thread-local buffer and appends
//! the line to a shared one under a short lock; a writer thread writes that
//! buffer out every [`FLUSH_INTERVAL`], or as soon as it holds
//! [`HIGH_WATER`] bytes. This is nginx's `access_log ... buffer= flush=`:
//! lines reach stderr up to [`FLUSH_INTERVAL`] late, and a `kill -9` loses
//! at most that much of the log (the database, not the log, is what is
//! durable). Logging never blocks on stderr: beyond [`CAPACITY`] bytes
//! waiting, records are dropped and counted, and the count is logged once
//! the writer catches up (slog-async drops beyond 1,024 queued records too).
//! Dropping the [`LogGuard`] writes out everything logged before.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use dropshot::{ConfigLogging, ConfigLoggingLevel};
use slog::Drain as _;

use crate::server::ServerError;

/// The longest a JSON line waits in memory before it is written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Buffered bytes that wake the writer before [`FLUSH_INTERVAL`] is up.
pub const HIGH_WATER: usize = 64 * 1024;
/// Buffered bytes beyond which records are dropped (and counted).
pub const CAPACITY: usize = 4 * 1024 * 1024;
/// The Bunyan `name` of every line.
const LOG_NAME: &str = "feather-server";

/// Format of the server's log lines (one per request, plus lifecycle events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `pretty` when stderr is a terminal, `json` otherwise (a file, a pipe,
    /// a log collector).
    Auto,
    /// Human-readable lines (slog-term).
    Pretty,
    /// Bunyan JSON, one object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// `Auto` decided for this process's stderr.
    pub fn resolve(self) -> LogFormat {
        use std::io::IsTerminal as _;
        match self {
            LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Pretty,
            LogFormat::Auto => LogFormat::Json,
            other => other,
        }
    }
}

/// Builds the server's logger (stderr). Request logs carry method, URI,
/// status and latency; they never carry request headers, so never the key.
/// Keep the [`LogGuard`] until the process is done logging.
///
/// The terminal format costs: with stderr redirected to a file, GET status
/// at 64 connections ran at 39.7k req/s with `pretty` lines and 48.0k with
/// JSON (56.8k with no request log), hence `auto`.
pub fn logger(
    format: LogFormat,
    level: ConfigLoggingLevel,
) -> Result<(slog::Logger, LogGuard), ServerError> {
    match format.resolve() {
        LogFormat::Auto | LogFormat::Pretty => {
            let log = ConfigLogging::StderrTerminal { level }
                .to_logger(LOG_NAME)
                .map_err(|e| ServerError::Logging(e.to_string()))?;
            Ok((log, LogGuard { shared: None }))
        }
        LogFormat::Json => json_logger(std::io::stderr(), &level),
    }
}

/// Bunyan JSON lines to `out` through the buffered writer (module docs);
/// records below `level` cost nothing.
pub fn json_logger<W: Write + Send + 'static>(
    out: W,
    level: &ConfigLoggingLevel,
) -> Result<(slog::Logger, LogGuard), ServerError> {
    let shared = Arc::new(Shared::default());
    let writer = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || shared.write_out(out))
            .map_err(|e| ServerError::Logging(e.to_string()))?
    };
    shared.lock().writer = Some(writer);
    let drain = BufferedJson {
        shared: shared.clone(),
    };
    let filtered = slog::LevelFilter(drain, slog::Level::from(level)).ignore_res();
    let log = slog::Logger::root(filtered, slog::o!());
    Ok((
        log,
        LogGuard {
            shared: Some(shared),
        },
    ))
}

/// Writes out everything logged so far and stops the writer thread when
/// dropped; records logged afterwards are kept in memory (up to
/// [`CAPACITY`]) and never written.
#[derive(Debug)]
#[must_use = "dropping the guard stops writing the log"]
pub struct LogGuard {
    shared: Option<Arc<Shared>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let writer = {
            let mut state = shared.lock();
            state.closed = true;
            state.writer.take()
        };
        shared.wake.notify_one();
        if let Some(writer) = writer {
            // The writer thread only fails by panicking in `write_all`,
            // which it does not; nothing more to do here either way.
            let _ = writer.join();
        }
    }
}

/// The buffer shared by the logging threads and the writer thread.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Complete lines not yet written.
    lines: Vec<u8>,
    /// Records dropped since the last report.
    dropped: u64,
    /// Set by the guard: write what is there and stop.
    closed: bool,
    /// The writer thread, joined by the guard.
    writer: Option<JoinHandle<()>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A logging thread cannot panic while holding the lock (it only
        // appends bytes), so a poisoned lock still holds consistent lines.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends one complete line, or counts it as dropped.
    fn push(&self, line: &[u8]) {
        let wake = {
            let mut state = self.lock();
            if state.lines.len() + line.len() > CAPACITY {
                state.dropped += 1;
                return;
            }
            let before = state.lines.len();
            state.lines.extend_from_slice(line);
            before < HIGH_WATER && state.lines.len() >= HIGH_WATER
        };
        if wake {
            self.wake.notify_one();
        }
    }

    /// The writer thread: every [`FLUSH_INTERVAL`] (or at [`HIGH_WATER`]),
    /// takes the buffered lines and writes them, until the guard closes.
    fn write_out<W: Write>(&self, mut out: W) {
        let mut spare = Vec::with_capacity(HIGH_WATER);
        loop {
            let (dropped, closed) = {
                let state = self.lock();
                let (mut state, _) = self
                    .wake
                    .wait_timeout_while(state, FLUSH_INTERVAL, |s| {
                        !s.closed && s.lines.len() < HIGH_WATER
                    })
                    .unwrap_or_else(PoisonError::into_inner);
                std::mem::swap(&mut state.lines, &mut spare);
                (std::mem::take(&mut state.dropped), state.closed)
            };
            // A failed write (stderr closed, disk full) loses those lines
            // only; the server goes on, as with dropshot's drain.
            let _ = out.write_all(&spare);
            if dropped > 0 {
                let _ = out.write_all(dropped_line(dropped).as_bytes());
            }
            let _ = out.flush();
            spare.clear();
            if closed {
                return;
            }
        }
    }
}

/// The line reporting `dropped` records (Bunyan fields, level warn).
fn dropped_line(dropped: u64) -> String {
    let record = serde_json::json!({
        "msg": "log records dropped: the log writer fell behind",
        "v": 0,
        "name": LOG_NAME,
        "level": 40,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "hostname": hostname(),
        "pid": std::process::id(),
        "dropped": dropped,
    });
    format!("{record}\n")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// The drain: formats in the calling thread, appends to [`Shared`].
struct BufferedJson {
    shared: Arc<Shared>,
}

/// A thread's Bunyan formatter and the buffer it formats into.
struct Formatter {
    json: slog_json::Json<LineSink>,
    line: Rc<RefCell<Vec<u8>>>,
}

/// Where a thread's formatter writes: the line being formatted.
struct LineSink(Rc<RefCell<Vec<u8>>>);

impl Write for LineSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    static FORMATTER: Formatter = {
        let line = Rc::new(RefCell::new(Vec::with_capacity(512)));
        let json = slog_bunyan::with_name(LOG_NAME, LineSink(line.clone())).build();
        Formatter { json, line }
    };
}

impl slog::Drain for BufferedJson {
    type Ok = ();
    type Err = std::io::Error;

    fn log(&self, record: &slog::Record<'_>, values: &slog::OwnedKVList) -> std::io::Result<()> {
        // During thread teardown the formatter may be gone: the record is
        // dropped, as on a full buffer.
        let formatted = FORMATTER.try_with(|formatter| {
            formatter.line.borrow_mut().clear();
            let formatted = formatter.json.log(record, values);
            let mut line = formatter.line.borrow_mut();
            match formatted {
                // A record whose value failed to serialize is dropped whole
                // rather than written as a broken line.
                Err(e) => Err(e),
                Ok(()) => {
                    self.shared.push(&line);
                    line.clear();
                    Ok(())
                }
            }
        });
        formatted.unwrap_or(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// A `Write` into memory that tests can read.
    #[derive(Clone, Default)]
    struct Memory(Arc<Mutex<Vec<u8>>>);

    impl Write for Memory {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Memory {
        fn records(&self) -> Vec<serde_json::Value> {
            let bytes = self
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            String::from_utf8(bytes)
                .expect("log output is UTF-8")
                .lines()
                .map(|l| serde_json::from_str(l).expect("every line is one JSON object"))
                .collect()
        }
    }

    #[test]
    fn lines_are_bunyan_records_in_order_per_thread_and_all_written_by_the_guard() {
        let out = Memory::default();
        let (log, guard) = json_logger(out.clone(), &ConfigLoggingLevel::Info).expect("logger");
        let child = log.new(slog::o!("req_id" => "r-1", "remote_addr" => "127.0.0.1:1"));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = child.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        slog::info!(log, "request completed"; "thread" => t, "i" => i,
                            "text" => "quote \" and\nnewline");
                    }
                    slog::debug!(log, "below the level");
                })
            })
            .collect();
        for t in threads {
            t.join().expect("logging thread");
        }
        drop(guard);
        let records = out.records();
        assert_eq!(records.len(), 2000, "every record, none below the level");
        for record in &records {
            assert_eq!(record["name"], LOG_NAME);
            assert_eq!(record["level"], 30);
            assert_eq!(record["v"], 0);
            assert_eq!(record["msg"], "request completed");
            assert_eq!(record["req_id"], "r-1");
            assert_eq!(record["text"], "quote \" and\nnewline");
            assert_eq!(record["pid"], std::process::id());
            assert!(record["time"].is_string() && record["hostname"].is_string());
        }
        for t in 0..4 {
            let order: Vec<_> = records
                .iter()
                .filter(|r| r["thread"] == t)
                .map(|r| r["i"].as_u64().expect("i"))
                .collect();
            assert_eq!(order, (0..500).collect::<Vec<_>>(), "thread {t} in order");
        }
    }

    /// A writer that blocks until told to go on, like stderr piped to a
    /// collector that stopped reading.
    struct Stalled {
        go: mpsc::Receiver<()>,
        out: Memory,
    }

    impl Write for Stalled {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let _ = self.go.recv();
            self.out.write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_writer_drops_records_instead_of_blocking_and_reports_them() {
        let out = Memory::default();
        let (go, wait) = mpsc::sync_channel(0);
        let stalled = Stalled {
            go: wait,
            out: out.clone(),
        };
        let (log, guard) = json_logger(stalled, &ConfigLoggingLevel::Info).expect("logger");
        let padding = "x".repeat(1000);
        // Far more than CAPACITY while the writer is stuck: every call
        // returns (the test would hang otherwise).
        let total = 3 * CAPACITY / 1000;
        for i in 0..total {
            slog::info!(log, "big"; "i" => i, "padding" => &padding);
        }
        // Let the writer go for as long as it writes.
        std::thread::spawn(move || while go.send(()).is_ok() {});
        drop(guard);
        let records = out.records();
        let written = records.iter().filter(|r| r["msg"] == "big").count();
        let dropped: u64 = records.iter().filter_map(|r| r["dropped"].as_u64()).sum();
        assert!(dropped > 0, "records beyond the capacity are dropped");
        assert_eq!(
            written as u64 + dropped,
            total as u64,
            "each record written or counted"
        );
        assert!(
            written * 1000 <= 2 * CAPACITY,
            "no more than the capacity was held"
        );
        let first: Vec<_> = records
            .iter()
            .filter(|r| r["msg"] == "big")
            .map(|r| r["i"].as_u64().expect("i"))
            .collect();
        assert!(first.windows(2).all(|w| w[0] < w[1]), "written in order");
    }
}
