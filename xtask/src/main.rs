//! `cargo xtask`: the workspace's developer automation.
//!
//! This binary only parses arguments, reads and writes files and prints;
//! the work is done by library crates (`openapi-compat`, `feather-codegen`).

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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Convert { input, output } => convert(&input, output.as_deref()),
        Command::Generate { spec, out } => generate(&spec, out.as_deref()),
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

fn generate(spec: &Path, out: Option<&Path>) -> Result<()> {
    let text = read(spec)?;
    let generated = feather_codegen::generate(&text)
        .with_context(|| format!("cannot generate a client from {}", spec.display()))?;
    for note in &generated.notes {
        eprintln!("note: {note}");
    }
    write_or_print(out, &generated.source)
}
