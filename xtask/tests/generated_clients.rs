//! `cargo xtask generate --verify`: its output compiles without warnings,
//! and what rustc rejects is left out with a note, not lost with the
//! document.
//!
//! Slow tests (the `feather-codegen` fixture, the whole upstream document
//! of 491 operations and every real-world OpenAPI 3.1 document in
//! `../shared/corpus31/`, read from there, never copied) are gated by
//! `FEATHER_SLOW_TESTS=1` (set by `.ci/run`); without it they say why they
//! skip. `--verify` builds each client with exactly `feather-client`'s
//! dependencies, locked by the root `Cargo.lock`, so "compiles" means
//! "compiles for our users".

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{slow_tests_enabled, workspace_root};

/// A document progenitor generates whole but rustc rejects part of: the
/// inline body of `POST /profiles` and the component `Settings` (the body
/// of `PUT /settings`) have the properties `display-name` and
/// `display_name`, which become one Rust field name twice.
fn rustc_rejects_one_operation() -> serde_json::Value {
    let text = serde_json::json!({"description": "ok", "content": {"application/json": {"schema": {"type": "string"}}}});
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "verify", "version": "1"},
        "paths": {
            "/profiles": {"post": {
                "operationId": "create_profile",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"display-name": {"type": "string"}, "display_name": {"type": "integer"}}
                }}}},
                "responses": {"200": text}
            }},
            "/settings": {"put": {
                "operationId": "update_settings",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Settings"
                }}}},
                "responses": {"200": text}
            }},
            "/health": {"get": {"operationId": "health", "responses": {"200": text}}}
        },
        "components": {"schemas": {"Settings": {
            "type": "object",
            "properties": {"theme-name": {"type": "string"}, "theme_name": {"type": "integer"}}
        }}}
    })
}

#[test]
fn verify_leaves_out_the_operations_rustc_rejects_and_keeps_the_rest() {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => panic!("cannot create a temporary directory: {error}"),
    };
    let spec = dir.path().join("rustc-rejects-one.json");
    common::write(&spec, &rustc_rejects_one_operation().to_string());

    // Without --verify the client is written, and would not compile.
    let plain = generate(&spec, false);
    assert!(plain.success, "{}", plain.stderr);
    assert!(
        plain.stderr.contains("3 of 3 operations generated"),
        "{}",
        plain.stderr
    );

    let verified = generate(&spec, true);
    assert!(verified.success, "{}", verified.stderr);
    assert!(
        verified.stderr.contains(
            "operation POST /profiles left out: rustc rejects its generated code: error[E0124]"
        ),
        "{}",
        verified.stderr
    );
    assert!(
        verified.stderr.contains("2 of 3 operations generated"),
        "{}",
        verified.stderr
    );
    assert!(
        verified.stderr.contains("0 warning(s)"),
        "{}",
        verified.stderr
    );
    // A component's type is generated whatever the operations: it is
    // weakened, and the operation that uses it kept.
    assert!(
        verified.stderr.contains(
            "schema Settings weakened to any JSON value (serde_json::Value): rustc rejects its generated type: error[E0124]"
        ),
        "{}",
        verified.stderr
    );
    assert!(verified.source.contains("pub fn health(&self)"));
    assert!(verified.source.contains("pub fn update_settings(&self)"));
    assert!(!verified.source.contains("pub fn create_profile(&self)"));
}

/// What `xtask generate [--verify] SPEC` printed.
struct Generation {
    success: bool,
    stderr: String,
    source: String,
    seconds: f64,
}

