//! The benchmark scenarios: what is seeded, which process serves it, which
//! load is applied and what is recorded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use bytes::Bytes;
use hyper::Method;
use serde::Serialize;
use uuid::Uuid;

use feather_bench::ceilings::{self, Ceiling, PgTrigger, StatusTarget, TriggerTargets};
use feather_bench::loadgen::{self, BurstReport, LoadReport, LoadSpec, RequestSource};
use feather_bench::process::{self, Memory};
use feather_test_support::process::ServerProcess;

/// Connection counts of the status and trigger tables.
pub const CONNECTIONS: [usize; 3] = [1, 16, 64];

/// What a run is told.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The release `feather-server` binary.
    pub server_bin: PathBuf,
    /// This binary (it also serves the ceiling).
    pub self_bin: PathBuf,
    /// Scratch space: SQLite files, server logs.
    pub work_dir: PathBuf,
    /// Measured time per load point.
    pub duration: Duration,
    /// Unmeasured time before it.
    pub warmup: Duration,
    /// Sources of the large-history database.
    pub scale_sources: u64,
    /// Jobs per source there.
    pub scale_jobs_per_source: u64,
    /// Simultaneous triggers on one source.
    pub contention: usize,
    /// Items of the synthetic sync.
    pub synthetic_items: u64,
    /// Pages of the loopback site.
    pub site_pages: usize,
}

impl Settings {
    fn spec(&self, connections: usize) -> LoadSpec {
        LoadSpec {
            connections,
            warmup: self.warmup,
            duration: self.duration,
        }
    }
}

/// One load point with the server's CPU cost.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    /// What the load generator saw.
    #[serde(flatten)]
    pub load: LoadReport,
    /// Server CPU time per measured response (user + system), in µs;
    /// includes the warm-up's requests, so a slight overestimate.
    pub server_cpu_us_per_request: Option<f64>,
    /// Server memory at the end of the point.
    pub memory: Option<Memory>,
}

/// Runs `spec` against `server` (or an in-process target when `pid` is
/// `None`) and samples the server's CPU time and memory around it.
async fn point(
    addr: SocketAddr,
    pid: Option<u32>,
    spec: LoadSpec,
    source: RequestSource,
) -> anyhow::Result<Point> {
    let cpu_before = pid.map(process::cpu_time).transpose()?;
    let load = loadgen::run(addr, spec, source).await?;
    let cpu_after = pid.map(process::cpu_time).transpose()?;
    let memory = pid.map(process::memory).transpose()?;
    let server_cpu_us_per_request = match (cpu_before, cpu_after) {
        (Some(before), Some(after)) if load.requests > 0 => {
            Some((after - before).as_micros() as f64 / load.requests as f64)
        }
        _ => None,
    };
    eprintln!(
        "    {:>3} conn: {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  statuses {:?}  errors {}",
        spec.connections,
        load.requests_per_second,
        load.latency.p50_us,
        load.latency.p99_us,
        load.statuses,
        load.errors
    );
    Ok(Point {
        load,
        server_cpu_us_per_request,
        memory,
    })
}

/// The hyper ceiling at each connection count.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CeilingResults {
    /// Bytes of the fixed body (the size of a real status body).
    pub body_bytes: usize,
    /// One point per connection count.
    pub points: Vec<Point>,
}

/// Measures the minimal hyper server answering `body`.
pub async fn ceiling(settings: &Settings, body: &Bytes) -> anyhow::Result<CeilingResults> {
    eprintln!(
        "  ceiling: minimal hyper server, fixed {}-byte body",
        body.len()
    );
    let server = spawn_ceiling(settings, body, "ceiling").await?;
    let pid = server.pid();
    let mut points = Vec::new();
    for connections in CONNECTIONS {
        let source = loadgen::cycle(vec!["/status".into()], "", Method::GET);
        points.push(point(server.addr, Some(pid), settings.spec(connections), source).await?);
    }
    drop(server); // SIGKILL, and wait for the exit
    Ok(CeilingResults {
        body_bytes: body.len(),
        points,
    })
}

/// Starts the hyper ceiling server answering `body` (`label` names its files).
async fn spawn_ceiling(
    settings: &Settings,
    body: &Bytes,
    label: &str,
) -> anyhow::Result<ServerProcess> {
    let body_file = settings.work_dir.join(format!("{label}-body.json"));
    std::fs::write(&body_file, body)?;
    let mut command = Command::new(&settings.self_bin);
    command.arg("ceiling").arg("--body-file").arg(&body_file);
    spawn_server(command, &settings.work_dir.join(format!("{label}.log"))).await
}

