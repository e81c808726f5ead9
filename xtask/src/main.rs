//! `cargo xtask`: the workspace's developer automation.
//!
//! This binary only parses arguments, reads and writes files and prints;
//! the work is done by library crates (`openapi-compat`, `feather-codegen`,
//! `openapi-drift`, `openapi-cut`, `feather-api`) and, for `bench`, by the
//! `feather-bench` binary.

mod bench;
mod client_crate;
mod conformance;
mod spec;
#[cfg(test)]
mod tidy;
mod torture;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "feather-sync developer automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the OpenAPI 3.0.3 form of an OpenAPI 3.0 or 3.1 document (JSON or YAML).
    Convert {
        /// The input document.
        input: PathBuf,
        /// Where to write the JSON result; standard output when absent.
        output: Option<PathBuf>,
    },
    /// Run the build.rs pipeline on any document and write the formatted Rust client.
    Generate {
        /// The input document (OpenAPI 3.0 or 3.1, JSON or YAML).
        spec: PathBuf,
        /// Where to write the Rust source; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Compile the client (feather-client's dependencies, the cached
        /// target/generated-clients) and leave out, with a note, every
        /// operation rustc rejects.
        #[arg(long)]
        verify: bool,
    },
    /// What changes from OLD to NEW mean to a client written against OLD.
    /// With --base: each FILE at a git revision against the working tree.
    /// Exit 0 below --fail-on, 1 at or above it, 2 for unreadable input.
    Diff {
        /// OLD NEW, or with --base the files to compare (default:
        /// openapi.json and the emitted server document).
        files: Vec<PathBuf>,
        /// Compare each file with itself at this git revision (default,
        /// `--base` alone: the merge base of HEAD with main).
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        base: Option<String>,
        /// text, json, markdown, github or junit.
        #[arg(long, default_value = "text", value_parser = parse_format)]
        format: spec::Format,
        /// Lowest severity that fails: breaking, warning or info.
        #[arg(long, default_value = "breaking", value_parser = parse_severity)]
        fail_on: openapi_drift::Severity,
        /// A TOML file whose `[[severity]]` entries raise, lower or turn off
        /// rules (as in xtask/drift-allowlist.toml).
        #[arg(long)]
        severity_levels: Option<PathBuf>,
    },
    /// The server's emitted spec against openapi.json. Exit 0 when every
    /// finding is info or allowlisted, 1 otherwise, 2 for unreadable input.
    Drift {
        /// Upstream document (default: openapi.json).
        #[arg(long)]
        upstream: Option<PathBuf>,
        /// Emitted document (default: emitted now from the API trait).
        #[arg(long)]
        emitted: Option<PathBuf>,
        /// Reviewed drift (default: xtask/drift-allowlist.toml).
        #[arg(long)]
        allowlist: Option<PathBuf>,
        /// text, json, markdown, github or junit.
        #[arg(long, default_value = "text", value_parser = parse_format)]
        format: spec::Format,
        /// Instead: did this change alter the server's API incompatibly?
        /// The emitted document at this git revision (default, `--base`
        /// alone: the merge base with main) against the code's now.
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        base: Option<String>,
        /// With --base: lowest severity that fails.
        #[arg(long, default_value = "breaking", value_parser = parse_severity)]
        fail_on: openapi_drift::Severity,
    },
    /// Start the real server and check every answer against the upstream schemas.
    Conformance {
        /// The full upstream document (for its ErrorResponse schema).
        #[arg(
            long,
            default_value = "../shared/upstream/feather-api-1.21.0.openapi.json"
        )]
        full_upstream: PathBuf,
    },
    /// Release-build the server and the load generator, measure, and write
    /// BENCHMARKS.md and benchmarks.json (PostgreSQL rows too when
    /// FEATHER_TEST_DATABASE_URL is set). Takes about 5 minutes.
    Bench {
        /// Passed to `feather-bench run` (e.g. `--seconds 2`; see
        /// `feather-bench run --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Kill servers with SIGKILL at random moments under load and check that
    /// no acknowledged trigger is lost and no job or source is left stuck.
    Torture {
        /// How long to run.
        #[arg(long, default_value_t = 1.0)]
        minutes: f64,
        /// The database (default: a fresh SQLite file); a PostgreSQL one
        /// should be empty.
        #[arg(long)]
        database_url: Option<String>,
        /// Server processes at once (default: 1 on SQLite, 2 on PostgreSQL).
        #[arg(long)]
        replicas: Option<usize>,
        /// Seed of the random choices (printed at start), to repeat a run.
        #[arg(long)]
        seed: Option<u64>,
        /// Power cuts instead of SIGKILL, on SQLite: an in-process server on
        /// the sqlite-powercut VFS loses every write not synced (or a random
        /// torn part of it) at a random moment of each round.
        #[arg(long, conflicts_with_all = ["database_url", "replicas"])]
        power_loss: bool,
        /// With --power-loss: `synchronous` of the server's SQLite writer
        /// (`normal` is expected to lose acknowledged triggers).
        #[arg(long, default_value = "full", requires = "power_loss")]
        sqlite_synchronous: String,
    },
    /// Rewrite every derived, checked-in artifact.
    Regen {
        /// Also refresh openapi.json from this full upstream document.
        #[arg(long)]
        upstream: Option<PathBuf>,
        /// Change nothing; exit 1 naming what is stale.
        #[arg(long)]
        check: bool,
    },
}

