//! Shared by the tests that build generated clients: a crate with exactly
//! `feather-client`'s dependencies (read from the root `Cargo.toml`, locked
//! by the root `Cargo.lock`), built in one target directory so that the
//! dependencies compile once for all of them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The environment variable that enables the slow tests.
pub const SLOW_GATE: &str = "FEATHER_SLOW_TESTS";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Whether the slow tests run; reports the skip where it shows otherwise
/// (and fails under CI, which sets the gate).
pub fn slow_tests_enabled(what: &str) -> bool {
    if std::env::var(SLOW_GATE).as_deref() == Ok("1") {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a slow test")
        .to_owned();
    if let Err(e) = feather_test_support::skip(
        &test,
        &format!("set {SLOW_GATE}=1 to {what} (takes minutes)"),
    ) {
        panic!("{e}");
    }
    false
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
#[track_caller]
pub fn write_crate(
    name: &str,
    source: &str,
    target: Target<'_>,
    extra: &[(&str, &[&str])],
) -> PathBuf {
    let root = workspace_root();
    let crate_dir = root.join("target/generated-clients").join(name);
    create_dir(&crate_dir.join("src"));
    match target {
        Target::Library => write(&crate_dir.join("src/lib.rs"), source),
        Target::Binary { main } => {
            write(&crate_dir.join("src/generated.rs"), source);
            write(&crate_dir.join("src/main.rs"), main);
        }
    }
    write(&crate_dir.join("Cargo.toml"), &manifest(name, &root, extra));
    copy(&root.join("Cargo.lock"), &crate_dir.join("Cargo.lock"));
    crate_dir
}

/// The outcome of building a generated crate.
pub struct Build {
    pub seconds: f64,
    pub success: bool,
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
}

/// Serializes builds within a test binary: they share one target directory,
/// and cargo's lock on it would otherwise count one build's wait in
/// another's seconds.
static BUILD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds the dependencies alone (an empty crate), so that the seconds of
/// the next builds are the generated code's.
#[track_caller]
pub fn build_dependencies() -> Build {
    let crate_dir = write_crate("dependencies", "", Target::Library, &[]);
    build(&crate_dir)
}

/// `cargo build` of a crate written by [`write_crate`], offline: every
/// dependency is in the root `Cargo.lock`, so the workspace build fetched it.
#[track_caller]
pub fn build(crate_dir: &Path) -> Build {
    let _serialized = BUILD_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let started = Instant::now();
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--offline", "--message-format=short"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => panic!("cannot run cargo build: {error}"),
    };
    Build {
        seconds: started.elapsed().as_secs_f64(),
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The shared target directory of generated crates.
pub fn target_dir() -> PathBuf {
    workspace_root().join("target/generated-clients/target")
}

/// A manifest whose dependencies are the root package's, resolved through
/// `[workspace.dependencies]`, plus `extra`.
fn manifest(name: &str, root: &Path, extra: &[(&str, &[&str])]) -> String {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let manifest: toml::Table = match text.parse() {
        Ok(manifest) => manifest,
        Err(error) => panic!("cannot parse the root Cargo.toml: {error}"),
    };
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
        let Some(resolved) = resolved else {
            panic!("{dependency} is not in [workspace.dependencies]");
        };
        dependencies.insert(dependency, resolved);
    }
    for (dependency, features) in extra {
        let Some(spec) = workspace_dependencies.get(*dependency).cloned() else {
            panic!("{dependency} is not in [workspace.dependencies]");
        };
        let mut spec = match spec {
            toml::Value::String(version) => {
                let mut table = toml::Table::new();
                table.insert("version".into(), version.into());
                table
            }
            toml::Value::Table(table) => table,
            other => panic!("unexpected dependency spec for {dependency}: {other}"),
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
    out.to_string()
}

#[track_caller]
pub fn create_dir(dir: &Path) {
    if let Err(error) = std::fs::create_dir_all(dir) {
        panic!("cannot create {}: {error}", dir.display());
    }
}

#[track_caller]
pub fn write(path: &Path, text: &str) {
    // Unchanged files keep their modification time, so cargo does not
    // rebuild a client that did not change.
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return;
    }
    if let Err(error) = std::fs::write(path, text) {
        panic!("cannot write {}: {error}", path.display());
    }
}

#[track_caller]
fn copy(from: &Path, to: &Path) {
    let text = match std::fs::read_to_string(from) {
        Ok(text) => text,
        Err(error) => panic!("cannot read {}: {error}", from.display()),
    };
    write(to, &text);
}