/// Status latency with a small and a large history.
#[derive(Clone, Debug, Serialize)]
pub struct ScaleResults {
    /// Jobs in the small database.
    pub small_jobs: u64,
    /// Sources in the small database.
    pub small_sources: u64,
    /// Jobs in the large database.
    pub large_jobs: u64,
    /// Sources in the large database.
    pub large_sources: u64,
    /// Seconds the bulk load took.
    pub seed_seconds: f64,
    /// Status of random sources of the large database, per connection count
    /// (compare with [`BackendResults::status`], the small database).
    pub points: Vec<Point>,
}

/// Results on one database backend.
#[derive(Clone, Debug, Serialize)]
pub struct BackendResults {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Bytes of the status body.
    pub status_body_bytes: usize,
    /// GET status on a small database, per connection count.
    pub status: Vec<Point>,
    /// GET status with a large history.
    pub scale: ScaleResults,
    /// POST trigger, each on a distinct source, per connection count.
    pub triggers: Vec<Point>,
    /// Simultaneous triggers on one source.
    pub contention: BurstReport,
    /// Server memory after start-up, before any load.
    pub idle_memory: Memory,
    /// GET status with and without metrics.
    pub metrics_cost: MetricsCost,
    /// GET status @64 against the hyper ceiling, in alternating rounds.
    pub ceiling_share: CeilingShare,
    /// The database's own ceilings for the same status query and trigger
    /// transaction, per caller count.
    pub ceilings: Vec<Ceiling>,
}

impl BackendResults {
    /// The best database ceiling for `operation` at `callers`.
    pub fn ceiling(&self, operation: &str, callers: usize) -> Option<&Ceiling> {
        self.ceilings
            .iter()
            .filter(|c| c.operation == operation && c.callers == callers)
            .max_by(|a, b| a.per_second.total_cmp(&b.per_second))
    }
}

/// Sources seeded per database-ceiling trigger point (each is triggered
/// once; a point ends early when they run out).
const CEILING_TRIGGER_SOURCES: u64 = 60_000;

/// The status query and the trigger transaction straight against the
/// database, at each caller count (see `feather_bench::ceilings`).
async fn database_ceilings(
    settings: &Settings,
    url: &str,
    t: &Tenant,
    status_source: Uuid,
) -> anyhow::Result<Vec<Ceiling>> {
    let sqlite_path = url.strip_prefix("sqlite:").map(PathBuf::from);
    let target = StatusTarget {
        org_id: t.org_id,
        kb_id: t.kb,
        source_id: status_source,
    };
    let mut ceilings = Vec::new();
    let mut record = |c: Ceiling| {
        eprintln!(
            "    database {} ({}), {:>3} callers: {:>9.0}/s",
            c.operation, c.variant, c.callers, c.per_second
        );
        ceilings.push(c);
    };
    for callers in CONNECTIONS {
        let measured = match &sqlite_path {
            Some(path) => {
                let path = path.clone();
                let duration = settings.duration;
                tokio::task::spawn_blocking(move || {
                    ceilings::sqlite_status(&path, target, callers, duration)
                })
                .await??
            }
            None => ceilings::postgres_status(url, target, callers, settings.duration).await?,
        };
        record(measured);
    }
    let variants: &[Option<PgTrigger>] = match sqlite_path {
        // NORMAL, then FULL (the durable one-transaction-per-trigger ceiling).
        Some(_) => &[None, None],
        None => &[
            Some(PgTrigger::ServerStatements),
            Some(PgTrigger::OneStatement),
        ],
    };
    for (n, how) in variants.iter().enumerate() {
        for callers in CONNECTIONS {
            let prefix = format!("ceiling-{n}-{callers}");
            let sources = seed(url, t.kb, &prefix, CEILING_TRIGGER_SOURCES, 0).await?;
            let targets = TriggerTargets {
                org_id: t.org_id,
                kb_id: t.kb,
                sources,
            };
            let measured = match (&sqlite_path, how) {
                (Some(path), _) => {
                    let path = path.clone();
                    let duration = settings.duration;
                    let synchronous = if n == 0 { "NORMAL" } else { "FULL" };
                    tokio::task::spawn_blocking(move || {
                        ceilings::sqlite_trigger(&path, &targets, callers, duration, synchronous)
                    })
                    .await??
                }
                (None, Some(how)) => {
                    ceilings::postgres_trigger(url, &targets, callers, settings.duration, *how)
                        .await?
                }
                (None, None) => bail!("no trigger variant for PostgreSQL"),
            };
            record(measured);
        }
    }
    Ok(ceilings)
}