fn parse_format(text: &str) -> Result<spec::Format, String> {
    spec::Format::parse(text).ok_or_else(|| {
        let names: Vec<&str> = spec::Format::ALL.iter().map(|(n, _)| *n).collect();
        format!("{text:?}: expected one of {}", names.join(", "))
    })
}

fn parse_severity(text: &str) -> Result<openapi_drift::Severity, String> {
    openapi_drift::Severity::parse(text)
        .ok_or_else(|| format!("{text:?}: expected breaking, warning or info"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Convert { input, output } => convert(&input, output.as_deref()),
        Command::Generate { spec, out, verify } => generate(&spec, out.as_deref(), verify),
        Command::Diff {
            files,
            base,
            format,
            fail_on,
            severity_levels,
        } => {
            let output = spec::Output {
                format,
                fail_on,
                severity_levels,
            };
            let input = match base {
                Some(rev) => spec::DiffInput::Base {
                    rev: Some(rev).filter(|r| !r.is_empty()),
                    files,
                },
                None => match <[PathBuf; 2]>::try_from(files) {
                    Ok([old, new]) => spec::DiffInput::Files { old, new },
                    Err(_) => {
                        return spec::unreadable("diff takes OLD NEW, or --base [REV] [FILE...]");
                    }
                },
            };
            return spec::diff(input, &output);
        }
        Command::Drift {
            base: Some(rev),
            allowlist,
            format,
            fail_on,
            ..
        } => {
            let output = spec::Output {
                format,
                fail_on,
                severity_levels: allowlist,
            };
            return spec::drift_against(Some(rev).filter(|r| !r.is_empty()), &output);
        }
        Command::Drift {
            upstream,
            emitted,
            allowlist,
            format,
            ..
        } => {
            return spec::drift(
                upstream.as_deref(),
                emitted.as_deref(),
                allowlist.as_deref(),
                format,
            );
        }
        Command::Conformance { full_upstream } => {
            let full = if full_upstream.is_relative() {
                spec::root().join(full_upstream)
            } else {
                full_upstream
            };
            match conformance::run(&full) {
                Ok(code) => return code,
                Err(e) => Err(e),
            }
        }
        Command::Bench { args } => bench::run(&args),
        Command::Torture {
            minutes,
            database_url,
            replicas,
            seed,
            power_loss,
            sqlite_synchronous,
        } => {
            let settings = torture::Settings {
                minutes,
                database_url,
                replicas,
                seed,
            };
            let result = if power_loss {
                torture::run_power_loss(settings, &sqlite_synchronous)
            } else {
                torture::run(settings)
            };
            match result {
                Ok(code) => return code,
                Err(e) => Err(e),
            }
        }
        Command::Regen { upstream, check } => match spec::regen(upstream.as_deref(), check) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write_or_print(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn convert(input: &Path, output: Option<&Path>) -> Result<()> {
    let text = read(input)?;
    let document = openapi_compat::parse_document(&text)
        .with_context(|| format!("cannot parse {}", input.display()))?;
    let conversion = openapi_compat::convert(document)
        .with_context(|| format!("cannot convert {}", input.display()))?;
    for warning in &conversion.warnings {
        eprintln!("warning: {warning}");
    }
    let mut json = serde_json::to_string_pretty(&conversion.document)?;
    json.push('\n');
    write_or_print(output, &json)
}

fn generate(spec: &Path, out: Option<&Path>, verify: bool) -> Result<()> {
    let text = read(spec)?;
    let context = || format!("cannot generate a client from {}", spec.display());
    let (generated, verified) = if verify {
        let verified = verify::generate_verified(
            &text,
            feather_codegen::Options::default(),
            &verify_name(spec),
        )
        .with_context(context)?;
        let line = format!(
            "verify: compiles (debug build of {:.1} s, {} build(s)), {} warning(s)",
            verified.build.seconds,
            verified.builds,
            verified.warnings().len()
        );
        let warnings: Vec<String> = verified.warnings().into_iter().map(str::to_owned).collect();
        (verified.generated, Some((line, warnings)))
    } else {
        (
            feather_codegen::generate(&text).with_context(context)?,
            None,
        )
    };
    for note in &generated.notes {
        eprintln!("note: {note}");
    }
    if let Some((line, warnings)) = &verified {
        for warning in warnings {
            eprintln!("{warning}");
        }
        eprintln!("{line}");
    }
    eprintln!("{}: {}", spec.display(), generated.summary());
    write_or_print(out, &generated.source)
}

/// The crate `--verify` builds for a document: `verify-STEM`.
fn verify_name(spec: &Path) -> String {
    let stem = spec
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("verify-{cleaned}")
}
