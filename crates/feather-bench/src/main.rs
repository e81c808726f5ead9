//! `feather-bench run` measures everything and writes `BENCHMARKS.md` and
//! its JSON; `feather-bench ceiling` is the hyper ceiling server it spawns.
//! Normally started by `cargo xtask bench`, which builds both in release.

mod report;
mod scenarios;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use feather_test_support::TestDb;

use crate::report::{Machine, Results};
use crate::scenarios::Settings;

#[derive(Debug, Parser)]
#[command(name = "feather-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every benchmark and write the report.
    Run(RunArgs),
    /// Closed-loop load on one or more paths of a running server (for
    /// profiling); prints the report as JSON.
    Load {
        /// Server address, `HOST:PORT`.
        #[arg(long)]
        addr: std::net::SocketAddr,
        /// Request paths, cycled through.
        #[arg(long, required = true)]
        path: Vec<String>,
        /// GET or POST.
        #[arg(long, default_value = "GET")]
        method: String,
        /// `x-api-key` header value.
        #[arg(long, env = "FEATHER_API_KEY", default_value = "")]
        api_key: String,
        /// Connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Measured seconds.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Load generator threads.
        #[arg(long, default_value_t = 1)]
        client_threads: usize,
    },
    /// Serve a fixed body on a free loopback port (the ceiling).
    Ceiling {
        /// The body.
        #[arg(long)]
        body_file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The release `feather-server` binary.
    #[arg(long)]
    server_bin: PathBuf,
    /// A release `feather-server` of an earlier revision: adds the
    /// before/after rounds (POST trigger, GET status, ingest) on SQLite.
    #[arg(long)]
    baseline_bin: Option<PathBuf>,
    /// Markdown report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out_md: PathBuf,
    /// JSON results.
    #[arg(long, default_value = "benchmarks.json")]
    out_json: PathBuf,
    /// Measured seconds per load point.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Warm-up seconds per load point.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Load generator threads.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Sources of the large-history database.
    #[arg(long, default_value_t = 100_000)]
    scale_sources: u64,
    /// Jobs per source there.
    #[arg(long, default_value_t = 10)]
    scale_jobs_per_source: u64,
    /// Simultaneous triggers on one source.
    #[arg(long, default_value_t = 1000)]
    contention: usize,
    /// Items of the synthetic sync.
    #[arg(long, default_value_t = 100_000)]
    synthetic_items: u64,
    /// Pages of the loopback site.
    #[arg(long, default_value_t = 2_000)]
    site_pages: usize,
    /// PostgreSQL server to add rows for (a database is created and dropped).
    #[arg(long, env = "FEATHER_TEST_DATABASE_URL")]
    postgres_url: Option<String>,
    /// How the report names the command that produced it.
    #[arg(long, default_value = "cargo xtask bench")]
    command_line: String,
    /// What the report names as the revision measured.
    #[arg(long, default_value = "unknown")]
    revision: String,
    /// Run only these parts (default: all). A partial report is for
    /// experiments, not for BENCHMARKS.md.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
}

/// A part of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// The API: GET status, the ceilings, scale, metrics cost, triggers.
    Api,
    /// The sync engine.
    Engine,
    /// Durable triggers: SQLite with synchronous full and normal and
    /// PostgreSQL, alone and while a large sync ingests.
    Durability,
    /// This tree's server against `--baseline-bin`, alternating rounds.
    BeforeAfter,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::Run(args) => args.client_threads.max(1),
        Command::Load { client_threads, .. } => (*client_threads).max(1),
        // The ceiling gets what a server gets: tokio's default.
        Command::Ceiling { .. } => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(async {
            match cli.command {
                Command::Run(args) => run(args).await,
                Command::Ceiling { body_file } => ceiling(body_file).await,
                Command::Load {
                    addr,
                    path,
                    method,
                    api_key,
                    connections,
                    seconds,
                    ..
                } => {
                    let method = hyper::Method::from_bytes(method.as_bytes())?;
                    let spec = feather_bench::loadgen::LoadSpec {
                        connections,
                        warmup: Duration::from_millis(500),
                        duration: Duration::from_secs_f64(seconds),
                    };
                    let source = feather_bench::loadgen::cycle(path, &api_key, method);
                    let report = feather_bench::loadgen::run(addr, spec, source).await?;
                    // A closed pipe (`| head`) is an error to report, not a panic.
                    let mut stdout = std::io::stdout().lock();
                    serde_json::to_writer_pretty(&mut stdout, &report)?;
                    writeln!(stdout).context("cannot write the report")?;
                    Ok(())
                }
            }
        }),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("feather-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn ceiling(body_file: PathBuf) -> anyhow::Result<()> {
    let body = std::fs::read(&body_file)
        .with_context(|| format!("cannot read {}", body_file.display()))?;
    let (listener, addr) = feather_bench::servers::loopback().await?;
    println!("ceiling listening on http://{addr}");
    feather_bench::servers::ceiling(listener, Bytes::from(body)).await;
    Ok(())
}