/// GET status at 64 connections served with metrics (the default) and with
/// `--no-metrics`, alternating servers (A B B A A B) on one database so that
/// machine noise and order fall on both alike.
#[derive(Clone, Debug, Serialize)]
pub struct MetricsCost {
    /// Rounds with metrics, in run order.
    pub with_metrics: Vec<Point>,
    /// Rounds without, in run order.
    pub without_metrics: Vec<Point>,
}

impl MetricsCost {
    /// Median requests per second of `points`.
    pub fn median_rps(points: &[Point]) -> f64 {
        let mut rates: Vec<f64> = points.iter().map(|p| p.load.requests_per_second).collect();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied().unwrap_or(f64::NAN)
    }

    /// Median server CPU per response of `points`, in µs.
    pub fn median_cpu_us(points: &[Point]) -> f64 {
        let mut cpu: Vec<f64> = points
            .iter()
            .filter_map(|p| p.server_cpu_us_per_request)
            .collect();
        cpu.sort_by(f64::total_cmp);
        cpu.get(cpu.len() / 2).copied().unwrap_or(f64::NAN)
    }

    /// Throughput lost to metrics, in percent of the rate without them.
    pub fn cost_percent(&self) -> f64 {
        let without = Self::median_rps(&self.without_metrics);
        (without - Self::median_rps(&self.with_metrics)) / without * 100.0
    }
}

/// Measures [`MetricsCost`] for GET `path` on the database at `url`.
async fn metrics_cost(
    settings: &Settings,
    backend: &str,
    url: &str,
    path: &str,
    api_key: &str,
) -> anyhow::Result<MetricsCost> {
    eprintln!("  GET status @64, with and without metrics ({ROUNDS} rounds each)");
    let mut round = 0;
    let (with_metrics, without_metrics) = alternating(async |with| {
        round += 1;
        let mut command = server_command(settings, url, 0);
        if !with {
            command.arg("--no-metrics");
        }
        let label = if with { "with" } else { "without" };
        let log = format!("{backend}-metrics-{label}-{round}.log");
        let server = spawn_server(command, &settings.work_dir.join(log)).await?;
        eprint!("    {label:>7} metrics:");
        let source = loadgen::cycle(vec![path.to_owned()], api_key, Method::GET);
        point(server.addr, Some(server.pid()), settings.spec(64), source).await
    })
    .await?;
    Ok(MetricsCost {
        with_metrics,
        without_metrics,
    })
}

/// Rounds per side of the alternating measurements ([`MetricsCost`],
/// [`CeilingShare`]).
const ROUNDS: usize = 3;

/// Runs [`ROUNDS`] measurements of each of two sides in the order A B B A A
/// B, so that the machine's drift and the order fall on both alike (the
/// first of a pair met colder caches and connections in earlier runs);
/// returns A's points and B's, each in run order. `measure(true)` measures A.
async fn alternating(
    mut measure: impl AsyncFnMut(bool) -> anyhow::Result<Point>,
) -> anyhow::Result<(Vec<Point>, Vec<Point>)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS * 2 {
        let is_a = matches!(round % 4, 0 | 3);
        let measured = measure(is_a).await?;
        if is_a {
            a.push(measured);
        } else {
            b.push(measured);
        }
    }
    Ok((a, b))
}

/// GET status at 64 connections and the hyper ceiling answering a body of
/// the same size, in alternating rounds (A B B A A B) while both servers
/// run: the share of the ceiling compares the medians. On a shared VM the
/// same server's throughput drifts by a quarter within minutes, so a
/// ceiling measured once, minutes before, is no denominator.
#[derive(Clone, Debug, Serialize)]
pub struct CeilingShare {
    /// Rounds of the hyper ceiling, in run order.
    pub ceiling: Vec<Point>,
    /// Rounds of `feather-server`, in run order.
    pub server: Vec<Point>,
}

impl CeilingShare {
    /// Median server rate over median ceiling rate.
    pub fn fraction(&self) -> f64 {
        MetricsCost::median_rps(&self.server) / MetricsCost::median_rps(&self.ceiling)
    }
}

