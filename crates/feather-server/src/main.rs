//! The `feather-server` command line: `serve` (the default), `admin ...` and
//! `openapi`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use dropshot::ConfigLoggingLevel;
use feather_server::admin::{self, AdminCommand};
use feather_server::demo::{curl_lines, seed_demo};
use feather_server::engine::EngineConfig;
use feather_server::{
    LogFormat, MetricsMode, ServeOptions, TlsFiles, logger, raise_open_files_limit,
    shutdown_signal, start_with, store,
};

/// mimalloc instead of glibc's malloc: allocation and free were 15% of the
/// server's instructions per status request under glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serves the Feather knowledge-base sync API (trigger a connector sync, read
/// its status) with API-key auth, tenants and embedded storage.
#[derive(Debug, Parser)]
#[command(
    name = "feather-server",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve(ServeArgs),
    /// Operator commands against the database.
    Admin(AdminArgs),
    /// Print the server's OpenAPI document (JSON) on stdout.
    Openapi,
}

#[derive(Debug, Args)]
struct DatabaseArg {
    /// Database URL: `sqlite:PATH`, `sqlite::memory:` or a file path (SQLite,
    /// embedded), or `postgres://USER@HOST/DB` (PostgreSQL, which several
    /// servers may share).
    #[arg(
        long,
        env = "FEATHER_DATABASE_URL",
        default_value = "sqlite:feather.db",
        global = true
    )]
    database_url: String,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FEATHER_BIND", default_value = "127.0.0.1:8000")]
    bind: SocketAddr,
    #[command(flatten)]
    database: DatabaseArg,
    /// SQLite only: the most MiB the database may hold; writes beyond it are
    /// refused with 503 (as on a full disk) and nothing acknowledged is lost.
    #[arg(long, env = "FEATHER_SQLITE_MAX_MIB", value_parser = clap::value_parser!(u64).range(1..))]
    sqlite_max_mib: Option<u64>,
    /// SQLite only: when a write is on disk. `full` (the default): every
    /// commit is flushed (fsync) before the request is answered, so nothing
    /// acknowledged is lost even by a power cut or an OS crash; writes
    /// waiting together share one flush (group commit). `normal`: commits
    /// are flushed only at checkpoints; a process crash (kill -9) loses
    /// nothing, but a power cut or OS crash loses the writes acknowledged in
    /// the last moments before it.
    #[arg(
        long,
        env = "FEATHER_SQLITE_SYNCHRONOUS",
        value_enum,
        default_value = "full"
    )]
    sqlite_synchronous: SynchronousArg,
    /// Serve HTTPS with this certificate chain (PEM, end-entity first);
    /// needs --tls-key.
    #[arg(long, env = "FEATHER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM, PKCS #8); needs --tls-cert.
    #[arg(long, env = "FEATHER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Serve `/metrics` (Prometheus) on this address, plain HTTP, instead of
    /// on --bind: keeps it private where the API is exposed.
    #[arg(long, env = "FEATHER_METRICS_BIND", conflicts_with = "no_metrics")]
    metrics_bind: Option<SocketAddr>,
    /// Record no metrics and serve no `/metrics`.
    #[arg(long, env = "FEATHER_NO_METRICS")]
    no_metrics: bool,
    /// Do not seed demo data into an empty database.
    #[arg(long)]
    no_demo: bool,
    /// Sync jobs this server runs at once; 0 runs no sync engine here (jobs
    /// wait for another server sharing the database).
    #[arg(long, env = "FEATHER_WORKERS", default_value_t = 4)]
    workers: usize,
    /// Lease of a running job, in ms: a job whose server died is retried
    /// after at most this long.
    #[arg(long, env = "FEATHER_LEASE_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(300..))]
    lease_ms: u64,
    /// Claims per job before it is failed.
    #[arg(long, env = "FEATHER_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(i64).range(1..))]
    max_attempts: i64,
    /// How long shutdown waits for running jobs to be given back, in ms.
    #[arg(long, env = "FEATHER_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    shutdown_grace_ms: u64,
    /// Log line format (`auto`: pretty on a terminal, JSON otherwise).
    #[arg(long, env = "FEATHER_LOG_FORMAT", value_enum, default_value = "auto")]
    log_format: LogFormat,
    /// Minimum log level: trace, debug, info, warn, error, critical.
    #[arg(long, env = "FEATHER_LOG_LEVEL", default_value = "info", value_parser = parse_level)]
    log_level: ConfigLoggingLevel,
}