/// Items of the sync that ingests during the durable-trigger load: at the
/// ingest rate of the one writer (45,000 items/s alone on 2 cores) 200,000
/// ended within the load, so the sync is large enough to outlast it; the
/// server is stopped once the load is measured.
const DURABLE_INGEST_ITEMS: u64 = 1_000_000;

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("feather-bench-")
        .tempdir()?;
    let settings = Settings {
        server_bin: args
            .server_bin
            .canonicalize()
            .with_context(|| format!("no server binary at {}", args.server_bin.display()))?,
        self_bin: std::env::current_exe()?,
        work_dir: work.path().to_path_buf(),
        duration: Duration::from_secs_f64(args.seconds),
        warmup: Duration::from_secs_f64(args.warmup),
        scale_sources: args.scale_sources,
        scale_jobs_per_source: args.scale_jobs_per_source,
        contention: args.contention,
        synthetic_items: args.synthetic_items,
        site_pages: args.site_pages,
    };
    let started_at = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let mut backends = Vec::new();
    let mut engine = Vec::new();

    let runs = |part: Part| args.only.is_empty() || args.only.contains(&part);
    let mut ceiling = scenarios::CeilingResults::default();
    if runs(Part::Api) {
        let sqlite_url = scenarios::sqlite_url(&settings.work_dir, "api");
        let (sqlite, body) = scenarios::api(&settings, "sqlite", &sqlite_url).await?;
        backends.push(sqlite);
        ceiling = scenarios::ceiling(&settings, &body).await?;
    }
    if runs(Part::Engine) {
        let url = scenarios::sqlite_url(&settings.work_dir, "engine");
        engine.push(scenarios::engine(&settings, "sqlite", &url).await?);
    }

    let mut before_after = None;
    if let Some(baseline) = &args.baseline_bin
        && runs(Part::BeforeAfter)
    {
        let baseline = baseline
            .canonicalize()
            .with_context(|| format!("no baseline binary at {}", baseline.display()))?;
        before_after = Some(scenarios::before_after(&settings, &baseline, 50_000).await?);
    }
    let mut durability = Vec::new();
    if runs(Part::Durability) {
        for setting in ["full", "normal"] {
            let url = scenarios::sqlite_url(&settings.work_dir, &format!("durable-{setting}"));
            durability.push(
                scenarios::durable_triggers(
                    &settings,
                    &format!("sqlite synchronous={setting}"),
                    &url,
                    &["--sqlite-synchronous", setting],
                    DURABLE_INGEST_ITEMS,
                )
                .await?,
            );
        }
        if let Some(admin_url) = &args.postgres_url {
            let db = TestDb::postgres(admin_url, "feather_bench_durable").await?;
            durability.push(
                scenarios::durable_triggers(
                    &settings,
                    "postgres",
                    &db.url,
                    &[],
                    DURABLE_INGEST_ITEMS,
                )
                .await?,
            );
            drop(db);
        }
    }

    let postgres_skipped = match &args.postgres_url {
        None => Some("FEATHER_TEST_DATABASE_URL was not set.".to_string()),
        Some(admin_url) => {
            // Each database is dropped again when its TestDb is.
            if runs(Part::Api) {
                let db = TestDb::postgres(admin_url, "feather_bench_api").await?;
                backends.push(scenarios::api(&settings, "postgres", &db.url).await?.0);
                drop(db);
            }
            if runs(Part::Engine) {
                let db = TestDb::postgres(admin_url, "feather_bench_engine").await?;
                engine.push(scenarios::engine(&settings, "postgres", &db.url).await?);
                drop(db);
            }
            None
        }
    };

    let results = Results {
        command: args.command_line,
        started_at,
        revision: args.revision,
        machine: Machine::detect(),
        client_threads: args.client_threads.max(1),
        seconds_per_point: args.seconds,
        warmup_seconds: args.warmup,
        ceiling,
        backends,
        engine,
        durability,
        before_after,
        postgres_skipped,
    };
    std::fs::write(
        &args.out_json,
        serde_json::to_string_pretty(&results)? + "\n",
    )
    .with_context(|| format!("cannot write {}", args.out_json.display()))?;
    std::fs::write(&args.out_md, results.markdown())
        .with_context(|| format!("cannot write {}", args.out_md.display()))?;
    eprintln!(
        "feather-bench: wrote {} and {} in {:.0} s",
        args.out_md.display(),
        args.out_json.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
