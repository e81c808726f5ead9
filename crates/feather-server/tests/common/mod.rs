//! A real server on a loopback port over a temporary SQLite file, seeded
//! with the demo, plus clients for it.

#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use feather_client::Client;
use feather_server::demo::{DemoData, seed_demo};
use feather_server::store::{self, Store};
use feather_server::{RunningServer, start};
use tempfile::TempDir;

/// A running server and what the demo seeded.
pub struct TestServer {
    pub server: RunningServer,
    pub store: Arc<dyn Store>,
    pub demo: DemoData,
    pub dir: TempDir,
}

/// A logger that drops everything (tests assert on responses, not logs).
pub fn quiet() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

impl TestServer {
    /// Starts a server on a fresh database with the demo seeded.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let store = store::open(&Self::url_in(&dir)).await?;
        let demo = seed_demo(store.as_ref()).await?;
        let server = start(store.clone(), "127.0.0.1:0".parse()?, quiet())?;
        Ok(TestServer {
            server,
            store,
            demo,
            dir,
        })
    }

    /// The SQLite URL of the database file in `dir`.
    pub fn url_in(dir: &TempDir) -> String {
        format!("sqlite:{}", Self::db_path(dir).display())
    }

    /// The database file in `dir`.
    pub fn db_path(dir: &TempDir) -> PathBuf {
        dir.path().join("feather.db")
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
