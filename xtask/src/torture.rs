//! `cargo xtask torture`: triggers and syncs under load while server
//! processes are killed with SIGKILL at random moments and restarted, with
//! the storage invariants checked after every round.
//!
//! A round: clients trigger random sources on random replicas for a random
//! while; at a random moment in it one replica is killed and started again.
//! Then every trigger that was answered `200` must have its job in the
//! database (else it is *lost*), and every such job must reach a terminal
//! status, with its source back at rest, within a bound that covers the
//! lease, the reaper and the job's work (else it is *stuck*). The run fails
//! on any lost or stuck job.
//!
//! `--power-loss` (SQLite): a round serves the database in-process over the
//! `sqlite-powercut` VFS and cuts the power at a random moment of the load
//! (every write not synced is gone, or a random torn part of it survives);
//! the database is reopened with the normal VFS, checked with `PRAGMA
//! integrity_check`, and served again until every job has ended.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use feather_server::store::{self, Store};
use feather_test_support::process::{ServerProcess, admin, server_binary};
use feather_test_support::random::Random;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::conformance::build_server;

/// The lease the servers run with: short, so killed jobs come back quickly.
const LEASE_MS: u64 = 1_500;
/// Sources the clients trigger.
const SOURCES: usize = 16;
/// Concurrent client tasks.
const CLIENTS: usize = 4;

/// What to run.
pub struct Settings {
    /// How long to run.
    pub minutes: f64,
    /// The database; a fresh SQLite file when absent.
    pub database_url: Option<String>,
    /// Server processes at once (default: 1 on SQLite, 2 on PostgreSQL).
    pub replicas: Option<usize>,
    /// Seed of the random choices, to repeat a run.
    pub seed: Option<u64>,
}

/// Totals of a run.
#[derive(Default)]
struct Totals {
    rounds: u64,
    kills: u64,
    acknowledged: u64,
    lost: Vec<Uuid>,
    stuck: Vec<Uuid>,
}

impl Totals {
    /// Prints the closing line (`kills` names what was done each round);
    /// failure on any lost or stuck job.
    fn report(&self, kills: &str) -> ExitCode {
        println!(
            "torture: {} rounds, {} {kills}, {} acknowledged, {} lost, {} stuck",
            self.rounds,
            self.kills,
            self.acknowledged,
            self.lost.len(),
            self.stuck.len()
        );
        if !self.lost.is_empty() || !self.stuck.is_empty() {
            println!("lost: {:?}\nstuck: {:?}", self.lost, self.stuck);
            return ExitCode::FAILURE;
        }
        ExitCode::SUCCESS
    }
}

/// Runs the torture and prints a line per round and the totals.
pub fn run(settings: Settings) -> Result<ExitCode> {
    build_server()?;
    let binary = server_binary(None);
    let dir = tempfile::tempdir()?;
    let url = match &settings.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite:{}", dir.path().join("torture.db").display()),
    };
    let postgres = url.starts_with("postgres");
    let replicas = settings.replicas.unwrap_or(if postgres { 2 } else { 1 });
    let seed = settings.seed.unwrap_or_else(Random::seed_from_clock);
    println!(
        "torture: {} min on {} with {replicas} replica(s), seed {seed}",
        settings.minutes,
        if postgres { "PostgreSQL" } else { "SQLite" }
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let deadline = Instant::now() + Duration::from_secs_f64(settings.minutes * 60.0);
    let totals = runtime.block_on(torture(
        &binary,
        &url,
        dir.path(),
        replicas,
        deadline,
        Random::new(seed),
    ))?;
    Ok(totals.report("kills"))
}

/// Starts replica `index` on `url`, its log in `dir`.
fn start(binary: &Path, url: &str, dir: &Path, index: usize) -> Result<ServerProcess> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("replica-{index}.log")))?;
    let mut command = Command::new(binary);
    command
        .args(["--bind", "127.0.0.1:0", "--database-url", url, "--no-demo"])
        .args(["--lease-ms", &LEASE_MS.to_string(), "--workers", "2"])
        .args(["--log-level", "warn", "--log-format", "json"])
        .stderr(Stdio::from(log));
    ServerProcess::spawn(command).context("cannot start feather-server")
}

