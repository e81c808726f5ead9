//! `cargo xtask bench`: builds `feather-server` and `feather-bench` in
//! release and runs `feather-bench run`, which writes `BENCHMARKS.md` and
//! `benchmarks.json` at the workspace root. PostgreSQL rows are added when
//! `FEATHER_TEST_DATABASE_URL` is set.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::spec::root;

/// Builds, runs and reports; `extra` goes to `feather-bench run` as is.
pub fn run(extra: &[OsString]) -> Result<()> {
    let root = root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--locked"])
        .args(["--package", "feather-server", "--package", "feather-bench"])
        .current_dir(&root)
        .status()
        .context("cannot run cargo build --release")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    let release = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("release");
    let mut command_line = String::from("cargo xtask bench");
    for arg in extra {
        command_line.push(' ');
        command_line.push_str(&arg.to_string_lossy());
    }
    let status = Command::new(release.join("feather-bench"))
        .arg("run")
        .arg("--server-bin")
        .arg(release.join("feather-server"))
        .arg("--out-md")
        .arg(root.join("BENCHMARKS.md"))
        .arg("--out-json")
        .arg(root.join("benchmarks.json"))
        .args(["--command-line", &command_line])
        .args(["--revision", &revision()])
        .args(extra)
        .current_dir(&root)
        .status()
        .context("cannot run feather-bench")?;
    if !status.success() {
        bail!("feather-bench failed");
    }
    Ok(())
}

/// `git describe --always --dirty` of the workspace, or `unknown`.
fn revision() -> String {
    crate::spec::git(&root(), &["describe", "--always", "--dirty"])
        .map(|out| out.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}
