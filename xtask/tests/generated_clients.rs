//! Slow tests: `cargo xtask generate` output compiles without warnings,
//! for the `feather-codegen` fixture, the whole upstream document (491
//! operations) and every real-world OpenAPI 3.1 document in
//! `../shared/corpus31/` (read from there, never copied).
//!
//! Gated by `FEATHER_SLOW_TESTS=1` (set by `.ci/run`); without it they say
//! why they skip. The generated crates depend on exactly what
//! `feather-client` depends on and are locked by the root `Cargo.lock`, so
//! "compiles" means "compiles for our users".

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{Target, build, slow_tests_enabled, workspace_root, write_crate};

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

/// Every document of the corpus compiles, and fewer than 1% of all their
/// operations are left out; prints the table of the issue that asked for it.
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
        "{}\n(dependencies built first, in {:.1} s; compile s is the generated crate alone, debug)\n",
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
    assert!(
        left_out * 100 < total,
        "{left_out} of {total} operations left out (1% allowed)"
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
    generate_seconds: f64,
    lines: usize,
    build: common::Build,
}

impl Outcome {
    #[track_caller]
    fn assert_compiles(&self) {
        assert!(
            self.build.success,
            "{}: the generated client does not compile:\n{}",
            self.name, self.build.stderr
        );
        let problems = self.build.problems();
        assert!(
            problems.is_empty(),
            "{}: warnings in generated code:\n{}",
            self.name,
            problems.join("\n")
        );
    }
}

/// Generates with the `xtask` binary (the path users take; it prints the
/// notes and the summary line), then builds.
#[track_caller]
fn generate_and_build(name: &str, spec: &Path) -> Outcome {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("generate")
        .arg(spec)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => panic!("cannot run xtask generate: {error}"),
    };
    let generate_seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "xtask generate {} failed:\n{stderr}",
        spec.display()
    );
    let source = String::from_utf8_lossy(&output.stdout).into_owned();
    let (generated, total, notes) = parse_summary(&stderr);
    let left_out: Vec<String> = stderr
        .lines()
        .filter(|line| line.contains(" left out"))
        .filter(|line| line.contains("operation "))
        .map(str::to_owned)
        .collect();
    let crate_dir = write_crate(name, &source, Target::Library, &[]);
    let build = build(&crate_dir);
    Outcome {
        name: name.to_owned(),
        total,
        generated,
        notes,
        left_out,
        generate_seconds,
        lines: source.lines().count(),
        build,
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
        "\n| document | operations | generated | left out | notes | lines | generate s | compile s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for o in outcomes {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | {:.1} |\n",
            o.name,
            o.total,
            o.generated,
            o.total - o.generated,
            o.notes,
            o.lines,
            o.generate_seconds,
            o.build.seconds
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