async fn torture(
    binary: &Path,
    url: &str,
    dir: &Path,
    replicas: usize,
    deadline: Instant,
    mut random: Random,
) -> Result<Totals> {
    let demo: Value = admin(binary, url, &["seed-demo"])?;
    let key = demo["api_key"].as_str().unwrap_or_default().to_owned();
    let kb: Uuid = demo["kb_id"].as_str().unwrap_or_default().parse()?;
    let checker = store::open(url).await?;
    let mut sources = Vec::new();
    for i in 0..SOURCES {
        // About 0.2 s of work per job, in several progress writes.
        let config = json!({"items": 40, "item_delay_ms": 5});
        let source = checker
            .create_source(kb, &format!("torture {i}"), "synthetic", &config)
            .await?;
        sources.push(source.id);
    }
    let mut servers = Vec::new();
    for index in 0..replicas {
        servers.push(start(binary, url, dir, index)?);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut totals = Totals::default();
    while Instant::now() < deadline {
        totals.rounds += 1;
        let load_for = Duration::from_millis(random.between(300, 1_500));
        let load_end = Instant::now() + load_for;
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let bases: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
            servers.iter().map(|s| s.base_url.clone()).collect(),
        ));
        let mut clients = tokio::task::JoinSet::new();
        for client in 0..CLIENTS {
            let mut random = Random::new(random.next_u64());
            let (http, key, sources) = (http.clone(), key.clone(), sources.clone());
            let (acknowledged, bases) = (acknowledged.clone(), bases.clone());
            clients.spawn(async move {
                while Instant::now() < load_end {
                    let source = sources[random.between(0, sources.len() as u64) as usize];
                    let base = {
                        let bases = bases.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                        bases[random.between(0, bases.len() as u64) as usize].clone()
                    };
                    let answer = http
                        .post(format!(
                            "{base}/v1/knowledge-base/knowledge-bases/{kb}/sources/{source}/sync"
                        ))
                        .header("x-api-key", &key)
                        .send()
                        .await;
                    if let Ok(answer) = answer
                        && answer.status() == 200
                    {
                        let body: Value = answer.json().await?;
                        let job: Uuid = body["job_id"].as_str().unwrap_or_default().parse()?;
                        acknowledged
                            .lock()
                            .map_err(|_| anyhow::anyhow!("poisoned"))?
                            .push(job);
                    }
                    tokio::time::sleep(Duration::from_millis(5 + client as u64)).await;
                }
                anyhow::Ok(())
            });
        }
        // Kill one replica at a random moment of the load, start it again.
        tokio::time::sleep(Duration::from_millis(
            random.between(0, load_for.as_millis() as u64),
        ))
        .await;
        let victim = random.between(0, replicas as u64) as usize;
        drop(servers.remove(victim));
        totals.kills += 1;
        let restarted = start(binary, url, dir, victim)?;
        if let Ok(mut bases) = bases.lock() {
            bases[victim] = restarted.base_url.clone();
        }
        servers.insert(victim, restarted);
        while let Some(client) = clients.join_next().await {
            client??;
        }
        let round: Vec<Uuid> = acknowledged
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .clone();
        totals.acknowledged += round.len() as u64;
        let (lost, stuck) = check(checker.as_ref(), &round, &sources).await?;
        println!(
            "round {}: load {} ms, killed replica {victim}, {} acknowledged, {} lost, {} stuck",
            totals.rounds,
            load_for.as_millis(),
            round.len(),
            lost.len(),
            stuck.len()
        );
        totals.lost.extend(lost);
        totals.stuck.extend(stuck);
    }
    drop(servers);
    checker.close().await;
    Ok(totals)
}

