//! A crate around generated client source, built the way our users build
//! it: exactly `feather-client`'s dependencies (read from the root
//! `Cargo.toml`, locked by the root `Cargo.lock`), in one shared target
//! directory so that the dependencies compile once for every client.
//!
//! Used by `cargo xtask generate --verify` and, through `#[path]`, by the
//! tests that build generated clients (`tests/common`).

// The tests use what the xtask binary does not (binary crates, problems).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The shared target directory of generated crates.
pub fn target_dir() -> PathBuf {
    workspace_root().join("target/generated-clients/target")
}

/// What kind of target the crate has.
pub enum Target<'a> {
    /// `src/lib.rs` is the generated client.
    Library,
    /// `src/generated.rs` is the client and `src/main.rs` this driver.
    Binary { main: &'a str },
}

/// Writes a crate at `target/generated-clients/NAME` holding `source`, with
/// `feather-client`'s dependencies plus `extra` (names in
/// `[workspace.dependencies]`, with extra features).
pub fn write_crate(
    name: &str,
    source: &str,
    target: Target<'_>,
    extra: &[(&str, &[&str])],
) -> Result<PathBuf, String> {
    let root = workspace_root();
    let crate_dir = root.join("target/generated-clients").join(name);
    create_dir(&crate_dir.join("src"))?;
    match target {
        Target::Library => write(&crate_dir.join("src/lib.rs"), source)?,
        Target::Binary { main } => {
            write(&crate_dir.join("src/generated.rs"), source)?;
            write(&crate_dir.join("src/main.rs"), main)?;
        }
    }
    write(
        &crate_dir.join("Cargo.toml"),
        &manifest(name, &root, extra)?,
    )?;
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|error| format!("cannot read the root Cargo.lock: {error}"))?;
    write(&crate_dir.join("Cargo.lock"), &lock)?;
    Ok(crate_dir)
}

/// The outcome of building a generated crate.
pub struct Build {
    /// Wall time of the build.
    pub seconds: f64,
    /// Whether cargo succeeded.
    pub success: bool,
    /// cargo's standard error (`--message-format=short`).
    pub stderr: String,
}

impl Build {
    /// The lines of the build output that are warnings or errors.
    pub fn problems(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| line.contains("warning") || line.contains("error"))
            .collect()
    }

    /// rustc's errors in `file` (relative to the crate): line number and
    /// message, from `--message-format=short` lines
    /// (`src/lib.rs:LINE:COL: error[E0599]: ...`).
    pub fn errors_in(&self, file: &str) -> Vec<(usize, String)> {
        let prefix = format!("{file}:");
        self.stderr
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(&prefix)?;
                let mut parts = rest.splitn(3, ':');
                let number = parts.next()?.parse::<usize>().ok()?;
                let _column = parts.next()?;
                let message = parts.next()?.trim();
                message
                    .starts_with("error")
                    .then(|| (number, message.to_owned()))
            })
            .collect()
    }
}

/// `cargo build` of a crate written by [`write_crate`], offline: every
/// dependency is in the root `Cargo.lock`, so the workspace build fetched it.
pub fn build(crate_dir: &Path) -> Result<Build, String> {
    let started = Instant::now();
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--quiet", "--offline", "--message-format=short"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .map_err(|error| format!("cannot run cargo build: {error}"))?;
    Ok(Build {
        seconds: started.elapsed().as_secs_f64(),
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// A manifest whose dependencies are the root package's, resolved through
/// `[workspace.dependencies]`, plus `extra`.
fn manifest(name: &str, root: &Path, extra: &[(&str, &[&str])]) -> Result<String, String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|error| format!("cannot read the root Cargo.toml: {error}"))?;
    let manifest: toml::Table = text
        .parse()
        .map_err(|error| format!("cannot parse the root Cargo.toml: {error}"))?;
    let workspace_dependencies = manifest
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    let mut dependencies = toml::Table::new();
    let package_dependencies = manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    for (dependency, spec) in package_dependencies {
        let inherits = spec.get("workspace").and_then(toml::Value::as_bool) == Some(true);
        let resolved = if inherits {
            workspace_dependencies.get(&dependency).cloned()
        } else {
            Some(spec)
        };
        let resolved =
            resolved.ok_or_else(|| format!("{dependency} is not in [workspace.dependencies]"))?;
        dependencies.insert(dependency, resolved);
    }
    for (dependency, features) in extra {
        let spec = workspace_dependencies
            .get(*dependency)
            .cloned()
            .ok_or_else(|| format!("{dependency} is not in [workspace.dependencies]"))?;
        let mut spec = match spec {
            toml::Value::String(version) => {
                let mut table = toml::Table::new();
                table.insert("version".into(), version.into());
                table
            }
            toml::Value::Table(table) => table,
            other => {
                return Err(format!(
                    "unexpected dependency spec for {dependency}: {other}"
                ));
            }
        };
        let mut all: Vec<toml::Value> = spec
            .get("features")
            .and_then(toml::Value::as_array)
            .cloned()
            .unwrap_or_default();
        all.extend(features.iter().map(|f| toml::Value::from(*f)));
        spec.insert("features".into(), all.into());
        dependencies.insert((*dependency).to_owned(), spec.into());
    }
    let mut package = toml::Table::new();
    package.insert("name".into(), format!("generated-{name}").into());
    package.insert("version".into(), "0.0.0".into());
    package.insert("edition".into(), "2024".into());
    package.insert("publish".into(), false.into());
    let mut out = toml::Table::new();
    out.insert("package".into(), package.into());
    out.insert("dependencies".into(), dependencies.into());
    // An empty workspace table keeps this crate out of ours.
    out.insert("workspace".into(), toml::Table::new().into());
    Ok(out.to_string())
}

/// Creates a directory and its parents.
pub fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))
}

/// Writes a file unless it already holds `text`: unchanged files keep
/// their modification time, so cargo does not rebuild a client that did
/// not change.
pub fn write(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}
