//! Slow test: `cargo xtask generate` output compiles, for the fixture of
//! `feather-codegen` and for the whole upstream document (491 operations).
//!
//! Gated by `FEATHER_SLOW_TESTS=1` (set by `.ci/run`): it builds a crate of
//! about 190,000 generated lines. Without the variable it prints why it
//! skipped. The generated crate depends on exactly what `feather-client`
//! depends on (read from the root `Cargo.toml`) and is locked by the root
//! `Cargo.lock`, so "compiles" means "compiles for our users".

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const GATE: &str = "FEATHER_SLOW_TESTS";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn gated() -> bool {
    if std::env::var(GATE).as_deref() == Ok("1") {
        return true;
    }
    eprintln!("skipped: set {GATE}=1 to generate and compile full clients (takes minutes)");
    false
}

#[test]
fn fixture_client_compiles_without_warnings() {
    if !gated() {
        return;
    }
    let spec =
        workspace_root().join("crates/feather-codegen/tests/fixtures/fastapi-every-rule.json");
    check_generated_client_compiles("fixture-every-rule", &spec);
}

#[test]
fn full_upstream_client_compiles_without_warnings() {
    if !gated() {
        return;
    }
    let spec = std::env::var_os("FEATHER_UPSTREAM_SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace_root().join("../shared/upstream/feather-api-1.21.0.openapi.json")
        });
    assert!(
        spec.exists(),
        "the upstream document is missing: {}",
        spec.display()
    );
    check_generated_client_compiles("full-upstream", &spec);
}

/// Generates a client for `spec` into `target/generated-clients/NAME`,
/// builds it, and fails on any error or warning.
#[track_caller]
fn check_generated_client_compiles(name: &str, spec: &Path) {
    let root = workspace_root();
    let crate_dir = root.join("target/generated-clients").join(name);
    let source = crate_dir.join("src/lib.rs");
    create_dir(&crate_dir.join("src"));

    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("generate")
        .arg(spec)
        .arg("--out")
        .arg(&source)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => panic!("cannot run xtask generate: {error}"),
    };
    assert!(
        output.status.success(),
        "xtask generate failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generate_seconds = started.elapsed().as_secs_f64();

    write(&crate_dir.join("Cargo.toml"), &client_manifest(name, &root));
    copy(&root.join("Cargo.lock"), &crate_dir.join("Cargo.lock"));

    let started = Instant::now();
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--message-format=short"])
        .current_dir(&crate_dir)
        .env(
            "CARGO_TARGET_DIR",
            root.join("target/generated-clients/target"),
        )
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => panic!("cannot run cargo build: {error}"),
    };
    let build_seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the generated client does not compile:\n{stderr}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("warning"))
        .collect();
    assert!(
        warnings.is_empty(),
        "warnings in generated code:\n{}",
        warnings.join("\n")
    );

    let n_lines = std::fs::read_to_string(&source).map_or(0, |text| text.lines().count());
    eprintln!(
        "{name}: generated {n_lines} lines in {generate_seconds:.1} s, built in {build_seconds:.1} s"
    );
}

/// A manifest whose dependencies are the root package's, resolved through
/// `[workspace.dependencies]`.
fn client_manifest(name: &str, root: &Path) -> String {
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
fn create_dir(dir: &Path) {
    if let Err(error) = std::fs::create_dir_all(dir) {
        panic!("cannot create {}: {error}", dir.display());
    }
}

#[track_caller]
fn write(path: &Path, text: &str) {
    if let Err(error) = std::fs::write(path, text) {
        panic!("cannot write {}: {error}", path.display());
    }
}

#[track_caller]
fn copy(from: &Path, to: &Path) {
    if let Err(error) = std::fs::copy(from, to) {
        panic!(
            "cannot copy {} to {}: {error}",
            from.display(),
            to.display()
        );
    }
}