/// `--sqlite-synchronous`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SynchronousArg {
    /// Flushed before acknowledged: survives a power cut.
    Full,
    /// Flushed at checkpoints: survives a process crash, not a power cut.
    Normal,
}

#[derive(Debug, Args)]
struct AdminArgs {
    #[command(flatten)]
    database: DatabaseArg,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

fn parse_level(text: &str) -> Result<ConfigLoggingLevel, String> {
    serde_json::from_value(serde_json::Value::String(text.to_ascii_lowercase())).map_err(|_| {
        format!("unknown log level {text:?}; expected trace, debug, info, warn, error or critical")
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Admin(args)) => run_admin(args).await,
        Some(Command::Openapi) => print_openapi(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("feather-server: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}

/// `url` with its password, if any, replaced by `***`, for printing.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password at all.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The error and its causes on one line, leaving out a cause whose text an
/// earlier message already quotes (store errors say what their driver said).
fn report(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Held to the end: dropping it writes out the last lines.
    let (log, _log_guard) = logger(args.log_format, args.log_level)?;
    raise_open_files_limit(&log);
    let url = &args.database.database_url;
    let options = store::OpenOptions {
        sqlite_max_bytes: args.sqlite_max_mib.map(|mib| mib.saturating_mul(1 << 20)),
        sqlite_synchronous: match args.sqlite_synchronous {
            SynchronousArg::Full => store::SqliteSynchronous::Full,
            SynchronousArg::Normal => store::SqliteSynchronous::Normal,
        },
        sqlite_vfs: None,
    };
    if url.starts_with("postgres") && matches!(args.sqlite_synchronous, SynchronousArg::Normal) {
        anyhow::bail!(
            "--sqlite-synchronous applies to SQLite only; PostgreSQL commits durably \
             (its synchronous_commit setting)"
        );
    }

    let store = store::open_with(url, &options)
        .await
        .with_context(|| format!("cannot open database {url}"))?;
    let demo = if !args.no_demo && store.is_empty().await? {
        Some(seed_demo(store.as_ref()).await?)
    } else {
        None
    };
    let engine = (args.workers > 0).then(|| EngineConfig {
        workers: args.workers,
        lease: Duration::from_millis(args.lease_ms),
        max_attempts: args.max_attempts,
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        ..EngineConfig::default()
    });
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let metrics = match (args.no_metrics, args.metrics_bind) {
        (true, _) => MetricsMode::Off,
        (false, Some(address)) => MetricsMode::Separate(address),
        (false, None) => MetricsMode::Main,
    };
    let options = ServeOptions {
        bind: args.bind,
        engine,
        tls,
        metrics,
    };
    let server = start_with(store.clone(), options, log)?;
    let base_url = server.base_url();
    let durability = store.durability();
    println!(
        "feather-server listening on {base_url} (database {}, {}{})",
        redacted(url),
        durability.setting,
        if durability.power_cut_safe {
            ""
        } else {
            ": a power cut may lose acknowledged writes"
        }
    );
    if let Some(metrics_url) = server.metrics_url() {
        println!("metrics on {metrics_url}/metrics");
    }
    match demo {
        Some(demo) => print!("{}", curl_lines(&demo, &base_url)),
        None if args.no_demo => {}
        None => println!(
            "The database already has data, so no demo was seeded; \
             `feather-server admin list sources` shows what is there."
        ),
    }
    shutdown_signal().await;
    println!("feather-server: shutting down");
    let stopped = server.shutdown().await;
    // After the engine has given its jobs back: on SQLite, closing the last
    // connection checkpoints the WAL, so the database file alone is complete.
    store.close().await;
    Ok(stopped?)
}

async fn run_admin(args: AdminArgs) -> anyhow::Result<()> {
    let url = &args.database.database_url;
    let store = store::open(url)
        .await
        .with_context(|| format!("cannot open database {url}"))?;
    let output = admin::run(store.as_ref(), args.command).await;
    // Checkpoint what the command wrote into the database file.
    store.close().await;
    let output = output?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        print!("{}", admin::render_text(&output));
    }
    Ok(())
}

fn print_openapi() -> anyhow::Result<()> {
    let document = feather_api::openapi_document().map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn banners_never_show_a_database_password() {
        assert_eq!(
            redacted("postgres://feather:s3cret@db.internal:5432/feather"),
            "postgres://feather:***@db.internal:5432/feather"
        );
        assert_eq!(
            redacted("postgres://feather@db/feather"),
            "postgres://feather@db/feather"
        );
        assert_eq!(redacted("sqlite:feather.db"), "sqlite:feather.db");
        assert_eq!(redacted("/var/lib/feather.db"), "/var/lib/feather.db");
    }
}
