//! `feather`: trigger, inspect and watch knowledge-base syncs.
//!
//! Built only on `feather-client`. Output: a progress bar on a terminal,
//! plain lines (no control codes) when stdout is not one, JSON with
//! `--json`. Exit codes: 0 success (a watched sync `completed`), 1 error
//! (the server's message on one line), 2 usage, 3 the sync `failed`, 4 the
//! sync ended in `partial_failure`, 130 interrupted.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use feather_client::types::SyncStatusResponse;
use feather_client::{ApiError, Client, Error, RetryPolicy, Triggered, WaitError};
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use uuid::Uuid;

/// Trigger and watch Feather knowledge-base syncs.
#[derive(Parser)]
#[command(name = "feather", version)]
struct Cli {
    /// The Feather API's base URL.
    #[arg(
        long,
        env = "FEATHER_BASE_URL",
        default_value = "http://localhost:8000",
        global = true
    )]
    base_url: String,
    /// Your API key (never printed).
    #[arg(long, env = "FEATHER_API_KEY", hide_env_values = true, global = true)]
    api_key: Option<String>,
    /// How long to keep retrying a request that failed on the way (server
    /// restarting or unreachable, 502/503/504), in seconds; 0: never.
    #[arg(
        long,
        env = "FEATHER_RETRY_SECONDS",
        default_value_t = 30,
        global = true
    )]
    retry_seconds: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connector syncs.
    #[command(subcommand)]
    Sync(SyncCommand),
}