/// Measures [`CeilingShare`]: `server` answering GET `path`, and a ceiling
/// server started here answering `body`.
async fn ceiling_share(
    settings: &Settings,
    backend: &str,
    server: &ServerProcess,
    path: &str,
    api_key: &str,
    body: &Bytes,
) -> anyhow::Result<CeilingShare> {
    eprintln!("  GET status @64 and the hyper ceiling, alternating ({ROUNDS} rounds each)");
    let ceiling = spawn_ceiling(settings, body, &format!("{backend}-share-ceiling")).await?;
    let (ceiling_points, server_points) = alternating(async |is_ceiling| {
        let (target, source) = if is_ceiling {
            eprint!("    hyper ceiling:");
            let source = loadgen::cycle(vec!["/status".into()], "", Method::GET);
            (&ceiling, source)
        } else {
            eprint!("    {backend:>13}:");
            (
                server,
                loadgen::cycle(vec![path.to_owned()], api_key, Method::GET),
            )
        };
        point(target.addr, Some(target.pid()), settings.spec(64), source).await
    })
    .await?;
    drop(ceiling);
    Ok(CeilingShare {
        ceiling: ceiling_points,
        server: server_points,
    })
}

fn status_path(kb: Uuid, source: Uuid) -> String {
    format!("/v1/knowledge-base/knowledge-bases/{kb}/sources/{source}/sync/status")
}

fn trigger_path(kb: Uuid, source: Uuid) -> String {
    format!("/v1/knowledge-base/knowledge-bases/{kb}/sources/{source}/sync")
}

/// A tenant, a key and a knowledge base in a fresh database.
struct Tenant {
    org_id: Uuid,
    kb: Uuid,
    api_key: String,
}

async fn tenant(url: &str) -> anyhow::Result<Tenant> {
    let store = feather_server::store::open(url).await?;
    let org = store.create_organization("bench").await?.id;
    let kb = store.create_knowledge_base(org, "bench").await?.id;
    let (api_key, _) = feather_server::auth::issue_key(store.as_ref(), org, "bench").await?;
    Ok(Tenant {
        org_id: org,
        kb,
        api_key,
    })
}

async fn seed(
    url: &str,
    kb: Uuid,
    prefix: &str,
    sources: u64,
    jobs: u64,
) -> anyhow::Result<Vec<Uuid>> {
    let store = feather_server::store::open(url).await?;
    Ok(store.seed_history(kb, prefix, sources, jobs).await?)
}

/// Starts a server process with its stderr in `log`, waiting (off the
/// runtime's threads) for the address it prints.
async fn spawn_server(
    mut command: Command,
    log: &std::path::Path,
) -> anyhow::Result<ServerProcess> {
    let log_file =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    command.stderr(log_file);
    let started = tokio::task::spawn_blocking(move || ServerProcess::spawn(command)).await?;
    started.with_context(|| format!("the server did not start (see {})", log.display()))
}

fn server_command(settings: &Settings, url: &str, workers: usize) -> Command {
    server_command_of(&settings.server_bin, url, workers)
}

fn server_command_of(binary: &Path, url: &str, workers: usize) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .args(["--bind", "127.0.0.1:0", "--no-demo"])
        .args(["--database-url", url])
        .args(["--workers", &workers.to_string()])
        .env_remove("FEATHER_LOG_LEVEL")
        .env_remove("FEATHER_LOG_FORMAT");
    command
}

