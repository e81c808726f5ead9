//! A server started in-process on a loopback port over a throwaway
//! database, seeded with the demo, plus clients for it and loggers for
//! tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use feather_client::Client;
use feather_server::demo::{DemoData, seed_demo};
use feather_server::engine::EngineConfig;
use feather_server::store::{self, Store};
use feather_server::{RunningServer, start};

use crate::db::{Backend, TestDb};

/// A running server and what the demo seeded.
pub struct TestServer {
    /// The server.
    pub server: RunningServer,
    /// Its store.
    pub store: Arc<dyn Store>,
    /// What the demo seeded.
    pub demo: DemoData,
    /// Its database.
    pub db: TestDb,
}

/// Engine settings for tests: the defaults, with a short lease and poll.
pub fn engine() -> EngineConfig {
    EngineConfig {
        lease: std::time::Duration::from_secs(3),
        poll_interval: std::time::Duration::from_millis(100),
        shutdown_grace: std::time::Duration::from_secs(5),
        ..EngineConfig::default()
    }
}

/// A logger that drops everything (tests assert on responses, not logs).
pub fn quiet() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

/// A logger that keeps every record as one `msg key=value ...` line.
pub fn capturing() -> (slog::Logger, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let drain = Capture(lines.clone());
    (slog::Logger::root(drain, slog::o!()), lines)
}

struct Capture(Arc<Mutex<Vec<String>>>);

impl slog::Drain for Capture {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        let mut line = record.msg().to_string();
        let mut collect = Collect(&mut line);
        // Formatting into a String cannot fail.
        let _ = slog::KV::serialize(&record.kv(), record, &mut collect);
        let _ = slog::KV::serialize(values, record, &mut collect);
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
        Ok(())
    }
}

struct Collect<'a>(&'a mut String);

impl slog::Serializer for Collect<'_> {
    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        use std::fmt::Write as _;
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

impl TestServer {
    /// Starts a server on a fresh database with the demo seeded; `None` when
    /// the backend is unavailable (the reason is printed).
    pub async fn start(backend: Backend) -> anyhow::Result<Option<Self>> {
        Self::start_logging_to(backend, quiet()).await
    }

    /// [`TestServer::start`] with the server logging to `log`.
    pub async fn start_logging_to(
        backend: Backend,
        log: slog::Logger,
    ) -> anyhow::Result<Option<Self>> {
        let Some(db) = TestDb::fresh(backend).await? else {
            return Ok(None);
        };
        let store = store::open(&db.url).await?;
        let demo = seed_demo(store.as_ref()).await?;
        let server = start(store.clone(), "127.0.0.1:0".parse()?, Some(engine()), log)?;
        Ok(Some(TestServer {
            server,
            store,
            demo,
            db,
        }))
    }

    /// Starts another server on the same database (after a shutdown).
    pub async fn restart(
        store: Arc<dyn Store>,
        demo: DemoData,
        db: TestDb,
    ) -> anyhow::Result<Self> {
        let server = start(
            store.clone(),
            "127.0.0.1:0".parse()?,
            Some(engine()),
            quiet(),
        )?;
        Ok(TestServer {
            server,
            store,
            demo,
            db,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// A generated client with `key`.
    pub fn client_with(&self, key: &str) -> anyhow::Result<Client> {
        Ok(Client::with_api_key(&self.base_url(), key)?)
    }

    /// A generated client with the demo organization's key.
    pub fn client(&self) -> anyhow::Result<Client> {
        self.client_with(&self.demo.api_key)
    }

    /// The demo source whose name contains `part`.
    pub fn source(&self, part: &str) -> uuid::Uuid {
        self.demo
            .sources
            .iter()
            .find(|s| s.name.contains(part))
            .map(|s| s.id)
            .unwrap_or_else(|| panic!("the demo has no source named like {part:?}"))
    }

    /// The URL path of an operation on (kb, source), as raw text.
    pub fn sync_url(&self, kb: &str, source: &str) -> String {
        format!(
            "{}/v1/knowledge-base/knowledge-bases/{kb}/sources/{source}/sync",
            self.base_url()
        )
    }
}