#[derive(Subcommand)]
enum SyncCommand {
    /// Queue a sync; with --wait, follow it to the end (attaching to a sync
    /// that is already running).
    Trigger {
        #[command(flatten)]
        target: Target,
        /// Follow the sync until it ends.
        #[arg(long)]
        wait: bool,
        /// JSON output for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show a source's sync status.
    Status {
        #[command(flatten)]
        target: Target,
        /// JSON output (the API's status body).
        #[arg(long)]
        json: bool,
    },
    /// Follow a source's current sync until it ends.
    Watch {
        #[command(flatten)]
        target: Target,
        /// One JSON status object per line instead of a bar.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Clone, Copy)]
struct Target {
    /// Knowledge base id.
    kb: Uuid,
    /// Source id.
    source: Uuid,
}

/// Exit code for a sync that ended `failed`.
const EXIT_FAILED: u8 = 3;
/// Exit code for a sync that ended `partial_failure`.
const EXIT_PARTIAL: u8 = 4;
/// Exit code after Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;

/// A failure, as one line for the user.
struct Failure(String);

impl From<Error<ApiError>> for Failure {
    fn from(e: Error<ApiError>) -> Self {
        Failure(match e {
            Error::ErrorResponse(answer) => {
                let status = answer.status();
                format!("{}: {}", status.as_u16(), answer.into_inner().message())
            }
            Error::CommunicationError(e) => format!("cannot reach the server: {e}"),
            Error::UnexpectedResponse(answer) => {
                format!("unexpected answer: HTTP {}", answer.status().as_u16())
            }
            other => other.to_string(),
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(key) = cli.api_key.as_deref() else {
        eprintln!("feather: no API key: pass --api-key or set FEATHER_API_KEY");
        return ExitCode::FAILURE;
    };
    let retry = match cli.retry_seconds {
        0 => RetryPolicy::none(),
        seconds => RetryPolicy::default().max_elapsed(Duration::from_secs(seconds)),
    };
    let client = match Client::builder(&cli.base_url)
        .api_key(key)
        .retry(retry)
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("feather: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Command::Sync(command) = cli.command;
    let outcome = tokio::select! {
        outcome = run(&client, command) => outcome,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("feather: interrupted");
            return ExitCode::from(EXIT_INTERRUPTED);
        }
    };
    match outcome {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("feather: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(client: &Client, command: SyncCommand) -> Result<ExitCode, Failure> {
    match command {
        SyncCommand::Status { target, json } => {
            let status = status(client, target).await?;
            if json {
                println!("{}", to_json(&status));
            } else {
                print!("{}", describe(&status));
            }
            Ok(ExitCode::SUCCESS)
        }
        SyncCommand::Trigger { target, wait, json } => {
            match client.trigger_or_attach(target.kb, target.source).await? {
                Triggered::Queued(job) => {
                    if json && !wait {
                        println!("{}", to_json(&job));
                    } else if !json {
                        println!("queued sync job {}", job.job_id);
                    }
                }
                Triggered::Attached(message) => {
                    if !wait {
                        return Err(Failure(format!("already running: {message}")));
                    }
                    if !json {
                        println!("a sync is already running; attaching to it");
                    }
                }
            }
            if wait {
                watch(client, target, json).await
            } else {
                Ok(ExitCode::SUCCESS)
            }
        }
        SyncCommand::Watch { target, json } => watch(client, target, json).await,
    }
}

async fn status(client: &Client, target: Target) -> Result<SyncStatusResponse, Failure> {
    Ok(client.sync_status(target.kb, target.source).await?)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Human-readable status, a few aligned lines.
fn describe(s: &SyncStatusResponse) -> String {
    let mut out = format!("source  {}  {}\n", s.source_id, s.source_status);
    match s.last_sync_job_id {
        None => out.push_str("job     (never synced)\n"),
        Some(job) => {
            let progress = match (s.processed_count, s.total_items) {
                (Some(done), Some(total)) => format!("{done}/{total}"),
                (Some(done), None) => format!("{done}/?"),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "job     {job}  {}  {progress}\n",
                s.last_sync_status.as_deref().unwrap_or("?")
            ));
            if let Some(at) = s.last_sync_started_at {
                out.push_str(&format!("started {at}\n"));
            }
            if let Some(at) = s.last_sync_completed_at {
                out.push_str(&format!("ended   {at}\n"));
            }
            if let Some(error) = &s.error_message {
                out.push_str(&format!("error   {error}\n"));
            }
        }
    }
    out
}

/// The exit code for a finished sync.
fn exit_for(s: &SyncStatusResponse) -> ExitCode {
    match s.last_sync_status.as_deref() {
        Some("failed") => ExitCode::from(EXIT_FAILED),
        Some("partial_failure") => ExitCode::from(EXIT_PARTIAL),
        _ => ExitCode::SUCCESS,
    }
}

/// Follows the sync until it ends (the library's `watch_sync`): a bar on a
/// terminal, lines otherwise, JSON lines with `json`.
async fn watch(client: &Client, target: Target, json: bool) -> Result<ExitCode, Failure> {
    let fancy = !json && std::io::stdout().is_terminal();
    let bar = if fancy {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    } else {
        None
    };
    let started = Instant::now();
    let mut updates = std::pin::pin!(client.watch_sync(target.kb, target.source));
    let mut last = None;
    while let Some(update) = updates.next().await {
        let s = update.map_err(|e| match e {
            WaitError::Request(e) => Failure::from(e),
            other => Failure(other.to_string()),
        })?;
        if json {
            println!("{}", to_json(&s));
        } else if let Some(bar) = &bar {
            draw(bar, &s);
        } else {
            println!("{}", line(&s));
        }
        last = Some(s);
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let s = last.ok_or_else(|| Failure("the status stream ended without a status".into()))?;
    if !json {
        println!("{}", summary(&s, started.elapsed()));
    }
    Ok(exit_for(&s))
}

fn draw(bar: &ProgressBar, s: &SyncStatusResponse) {
    let state = s.last_sync_status.as_deref().unwrap_or("waiting");
    match s.total_items {
        Some(total) => {
            bar.set_length(u64::try_from(total).unwrap_or(0));
            let style = ProgressStyle::with_template(
                "{spinner} {msg:10} [{bar:40}] {pos}/{len} {per_sec} ETA {eta}",
            )
            .map(|st| st.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
        }
        None => {
            let style = ProgressStyle::with_template("{spinner} {msg:10} {pos} items so far")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
        }
    }
    bar.set_position(u64::try_from(s.processed_count.unwrap_or(0)).unwrap_or(0));
    bar.set_message(state.to_owned());
}

/// One plain progress line (non-terminal output).
fn line(s: &SyncStatusResponse) -> String {
    let state = s.last_sync_status.as_deref().unwrap_or("waiting");
    match (s.processed_count, s.total_items) {
        (Some(done), Some(total)) if total > 0 => {
            format!("{state} {done}/{total} ({}%)", done * 100 / total)
        }
        (Some(done), _) => format!("{state} {done}/?"),
        _ => state.to_owned(),
    }
}

/// The final line.
fn summary(s: &SyncStatusResponse, took: Duration) -> String {
    let state = s.last_sync_status.as_deref().unwrap_or("unknown");
    let counts = match (s.processed_count, s.total_items) {
        (Some(done), Some(total)) => format!("{done}/{total} items"),
        (Some(done), None) => format!("{done} items"),
        _ => "no items".into(),
    };
    let error = s
        .error_message
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    format!("{state}: {counts} in {:.1}s{error}", took.as_secs_f64())
}