/// GET status, history scale, POST triggers and contention on one backend,
/// served by the release binary with its default logging (to a file) and
/// no sync workers (so triggered jobs stay queued and cost nothing).
/// Returns the results and a status body (for the ceiling).
pub async fn api(
    settings: &Settings,
    backend: &str,
    url: &str,
) -> anyhow::Result<(BackendResults, Bytes)> {
    eprintln!("{backend}: seeding a small database (1 source, 10 jobs)");
    let t = tenant(url).await?;
    let small = seed(url, t.kb, "status", 1, 10).await?;
    let server = spawn_server(
        server_command(settings, url, 0),
        &settings.work_dir.join(format!("{backend}-api.log")),
    )
    .await?;
    let pid = server.pid();
    // Let start-up allocations settle before reading the idle footprint.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_memory = process::memory(pid)?;

    let path = status_path(t.kb, small[0]);
    let (status, body) = loadgen::fetch(
        server.addr,
        loadgen::request(Method::GET, &path, &t.api_key),
    )
    .await?;
    ensure!(
        status == 200,
        "status answered {status}: {}",
        String::from_utf8_lossy(&body)
    );

    eprintln!("  GET status, small database");
    let mut status_points = Vec::new();
    for connections in CONNECTIONS {
        let source = loadgen::cycle(vec![path.clone()], &t.api_key, Method::GET);
        status_points
            .push(point(server.addr, Some(pid), settings.spec(connections), source).await?);
    }

    let ceiling_share = ceiling_share(settings, backend, &server, &path, &t.api_key, &body).await?;
    let metrics_cost = metrics_cost(settings, backend, url, &path, &t.api_key).await?;
    eprintln!("  database ceilings (the same statements, no server)");
    let ceilings = database_ceilings(settings, url, &t, small[0]).await?;

    let more = settings.scale_sources.saturating_sub(1);
    let jobs = settings.scale_jobs_per_source;
    eprintln!("{backend}: bulk-loading {more} more sources with {jobs} jobs each");
    let seeding = Instant::now();
    let mut large = seed(url, t.kb, "history", more, jobs).await?;
    let seed_seconds = seeding.elapsed().as_secs_f64();
    large.push(small[0]);
    // Poll sources in a scattered order, as many clients would.
    large.sort_unstable_by_key(|id| id.as_u128().reverse_bits());
    let large_paths: Vec<String> = large.iter().map(|id| status_path(t.kb, *id)).collect();
    eprintln!("  GET status, large database (random sources)");
    let mut scale_points = Vec::new();
    for connections in CONNECTIONS {
        let source = loadgen::cycle(large_paths.clone(), &t.api_key, Method::GET);
        scale_points.push(point(server.addr, Some(pid), settings.spec(connections), source).await?);
    }
    let scale = ScaleResults {
        small_jobs: 10,
        small_sources: 1,
        large_jobs: 10 + more * jobs,
        large_sources: large.len() as u64,
        seed_seconds,
        points: scale_points,
    };

    eprintln!("  POST trigger, distinct sources");
    let per_point = 30_000;
    let mut trigger_points = Vec::new();
    for connections in CONNECTIONS {
        let ids = seed(url, t.kb, &format!("trigger-{connections}"), per_point, 0).await?;
        let paths = ids.iter().map(|id| trigger_path(t.kb, *id)).collect();
        let source = loadgen::each_once(paths, &t.api_key, Method::POST);
        trigger_points
            .push(point(server.addr, Some(pid), settings.spec(connections), source).await?);
    }

    eprintln!(
        "  POST trigger, {} at once on one source",
        settings.contention
    );
    let contended = seed(url, t.kb, "contended", 1, 0).await?;
    let path = trigger_path(t.kb, contended[0]);
    let source = loadgen::cycle(vec![path], &t.api_key, Method::POST);
    let contention = loadgen::burst(server.addr, settings.contention, source).await?;
    eprintln!(
        "    {} requests: statuses {:?}, errors {}, p99 {} µs, all answered in {:.3} s",
        contention.requests,
        contention.statuses,
        contention.errors,
        contention.latency.p99_us,
        contention.seconds
    );
    drop(server); // SIGKILL, and wait for the exit
    Ok((
        BackendResults {
            backend: backend.into(),
            status_body_bytes: body.len(),
            status: status_points,
            scale,
            triggers: trigger_points,
            contention,
            idle_memory,
            metrics_cost,
            ceiling_share,
            ceilings,
        },
        body,
    ))
}

/// One sync measured from its job's own timestamps.
#[derive(Clone, Debug, Serialize)]
pub struct SyncRun {
    /// What ran.
    pub what: String,
    /// Jobs run at once.
    pub jobs: usize,
    /// Items (or pages) processed over all jobs.
    pub items: u64,
    /// From the first start to the last completion, in seconds.
    pub seconds: f64,
    /// `items / seconds`.
    pub items_per_second: f64,
    /// Final job status (of the first job).
    pub status: String,
}

/// Sync engine results on one backend.
#[derive(Clone, Debug, Serialize)]
pub struct EngineResults {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Workers of the server.
    pub workers: usize,
    /// The runs.
    pub runs: Vec<SyncRun>,
    /// One source of half, once and twice the synthetic items, in that
    /// order: the ingest rate should not depend on the job's size.
    pub sizes: Vec<SyncRun>,
}

