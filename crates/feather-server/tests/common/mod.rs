//! A real server on a loopback port over a temporary SQLite file, seeded
//! with the demo, plus clients for it.

#![allow(dead_code)] // each test binary uses its own subset

pub mod process;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use feather_client::Client;
use feather_server::demo::{DemoData, seed_demo};
use feather_server::engine::EngineConfig;
use feather_server::store::{self, Store};
use feather_server::{RunningServer, start};
use tempfile::TempDir;

/// A running server and what the demo seeded.
pub struct TestServer {
    pub server: RunningServer,
    pub store: Arc<dyn Store>,
    pub demo: DemoData,
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

/// Which store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the server `FEATHER_TEST_DATABASE_URL` names.
    Postgres,
}

/// Runs each named `async fn(Backend) -> anyhow::Result<()>` as two tests,
/// `NAME::sqlite` and `NAME::postgres`: one set of test bodies, two stores.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() -> anyhow::Result<()> {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() -> anyhow::Result<()> {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    )+};
}

/// The variable naming the PostgreSQL server for tests.
pub const TEST_DATABASE_ENV: &str = "FEATHER_TEST_DATABASE_URL";

/// A fresh, empty database for one test; a PostgreSQL one is dropped when
/// this is dropped.
pub struct TestDb {
    /// Its URL, for `store::open` or `--database-url`.
    pub url: String,
    pub backend: Backend,
    _dir: TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A new database, or `None` (with the reason printed) when the backend
    /// is not available here.
    pub async fn fresh(backend: Backend) -> anyhow::Result<Option<TestDb>> {
        let dir = tempfile::tempdir()?;
        match backend {
            Backend::Sqlite => Ok(Some(TestDb {
                url: format!("sqlite:{}", dir.path().join("feather.db").display()),
                backend,
                _dir: dir,
                postgres: None,
            })),
            Backend::Postgres => {
                let Ok(admin) = std::env::var(TEST_DATABASE_ENV) else {
                    println!("skipped on PostgreSQL: {TEST_DATABASE_ENV} is not set");
                    return Ok(None);
                };
                let name = format!("feather_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("{TEST_DATABASE_ENV}={admin} is not reachable: {e}")
                    })?;
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await?;
                let mut url = url::Url::parse(&admin)?;
                url.set_path(&format!("/{name}"));
                Ok(Some(TestDb {
                    url: url.to_string(),
                    backend,
                    _dir: dir,
                    postgres: Some((admin, name)),
                }))
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Best effort, on a thread of its own: Drop cannot await.
        let dropped = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await
                {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            });
        });
        let _ = dropped.join();
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

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

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