/// The acknowledged jobs that do not exist (lost), and those that did not
/// end, or whose source stayed `syncing`, within the bound (stuck).
async fn check(
    store: &dyn Store,
    acknowledged: &[Uuid],
    sources: &[Uuid],
) -> Result<(Vec<Uuid>, Vec<Uuid>)> {
    let mut lost = Vec::new();
    let mut open: BTreeSet<Uuid> = BTreeSet::new();
    for job in acknowledged {
        match store.find_job(*job).await? {
            None => lost.push(*job),
            Some(found) if !found.status.is_terminal() => {
                open.insert(*job);
            }
            Some(_) => {}
        }
    }
    // A killed job comes back after its lease and the reaper's period, and
    // may be killed again; this bound covers a few such cycles.
    let bound = Instant::now() + Duration::from_millis(LEASE_MS * 8) + Duration::from_secs(10);
    while Instant::now() < bound {
        let mut still = BTreeSet::new();
        for job in &open {
            let ended = store
                .find_job(*job)
                .await?
                .is_some_and(|j| j.status.is_terminal());
            if !ended {
                still.insert(*job);
            }
        }
        open = still;
        let syncing = resting_check(store, sources).await?;
        if open.is_empty() && syncing.is_empty() {
            return Ok((lost, Vec::new()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut stuck: Vec<Uuid> = open.into_iter().collect();
    stuck.extend(resting_check(store, sources).await?);
    Ok((lost, stuck))
}

/// Sources still `syncing` whose last job has ended (repaired by the reaper
/// within a period; stuck if they stay so).
async fn resting_check(store: &dyn Store, sources: &[Uuid]) -> Result<Vec<Uuid>> {
    let mut syncing = Vec::new();
    for source in store.list_sources(None).await? {
        if !sources.contains(&source.id) || source.status != feather_api::SourceStatus::Syncing {
            continue;
        }
        let job = match source.last_job_id {
            Some(id) => store.find_job(id).await?,
            None => None,
        };
        if job.is_none_or(|j| j.status.is_terminal()) {
            syncing.push(source.id);
        }
    }
    Ok(syncing)
}

/// `cargo xtask torture --power-loss`: rounds of an in-process server on
/// SQLite over the power-cut VFS, the power cut at a random moment.
pub fn run_power_loss(settings: Settings, synchronous: &str) -> Result<ExitCode> {
    use feather_server::store::SqliteSynchronous;
    use feather_test_support::powerloss::{self, Load, Round};
    use sqlite_powercut::Loss;

    let synchronous = match synchronous {
        "full" => SqliteSynchronous::Full,
        "normal" => SqliteSynchronous::Normal,
        other => anyhow::bail!("--sqlite-synchronous {other:?}: expected full or normal"),
    };
    let seed = settings.seed.unwrap_or_else(Random::seed_from_clock);
    println!(
        "torture: {} min of power cuts on SQLite (synchronous={}), seed {seed}",
        settings.minutes,
        synchronous.as_str()
    );
    let mut random = Random::new(seed);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("power.db");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let deadline = Instant::now() + Duration::from_secs_f64(settings.minutes * 60.0);
    let engine = feather_server::engine::EngineConfig {
        workers: 2,
        lease: Duration::from_millis(LEASE_MS),
        poll_interval: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(2),
        ..feather_server::engine::EngineConfig::default()
    };
    let totals = runtime.block_on(async {
        let url = format!("sqlite:{}", path.display());
        let checker = store::open(&url).await?;
        let demo = feather_server::demo::seed_demo(checker.as_ref()).await?;
        let mut sources = Vec::new();
        for i in 0..SOURCES {
            let config = json!({"items": 40, "item_delay_ms": 5});
            let source = checker
                .create_source(demo.kb_id, &format!("torture {i}"), "synthetic", &config)
                .await?;
            sources.push(source.id);
        }
        checker.close().await;
        drop(checker);
        let load = Load {
            api_key: demo.api_key.clone(),
            kb_id: demo.kb_id,
            sources: sources.clone(),
            clients: CLIENTS * 2,
        };
        let mut totals = Totals::default();
        while Instant::now() < deadline {
            totals.rounds += 1;
            let loss = if random.next_u64().is_multiple_of(2) {
                Loss::Everything
            } else {
                Loss::RandomPrefix {
                    seed: random.next_u64(),
                }
            };
            let round = Round {
                synchronous,
                cut_after: Duration::from_millis(random.between(50, 1_500)),
                loss,
                seed: random.next_u64(),
                sync_delay: Duration::from_micros(random.between(0, 1_000)),
            };
            let cut = powerloss::cut_during_load(&path, &load, round, Some(engine.clone())).await?;
            totals.kills += 1;
            let bound = Duration::from_millis(LEASE_MS * 8) + Duration::from_secs(10);
            let recovery =
                powerloss::recover(&path, &cut.acknowledged, &sources, engine.clone(), bound)
                    .await?;
            println!(
                "round {}: cut after {} ms ({}), {} acknowledged, {} lost, {} stuck, integrity {}",
                totals.rounds,
                round.cut_after.as_millis(),
                match round.loss {
                    Loss::Everything => "all unsynced writes dropped".to_owned(),
                    Loss::RandomPrefix { .. } => format!(
                        "{} unsynced writes kept, {} dropped",
                        cut.cut.kept_writes, cut.cut.lost_writes
                    ),
                },
                cut.acknowledged.len(),
                recovery.lost.len(),
                recovery.stuck.len(),
                recovery.integrity
            );
            if recovery.integrity != "ok" {
                anyhow::bail!(
                    "the database is damaged after round {}: {}",
                    totals.rounds,
                    recovery.integrity
                );
            }
            totals.acknowledged += cut.acknowledged.len() as u64;
            totals.lost.extend(recovery.lost);
            totals.stuck.extend(recovery.stuck);
        }
        anyhow::Ok(totals)
    })?;
    Ok(totals.report("power cuts"))
}