/// The sync engine (default 4 workers) running synthetic sources and a crawl
/// of a loopback site.
pub async fn engine(
    settings: &Settings,
    backend: &str,
    url: &str,
) -> anyhow::Result<EngineResults> {
    let workers = 4;
    let t = tenant(url).await?;
    let store = feather_server::store::open(url).await?;
    let items = settings.synthetic_items;
    let one = store
        .create_source(
            t.kb,
            "synthetic-1",
            "synthetic",
            &serde_json::json!({ "items": items }),
        )
        .await?
        .id;
    let size_items = [items / 2, items, items * 2];
    let mut by_size = Vec::new();
    for n in size_items {
        let config = serde_json::json!({ "items": n });
        let source = store
            .create_source(t.kb, &format!("synthetic-size-{n}"), "synthetic", &config)
            .await?;
        by_size.push((n, source.id));
    }
    let mut parallel = Vec::new();
    for i in 0..workers {
        let config = serde_json::json!({ "items": items / workers as u64 });
        parallel.push(
            store
                .create_source(t.kb, &format!("synthetic-par-{i}"), "synthetic", &config)
                .await?
                .id,
        );
    }
    let (site_listener, site_addr) = feather_bench::servers::loopback().await?;
    let pages = settings.site_pages;
    let site = tokio::spawn(feather_bench::servers::site(site_listener, pages));
    let crawl_config = serde_json::json!({
        "roots": [format!("http://{site_addr}/p/0")],
        "max_pages": pages,
        "max_depth": 16,
    });
    let crawl = store
        .create_source(t.kb, "site", "url", &crawl_config)
        .await?
        .id;
    drop(store);

    let server = spawn_server(
        server_command(settings, url, workers),
        &settings.work_dir.join(format!("{backend}-engine.log")),
    )
    .await?;
    let mut runs = Vec::new();
    eprintln!("{backend}: sync engine, {workers} workers");
    runs.push(sync(&server, &t, &format!("synthetic, {items} items"), &[one]).await?);
    runs.push(
        sync(
            &server,
            &t,
            &format!(
                "synthetic, {workers} sources × {} items at once",
                items / workers as u64
            ),
            &parallel,
        )
        .await?,
    );
    runs.push(
        sync(
            &server,
            &t,
            &format!("url, loopback site of {pages} pages"),
            &[crawl],
        )
        .await?,
    );
    let mut sizes = Vec::new();
    for (n, source) in by_size {
        sizes.push(sync(&server, &t, &format!("synthetic, {n} items"), &[source]).await?);
    }
    drop(server); // SIGKILL, and wait for the exit
    site.abort();
    Ok(EngineResults {
        backend: backend.into(),
        workers,
        runs,
        sizes,
    })
}

