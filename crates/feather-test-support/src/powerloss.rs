//! Power cuts of an in-process server on SQLite: the server runs over the
//! [`sqlite_powercut`] VFS while clients trigger syncs over HTTP, the power
//! is cut at a chosen moment (every write not synced is gone), the dead
//! server is stopped, and the database is opened again with the normal VFS,
//! as after a reboot. Then every trigger answered `200` must have its job,
//! `PRAGMA integrity_check` must say `ok`, and with a server running again
//! every job must end with its source back at rest.
//!
//! Used by the server's power-loss tests and `cargo xtask torture
//! --power-loss`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use feather_client::Client;
use feather_server::engine::EngineConfig;
use feather_server::store::{self, OpenOptions, SqliteSynchronous, Store};
use feather_server::{ServeOptions, start_with};
use sqlite_powercut::{CutReport, Loss, PowerCut};
use uuid::Uuid;

use crate::random::Random;

/// Who triggers what in a round.
#[derive(Clone, Debug)]
pub struct Load {
    /// An API key of the sources' organization.
    pub api_key: String,
    /// Their knowledge base.
    pub kb_id: Uuid,
    /// The sources triggered, at random.
    pub sources: Vec<Uuid>,
    /// Client tasks triggering at once.
    pub clients: usize,
}

/// One round's settings.
#[derive(Clone, Copy, Debug)]
pub struct Round {
    /// `synchronous` on the server's write connection.
    pub synchronous: SqliteSynchronous,
    /// When the power is cut, from the start of the load.
    pub cut_after: Duration,
    /// What the cut keeps of the unsynced writes.
    pub loss: Loss,
    /// Seed of the clients' choices.
    pub seed: u64,
    /// How long each sync of the simulated disk takes (a cut during it
    /// lands mid-commit).
    pub sync_delay: Duration,
}

/// What a round did before the power went.
#[derive(Clone, Debug)]
pub struct CutRound {
    /// Jobs of the triggers answered `200` (before or at the cut).
    pub acknowledged: Vec<Uuid>,
    /// What the cut threw away.
    pub cut: CutReport,
}

/// What the database held after the power came back.
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    /// Acknowledged jobs the database does not know.
    pub lost: Vec<Uuid>,
    /// Jobs that did not end, or sources left `syncing`, within the bound.
    pub stuck: Vec<Uuid>,
    /// `PRAGMA integrity_check`'s answer (`ok` when intact).
    pub integrity: String,
}

/// Serves the SQLite database `path` in-process on a new power-cut VFS
/// with `engine` (its workers run the triggered jobs), triggers `load`'s
/// sources until the power is cut `round.cut_after` into the load, then
/// stops the dead server and closes its store.
pub async fn cut_during_load(
    path: &Path,
    load: &Load,
    round: Round,
    engine: Option<EngineConfig>,
) -> anyhow::Result<CutRound> {
    let vfs = PowerCut::register()?;
    vfs.set_sync_delay(round.sync_delay);
    let options = OpenOptions {
        sqlite_synchronous: round.synchronous,
        sqlite_vfs: Some(vfs.name().to_owned()),
        ..OpenOptions::default()
    };
    let url = format!("sqlite:{}", path.display());
    let store = store::open_with(&url, &options).await?;
    let serve = ServeOptions {
        engine,
        ..ServeOptions::new("127.0.0.1:0".parse()?)
    };
    let server = start_with(store.clone(), serve, crate::server::quiet())?;
    let client = Client::builder(server.base_url())
        .api_key(&load.api_key)
        .build()?;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let powered = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut clients = tokio::task::JoinSet::new();
    let mut random = Random::new(round.seed);
    for _ in 0..load.clients {
        let mut random = Random::new(random.next_u64());
        let (client, load) = (client.clone(), load.clone());
        let (acknowledged, powered) = (acknowledged.clone(), powered.clone());
        clients.spawn(async move {
            while powered.load(std::sync::atomic::Ordering::SeqCst) {
                let source = load.sources[random.below(load.sources.len() as u64) as usize];
                let answer = client
                    .trigger_sync()
                    .kb_id(load.kb_id)
                    .source_id(source)
                    .send()
                    .await;
                if let Ok(answer) = answer {
                    // Acknowledged: the client saw 200 and a job id.
                    if let Ok(mut acknowledged) = acknowledged.lock() {
                        acknowledged.push(answer.into_inner().job_id);
                    }
                }
            }
        });
    }
    tokio::time::sleep(round.cut_after).await;
    let cut = vfs.cut(round.loss);
    powered.store(false, std::sync::atomic::Ordering::SeqCst);
    while clients.join_next().await.is_some() {}
    // The dead server: every database call fails now. Stop it and close its
    // connections (none can write anything any more).
    let _ = server.shutdown().await;
    store.close().await;
    let acknowledged = acknowledged
        .lock()
        .map_err(|_| anyhow::anyhow!("a client task panicked"))?
        .clone();
    Ok(CutRound { acknowledged, cut })
}

/// Opens `path` again with the normal VFS, checks its integrity and that
/// every acknowledged job exists, then serves it with `engine` until every
/// job of `sources` has ended and each source is at rest (or `bound`
/// passed), and stops.
pub async fn recover(
    path: &Path,
    acknowledged: &[Uuid],
    sources: &[Uuid],
    engine: EngineConfig,
    bound: Duration,
) -> anyhow::Result<Recovery> {
    let integrity = integrity_check(path)?;
    let url = format!("sqlite:{}", path.display());
    let store = store::open(&url).await?;
    let mut recovery = Recovery {
        integrity,
        ..Recovery::default()
    };
    for job in acknowledged {
        if store.find_job(*job).await?.is_none() {
            recovery.lost.push(*job);
        }
    }
    let server = feather_server::start(
        store.clone(),
        "127.0.0.1:0".parse()?,
        Some(engine),
        crate::server::quiet(),
    )?;
    let deadline = Instant::now() + bound;
    loop {
        let unsettled = unsettled(store.as_ref(), sources).await?;
        if unsettled.is_empty() || Instant::now() > deadline {
            recovery.stuck = unsettled.into_iter().collect();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.shutdown().await?;
    store.close().await;
    Ok(recovery)
}

/// Jobs of `sources` not ended yet, and sources still `syncing`.
async fn unsettled(store: &dyn Store, sources: &[Uuid]) -> anyhow::Result<BTreeSet<Uuid>> {
    let mut open = BTreeSet::new();
    for source in sources {
        for job in store.list_jobs(*source).await? {
            if !job.status.is_terminal() {
                open.insert(job.id);
            }
        }
    }
    for source in store.list_sources(None).await? {
        if sources.contains(&source.id) && source.status == feather_api::SourceStatus::Syncing {
            open.insert(source.id);
        }
    }
    Ok(open)
}

/// `PRAGMA integrity_check` on the file, with the normal VFS.
pub fn integrity_check(path: &Path) -> anyhow::Result<String> {
    let conn = rusqlite::Connection::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let answer: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    Ok(answer)
}