#[track_caller]
fn generate(spec: &Path, verify: bool) -> Generation {
    let started = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command.arg("generate").arg(spec);
    if verify {
        command.arg("--verify");
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(error) => panic!("cannot run xtask generate: {error}"),
    };
    Generation {
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        source: String::from_utf8_lossy(&output.stdout).into_owned(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[test]
fn fixture_client_compiles_without_warnings() {
    if !slow_tests_enabled("generate and compile the fixture client") {
        return;
    }
    let spec =
        workspace_root().join("crates/feather-codegen/tests/fixtures/fastapi-every-rule.json");
    let outcome = generate_and_build("fixture-every-rule", &spec);
    outcome.assert_compiles();
}

#[test]
fn full_upstream_client_compiles_without_warnings() {
    if !slow_tests_enabled("generate and compile the full upstream client") {
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
    let outcome = generate_and_build("full-upstream", &spec);
    outcome.assert_compiles();
    assert_eq!(
        (outcome.generated, outcome.total),
        (491, 491),
        "every upstream operation has a method:\n{}",
        outcome.left_out.join("\n")
    );
    eprintln!("{}", table(&[outcome]));
}

/// Every document of the corpus compiles with every operation; prints the table of the issue that asked for it.
#[test]
fn corpus_clients_compile_without_warnings() {
    if !slow_tests_enabled("generate and compile the corpus31 clients") {
        return;
    }
    let corpus = workspace_root().join("../shared/corpus31");
    let mut documents: Vec<PathBuf> = match std::fs::read_dir(&corpus) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect(),
        Err(error) => panic!("cannot read {}: {error}", corpus.display()),
    };
    documents.sort();
    assert!(
        !documents.is_empty(),
        "no documents in {}",
        corpus.display()
    );

    let dependencies = common::build_dependencies();
    assert!(
        dependencies.success,
        "the dependencies do not build:\n{}",
        dependencies.stderr
    );
    let mut outcomes = Vec::new();
    for document in &documents {
        let name = document
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        outcomes.push(generate_and_build(&format!("corpus-{name}"), document));
    }
    // cargo test shows a passing test's output only with --nocapture: the
    // table also goes to a file, which .ci/run prints.
    let table = format!(
        "{}\n(dependencies built first, in {:.1} s; verify is the debug build of the generated crate alone)\n",
        table(&outcomes),
        dependencies.seconds
    );
    eprintln!("{table}");
    common::write(
        &workspace_root().join("target/generated-clients/corpus-table.md"),
        &table,
    );
    for outcome in &outcomes {
        outcome.assert_compiles();
    }
    let total: usize = outcomes.iter().map(|o| o.total).sum();
    let left_out: usize = outcomes.iter().map(|o| o.total - o.generated).sum();
    assert_eq!(
        left_out,
        0,
        "{left_out} of {total} operations left out; every operation must generate and compile:\n{}",
        outcomes
            .iter()
            .flat_map(|o| o.left_out.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("\n")
    );
    for outcome in &outcomes {
        assert_eq!(
            outcome.left_out.len(),
            outcome.total - outcome.generated,
            "{}: every left-out operation has a note",
            outcome.name
        );
    }
}

/// What happened to one document.
struct Outcome {
    name: String,
    total: usize,
    generated: usize,
    notes: usize,
    /// The notes about operations left out.
    left_out: Vec<String>,
    /// Generation and verification together.
    seconds: f64,
    lines: usize,
    /// `--verify`'s line: "verify: compiles (...), N warning(s)".
    verify_line: String,
    /// rustc's warnings in the client.
    warnings: Vec<String>,
}

impl Outcome {
    #[track_caller]
    fn assert_compiles(&self) {
        assert!(
            self.warnings.is_empty(),
            "{}: warnings in generated code:\n{}",
            self.name,
            self.warnings.join("\n")
        );
    }
}

/// Generates with `xtask generate --verify` (the path users take; it
/// prints the notes, the verify line and the summary line); fails when the
/// command does.
#[track_caller]
fn generate_and_build(name: &str, spec: &Path) -> Outcome {
    let generation = generate(spec, true);
    let stderr = generation.stderr;
    assert!(
        generation.success,
        "{name}: xtask generate --verify {} failed:\n{stderr}",
        spec.display()
    );
    let (generated, total, notes) = parse_summary(&stderr);
    let left_out: Vec<String> = stderr
        .lines()
        .filter(|line| line.contains(" left out"))
        .filter(|line| line.contains("operation "))
        .map(str::to_owned)
        .collect();
    let verify_line = stderr
        .lines()
        .find(|line| line.starts_with("verify: "))
        .unwrap_or_default()
        .to_owned();
    let warnings = stderr
        .lines()
        .filter(|line| line.starts_with("src/lib.rs:") && line.contains("warning"))
        .map(str::to_owned)
        .collect();
    Outcome {
        name: name.to_owned(),
        total,
        generated,
        notes,
        left_out,
        seconds: generation.seconds,
        lines: generation.source.lines().count(),
        verify_line,
        warnings,
    }
}

/// "PATH: N of M operations generated, K note(s)"
#[track_caller]
fn parse_summary(stderr: &str) -> (usize, usize, usize) {
    let Some(line) = stderr
        .lines()
        .rev()
        .find(|l| l.contains(" operations generated"))
    else {
        panic!("no summary line in:\n{stderr}");
    };
    let numbers: Vec<usize> = line
        .rsplit(": ")
        .next()
        .unwrap_or_default()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [generated, total, notes] => (generated, total, notes),
        _ => panic!("unexpected summary line: {line}"),
    }
}

fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::from(
        "\n| document | operations | generated | left out | notes | lines | generate + verify s | verify |\n\
         |---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for o in outcomes {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.1} | {} |\n",
            o.name,
            o.total,
            o.generated,
            o.total - o.generated,
            o.notes,
            o.lines,
            o.seconds,
            o.verify_line.trim_start_matches("verify: ")
        ));
    }
    let reasons: Vec<&String> = outcomes.iter().flat_map(|o| &o.left_out).collect();
    if !reasons.is_empty() {
        out.push_str("\nleft out:\n");
        for reason in reasons {
            out.push_str(&format!("- {reason}\n"));
        }
    }
    out
}