/// Triggers `sources` at once and waits for every job to end.
async fn sync(
    server: &ServerProcess,
    t: &Tenant,
    what: &str,
    sources: &[Uuid],
) -> anyhow::Result<SyncRun> {
    for source in sources {
        let request = loadgen::request(Method::POST, &trigger_path(t.kb, *source), &t.api_key);
        let (status, body) = loadgen::fetch(server.addr, request).await?;
        ensure!(
            status == 200,
            "trigger answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut finished = Vec::new();
    for source in sources {
        loop {
            let request = loadgen::request(Method::GET, &status_path(t.kb, *source), &t.api_key);
            let (status, body) = loadgen::fetch(server.addr, request).await?;
            ensure!(status == 200, "status answered {status}");
            let state: serde_json::Value = serde_json::from_slice(&body)?;
            let job_status = state["last_sync_status"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if matches!(
                job_status.as_str(),
                "completed" | "partial_failure" | "failed"
            ) {
                finished.push((state, job_status));
                break;
            }
            if Instant::now() > deadline {
                bail!("{what}: the sync did not finish within 600 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let time =
        |state: &serde_json::Value, field: &str| -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
            let text = state[field]
                .as_str()
                .ok_or_else(|| anyhow!("no {field} in {state}"))?;
            Ok(chrono::DateTime::parse_from_rfc3339(text)
                .with_context(|| format!("bad {field} {text:?}"))?
                .to_utc())
        };
    let mut first_start = None;
    let mut last_end = None;
    let mut items = 0;
    for (state, _) in &finished {
        let start = time(state, "last_sync_started_at")?;
        let end = time(state, "last_sync_completed_at")?;
        first_start =
            Some(first_start.map_or(start, |s: chrono::DateTime<chrono::Utc>| s.min(start)));
        last_end = Some(last_end.map_or(end, |e: chrono::DateTime<chrono::Utc>| e.max(end)));
        items += state["processed_count"].as_u64().unwrap_or(0);
    }
    let (Some(start), Some(end)) = (first_start, last_end) else {
        bail!("{what}: no job ran");
    };
    let seconds = ((end - start).num_microseconds().unwrap_or(0) as f64 / 1e6).max(1e-6);
    let status = finished.first().map(|(_, s)| s.clone()).unwrap_or_default();
    eprintln!(
        "    {what}: {items} in {seconds:.2} s = {:.0}/s ({status})",
        items as f64 / seconds
    );
    Ok(SyncRun {
        what: what.into(),
        jobs: sources.len(),
        items,
        seconds,
        items_per_second: items as f64 / seconds,
        status,
    })
}

/// A fresh SQLite file in the work directory.
pub fn sqlite_url(work_dir: &Path, label: &str) -> String {
    format!("sqlite:{}", work_dir.join(format!("{label}.db")).display())
}

/// POST trigger on distinct sources under one commit setting, alone and
/// while a large sync ingests.
#[derive(Clone, Debug, Serialize)]
pub struct DurableTriggers {
    /// `sqlite synchronous=full`, `sqlite synchronous=normal`, `postgres`.
    pub label: String,
    /// 16 and 64 connections, no sync running.
    pub points: Vec<Point>,
    /// 16 connections while one worker ingests a large synthetic sync.
    pub while_ingesting: Point,
    /// Items of that sync.
    pub ingest_items: u64,
    /// Its ingest rate during the trigger load (items/s, from its status).
    pub ingest_items_per_second: f64,
    /// Its ingest rate alone, just before the load (items/s).
    pub ingest_alone_items_per_second: f64,
}

/// Connections of the durable-trigger rows.
pub const DURABLE_CONNECTIONS: [usize; 2] = [16, 64];

/// POST triggers on `url`, the server run with `server_args` (e.g.
/// `--sqlite-synchronous normal`): at 16 and 64 connections, then at 16
/// while one worker ingests `ingest_items` synthetic items.
pub async fn durable_triggers(
    settings: &Settings,
    label: &str,
    url: &str,
    server_args: &[&str],
    ingest_items: u64,
) -> anyhow::Result<DurableTriggers> {
    let per_point = 30_000;
    let t = tenant(url).await?;
    let mut batches = Vec::new();
    for (i, _) in DURABLE_CONNECTIONS.iter().enumerate() {
        batches.push(seed(url, t.kb, &format!("durable-{i}"), per_point, 0).await?);
    }
    let during = seed(url, t.kb, "durable-ingesting", per_point, 0).await?;
    let big = {
        let store = feather_server::store::open(url).await?;
        let config = serde_json::json!({ "items": ingest_items });
        let id = store
            .create_source(t.kb, "durable-big", "synthetic", &config)
            .await?
            .id;
        store.close().await;
        id
    };
    let slug = label.replace([' ', '='], "-");
    eprintln!("{label}: POST trigger at 16 connections while {ingest_items} items ingest");
    let mut command = server_command(settings, url, 1);
    command.args(server_args);
    let server = spawn_server(
        command,
        &settings.work_dir.join(format!("{slug}-ingest.log")),
    )
    .await?;
    let request = loadgen::request(Method::POST, &trigger_path(t.kb, big), &t.api_key);
    let (status, body) = loadgen::fetch(server.addr, request).await?;
    ensure!(
        status == 200,
        "trigger answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let processed = |server: SocketAddr| {
        let (kb, key) = (t.kb, t.api_key.clone());
        async move {
            let request = loadgen::request(Method::GET, &status_path(kb, big), &key);
            let (_, body) = loadgen::fetch(server, request).await?;
            let state: serde_json::Value = serde_json::from_slice(&body)?;
            anyhow::Ok((
                Instant::now(),
                state["processed_count"].as_u64().unwrap_or(0),
            ))
        }
    };
    // Wait for the ingest to run, then measure it alone for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    while processed(server.addr).await?.1 == 0 {
        ensure!(Instant::now() < deadline, "the large sync did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (alone_start, alone_from) = processed(server.addr).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (load_start, load_from) = processed(server.addr).await?;
    let alone = (load_from - alone_from) as f64 / (load_start - alone_start).as_secs_f64();
    let paths = during.iter().map(|id| trigger_path(t.kb, *id)).collect();
    let source = loadgen::each_once(paths, &t.api_key, Method::POST);
    let while_ingesting = point(server.addr, Some(server.pid()), settings.spec(16), source).await?;
    let (load_end, load_to) = processed(server.addr).await?;
    ensure!(
        load_to < ingest_items,
        "the {ingest_items}-item sync ended before the trigger load did: make it larger"
    );
    let during_rate = (load_to - load_from) as f64 / (load_end - load_start).as_secs_f64();
    eprintln!(
        "    ingest: {alone:.0} items/s alone, {during_rate:.0} items/s under the trigger load"
    );
    drop(server);
    eprintln!("{label}: POST trigger, distinct sources");
    let mut command = server_command(settings, url, 0);
    command.args(server_args);
    let server = spawn_server(
        command,
        &settings.work_dir.join(format!("{slug}-triggers.log")),
    )
    .await?;
    let mut points = Vec::new();
    for (connections, ids) in DURABLE_CONNECTIONS.iter().zip(&batches) {
        let paths = ids.iter().map(|id| trigger_path(t.kb, *id)).collect();
        let source = loadgen::each_once(paths, &t.api_key, Method::POST);
        points.push(
            point(
                server.addr,
                Some(server.pid()),
                settings.spec(*connections),
                source,
            )
            .await?,
        );
    }
    drop(server);

    Ok(DurableTriggers {
        label: label.into(),
        points,
        while_ingesting,
        ingest_items,
        ingest_items_per_second: during_rate,
        ingest_alone_items_per_second: alone,
    })
}

/// One side's rounds of [`BeforeAfter`], in run order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Side {
    /// POST trigger on distinct sources, 16 connections.
    pub triggers: Vec<Point>,
    /// GET status, one source, 64 connections.
    pub status: Vec<Point>,
    /// A synthetic sync run by the default engine (4 workers).
    pub ingest: Vec<SyncRun>,
}

/// The server of this tree against a baseline binary (an earlier revision)
/// on SQLite with each one's defaults, in alternating rounds A B B A A B
/// (A the baseline): the write path's rate and p99, GET status and the
/// ingest rate.
#[derive(Clone, Debug, Serialize)]
pub struct BeforeAfter {
    /// What the baseline binary is (as given).
    pub baseline: String,
    /// Its rounds.
    pub before: Side,
    /// This tree's rounds.
    pub after: Side,
    /// Items of each ingest run.
    pub ingest_items: u64,
}

/// Measures [`BeforeAfter`]: `baseline_bin` against the server of
/// `settings`, each round on fresh trigger sources of one database and a
/// fresh synthetic source of another (so no queued trigger job is in the
/// engine's way).
pub async fn before_after(
    settings: &Settings,
    baseline_bin: &Path,
    ingest_items: u64,
) -> anyhow::Result<BeforeAfter> {
    let api_url = sqlite_url(&settings.work_dir, "before-after-api");
    let ingest_url = sqlite_url(&settings.work_dir, "before-after-ingest");
    let t = tenant(&api_url).await?;
    let small = seed(&api_url, t.kb, "status", 1, 10).await?;
    let status = status_path(t.kb, small[0]);
    let ingest_tenant = tenant(&ingest_url).await?;
    let (mut before, mut after) = (Side::default(), Side::default());
    eprintln!(
        "before/after: {} against this tree, alternating ({ROUNDS} rounds each)",
        baseline_bin.display()
    );
    for round in 0..ROUNDS * 2 {
        let is_before = matches!(round % 4, 0 | 3);
        let (binary, side, label) = if is_before {
            (baseline_bin, &mut before, "before")
        } else {
            (settings.server_bin.as_path(), &mut after, "after")
        };
        let ids = seed(&api_url, t.kb, &format!("ab-{round}"), 30_000, 0).await?;
        let log = settings
            .work_dir
            .join(format!("before-after-{round}-api.log"));
        let server = spawn_server(server_command_of(binary, &api_url, 0), &log).await?;
        eprint!("    {label:>6} trigger:");
        let paths = ids.iter().map(|id| trigger_path(t.kb, *id)).collect();
        let source = loadgen::each_once(paths, &t.api_key, Method::POST);
        side.triggers
            .push(point(server.addr, Some(server.pid()), settings.spec(16), source).await?);
        eprint!("    {label:>6}  status:");
        let source = loadgen::cycle(vec![status.clone()], &t.api_key, Method::GET);
        side.status
            .push(point(server.addr, Some(server.pid()), settings.spec(64), source).await?);
        drop(server);
        let source = {
            let store = feather_server::store::open(&ingest_url).await?;
            let config = serde_json::json!({ "items": ingest_items });
            let id = store
                .create_source(
                    ingest_tenant.kb,
                    &format!("ab-ingest-{round}"),
                    "synthetic",
                    &config,
                )
                .await?
                .id;
            store.close().await;
            id
        };
        let log = settings
            .work_dir
            .join(format!("before-after-{round}-ingest.log"));
        let server = spawn_server(server_command_of(binary, &ingest_url, 4), &log).await?;
        eprint!("    {label:>6}  ingest:");
        side.ingest.push(
            sync(
                &server,
                &ingest_tenant,
                &format!("{label}, {ingest_items} items"),
                &[source],
            )
            .await?,
        );
        drop(server);
    }
    Ok(BeforeAfter {
        baseline: baseline_bin.display().to_string(),
        before,
        after,
        ingest_items,
    })
}
