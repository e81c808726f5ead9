//! `diff`, `drift` and `regen`: the spec commands.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use openapi_drift::report::{self, Report};
use openapi_drift::{Finding, Override, Severity};
use serde::Deserialize;
use serde_json::Value;

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The checked-in copy of the server's emitted spec.
pub const EMITTED_SPEC: &str = "crates/feather-api/feather-server.openapi.json";
/// The upstream contract.
pub const UPSTREAM_SPEC: &str = "openapi.json";
/// Reviewed drift.
pub const ALLOWLIST: &str = "xtask/drift-allowlist.toml";

/// Exit code for unreadable input.
pub fn unreadable(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

pub use openapi_drift::report::Format;

fn parse_text(text: &str, name: &str) -> std::result::Result<Value, String> {
    openapi_compat::parse_document(text).map_err(|e| format!("cannot parse {name}: {e}"))
}

fn read_document(path: &Path) -> std::result::Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_text(&text, &path.display().to_string())
}

/// The documents `cargo xtask diff` compares.
pub enum DiffInput {
    /// Two files.
    Files { old: PathBuf, new: PathBuf },
    /// Each file at a git revision (`None`: the merge base with `main`)
    /// against the working tree.
    Base {
        rev: Option<String>,
        files: Vec<PathBuf>,
    },
}

/// Settings shared by `diff` and `drift --base`.
pub struct Output {
    /// How findings are printed.
    pub format: Format,
    /// The lowest severity that fails.
    pub fail_on: Severity,
    /// A TOML file with `[[severity]]` overrides.
    pub severity_levels: Option<PathBuf>,
}

/// `cargo xtask diff`.
pub fn diff(input: DiffInput, output: &Output) -> ExitCode {
    let overrides = match &output.severity_levels {
        Some(path) => match read_allowlist(path) {
            Ok(list) => list.overrides(),
            Err(e) => return unreadable(e),
        },
        None => Vec::new(),
    };
    let pairs: Vec<(String, Value, String, Value, PathBuf)> = match input {
        DiffInput::Files { old, new } => match (read_document(&old), read_document(&new)) {
            (Ok(a), Ok(b)) => vec![(
                old.display().to_string(),
                a,
                new.display().to_string(),
                b,
                new,
            )],
            (Err(e), _) | (_, Err(e)) => return unreadable(e),
        },
        DiffInput::Base { rev, files } => {
            let rev = match rev {
                Some(rev) => rev,
                None => match merge_base(&std::env::current_dir().unwrap_or_default()) {
                    Ok(rev) => rev,
                    Err(e) => return unreadable(format!("{e:#}")),
                },
            };
            let files = if files.is_empty() {
                let root = root();
                vec![root.join(UPSTREAM_SPEC), root.join(EMITTED_SPEC)]
            } else {
                files
            };
            let mut pairs = Vec::new();
            for file in files {
                let old = match git_show(&rev, &file) {
                    Ok(text) => text,
                    Err(e) => return unreadable(format!("{e:#}")),
                };
                let name = file.display().to_string();
                let old_doc = match parse_text(&old, &format!("{name} at {rev}")) {
                    Ok(doc) => doc,
                    Err(e) => return unreadable(e),
                };
                let new_doc = match read_document(&file) {
                    Ok(doc) => doc,
                    Err(e) => return unreadable(e),
                };
                pairs.push((format!("{name}@{rev}"), old_doc, name, new_doc, file));
            }
            pairs
        }
    };
    let mut failed = false;
    for (old_name, old_doc, new_name, new_doc, file) in pairs {
        let title = format!("{old_name} → {new_name}");
        let file = file.display().to_string();
        match compare(&old_doc, &new_doc, &overrides, &title, &file, output) {
            Ok(fails) => failed |= fails,
            Err(code) => return code,
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Diffs, applies the severity overrides and prints one report; whether a
/// finding fails, or the exit code of unreadable input.
fn compare(
    old: &Value,
    new: &Value,
    overrides: &[Override],
    title: &str,
    file: &str,
    output: &Output,
) -> std::result::Result<bool, ExitCode> {
    let mut findings = openapi_drift::diff(old, new).map_err(unreadable)?;
    openapi_drift::apply_overrides(&mut findings, overrides).map_err(unreadable)?;
    let operations = openapi_drift::operation_labels(old, new);
    let report = Report {
        findings: &findings,
        allowed: &[],
        operations: &operations,
        fail_on: output.fail_on,
        title,
        file: Some(file),
    };
    print_report(&report, output.format);
    Ok((0..findings.len()).any(|i| report.fails(i)))
}

/// Runs git in `dir`; its standard output.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot run git {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The merge base of `HEAD` with `main` (or `origin/main`).
fn merge_base(dir: &Path) -> Result<String> {
    for branch in ["main", "origin/main"] {
        if let Ok(rev) = git(dir, &["merge-base", "HEAD", branch]) {
            return Ok(rev.trim().to_owned());
        }
    }
    bail!("no merge base of HEAD with main or origin/main; pass --base REV")
}

/// `file` as it was at `rev` (the path taken relative to its directory,
/// so any working directory and any file in the repository work).
fn git_show(rev: &str, file: &Path) -> Result<String> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    git(&dir, &["show", &format!("{rev}:./{name}")])
        .with_context(|| format!("cannot read {} at {rev}", file.display()))
}

/// `cargo xtask drift --base REV`: the emitted document at REV against the
/// one the code emits now.
pub fn drift_against(rev: Option<String>, output: &Output) -> ExitCode {
    let root = root();
    let rev = match rev {
        Some(rev) => rev,
        None => match merge_base(&root) {
            Ok(rev) => rev,
            Err(e) => return unreadable(format!("{e:#}")),
        },
    };
    let file = root.join(EMITTED_SPEC);
    let old = match git_show(&rev, &file)
        .map_err(|e| format!("{e:#}"))
        .and_then(|t| parse_text(&t, &format!("{EMITTED_SPEC} at {rev}")))
    {
        Ok(doc) => doc,
        Err(e) => return unreadable(e),
    };
    let new = match feather_api::openapi_document() {
        Ok(doc) => doc,
        Err(e) => return unreadable(format!("cannot emit the server's spec: {e}")),
    };
    let overrides = match read_allowlist(
        output
            .severity_levels
            .as_deref()
            .unwrap_or(&root.join(ALLOWLIST)),
    ) {
        Ok(list) => list.overrides(),
        Err(e) => return unreadable(e),
    };
    let title = format!("{EMITTED_SPEC}@{rev} → the server's API now");
    match compare(&old, &new, &overrides, &title, EMITTED_SPEC, output) {
        Ok(true) => {
            eprintln!("drift: this change alters the server's API incompatibly since {rev}");
            ExitCode::FAILURE
        }
        Ok(false) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// One reviewed finding.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Allowed {
    rule: String,
    operation: String,
    pointer: String,
    reason: String,
}

/// One rule's severity changed on review.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeverityLevel {
    rule: String,
    /// `breaking`, `warning`, `info` or `off`.
    level: String,
    reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Allowlist {
    #[serde(default)]
    allow: Vec<Allowed>,
    #[serde(default)]
    severity: Vec<SeverityLevel>,
}

impl Allowlist {
    /// The `[[severity]]` entries (levels checked when the file is read).
    fn overrides(&self) -> Vec<Override> {
        self.severity
            .iter()
            .map(|s| Override {
                rule: s.rule.clone(),
                level: Severity::parse(&s.level),
                reason: s.reason.clone(),
            })
            .collect()
    }
}

impl Allowed {
    fn matches(&self, f: &Finding) -> bool {
        f.rule == self.rule
            && f.operation.as_deref() == Some(self.operation.as_str())
            && (f.old_pointer.as_deref() == Some(self.pointer.as_str())
                || f.new_pointer.as_deref() == Some(self.pointer.as_str()))
    }
}

fn read_allowlist(path: &Path) -> std::result::Result<Allowlist, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Allowlist::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let list: Allowlist = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(bad) = list
        .severity
        .iter()
        .find(|s| s.level != "off" && Severity::parse(&s.level).is_none())
    {
        return Err(format!(
            "{}: severity level {:?} of {}: expected breaking, warning, info or off",
            path.display(),
            bad.level,
            bad.rule
        ));
    }
    if let Some(bad) = list.allow.iter().find(|a| a.reason.trim().is_empty()) {
        return Err(format!(
            "{}: the entry for {} at {} has no reason; every allowed drift needs one",
            path.display(),
            bad.rule,
            bad.pointer
        ));
    }
    Ok(list)
}

/// `cargo xtask drift`: the server's emitted spec against the upstream one.
pub fn drift(
    upstream: Option<&Path>,
    emitted: Option<&Path>,
    allowlist: Option<&Path>,
    format: Format,
) -> ExitCode {
    let root = root();
    let upstream_path = upstream.map_or_else(|| root.join(UPSTREAM_SPEC), Path::to_path_buf);
    let upstream = match read_document(&upstream_path) {
        Ok(doc) => doc,
        Err(e) => return unreadable(e),
    };
    let emitted = match emitted {
        Some(path) => match read_document(path) {
            Ok(doc) => doc,
            Err(e) => return unreadable(e),
        },
        None => match feather_api::openapi_document() {
            Ok(doc) => doc,
            Err(e) => return unreadable(format!("cannot emit the server's spec: {e}")),
        },
    };
    let allowlist_path = allowlist.map_or_else(|| root.join(ALLOWLIST), Path::to_path_buf);
    let allowlist = match read_allowlist(&allowlist_path) {
        Ok(list) => list,
        Err(e) => return unreadable(e),
    };
    // The client is generated from upstream: it is the "old" side a server
    // following the emitted document must keep working for.
    let mut findings = match openapi_drift::diff(&upstream, &emitted) {
        Ok(findings) => findings,
        Err(e) => return unreadable(e),
    };
    if let Err(e) = openapi_drift::apply_overrides(&mut findings, &allowlist.overrides()) {
        return unreadable(format!("{}: {e}", allowlist_path.display()));
    }
    let allowed: Vec<bool> = findings
        .iter()
        .map(|f| allowlist.allow.iter().any(|a| a.matches(f)))
        .collect();
    let operations = openapi_drift::operation_labels(&upstream, &emitted);
    let title = format!("{} → the server's emitted spec", upstream_path.display());
    let report = Report {
        findings: &findings,
        allowed: &allowed,
        operations: &operations,
        fail_on: Severity::Warning,
        title: &title,
        file: Some(EMITTED_SPEC),
    };
    print_report(&report, format);
    let unexplained = findings
        .iter()
        .zip(&allowed)
        .filter(|(f, ok)| f.severity > Severity::Info && !**ok)
        .count();
    let stale: Vec<&Allowed> = allowlist
        .allow
        .iter()
        .filter(|a| !findings.iter().any(|f| a.matches(f)))
        .collect();
    for entry in &stale {
        eprintln!(
            "stale allowlist entry: {} {} at {} no longer occurs; remove it from {}",
            entry.rule,
            entry.operation,
            entry.pointer,
            allowlist_path.display()
        );
    }
    if unexplained > 0 {
        eprintln!(
            "drift: {unexplained} finding(s) above info are neither fixed nor in {} (with a reason)",
            allowlist_path.display()
        );
    }
    if unexplained > 0 || !stale.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_report(report: &Report<'_>, format: Format) {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!("{}", report::render(report, format, colour));
}

/// The server's emitted spec, as checked in.
fn emitted_text() -> Result<String> {
    let document = feather_api::openapi_document().map_err(anyhow::Error::msg)?;
    let mut text = serde_json::to_string_pretty(&document)?;
    text.push('\n');
    Ok(text)
}

/// `openapi.json` cut from a full upstream document: the operations the
/// server implements (by operationId, read from the API trait).
fn upstream_cut(full: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(full).with_context(|| format!("cannot read {}", full.display()))?;
    let document: Value =
        serde_json::from_str(&text).with_context(|| format!("cannot parse {}", full.display()))?;
    let emitted = feather_api::openapi_document().map_err(anyhow::Error::msg)?;
    let mut ids = Vec::new();
    collect_operation_ids(&emitted, &mut ids);
    if ids.is_empty() {
        bail!("the API trait declares no operations");
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let cut = openapi_cut::cut(&document, &ids)?;
    Ok(openapi_cut::to_python_json(&cut))
}

fn collect_operation_ids(document: &Value, out: &mut Vec<String>) {
    let paths = document.get("paths").and_then(Value::as_object);
    for item in paths.into_iter().flat_map(|p| p.values()) {
        for op in item.as_object().into_iter().flat_map(|i| i.values()) {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                out.push(id.to_owned());
            }
        }
    }
}

/// `cargo xtask regen [--upstream FILE] [--check]`.
pub fn regen(upstream: Option<&Path>, check: bool) -> Result<ExitCode> {
    let root = root();
    let mut targets = vec![(EMITTED_SPEC, emitted_text()?)];
    if let Some(full) = upstream {
        targets.push((UPSTREAM_SPEC, upstream_cut(full)?));
    }
    let mut stale = Vec::new();
    for (relative, wanted) in targets {
        let path = root.join(relative);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == wanted {
            println!("up to date: {relative}");
            continue;
        }
        if check {
            stale.push(relative);
        } else {
            std::fs::write(&path, &wanted)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("rewrote {relative}");
        }
    }
    if stale.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for relative in &stale {
            eprintln!(
                "stale: {relative} (run `cargo xtask regen{}`)",
                if *relative == UPSTREAM_SPEC {
                    " --upstream FILE"
                } else {
                    ""
                }
            );
        }
        Ok(ExitCode::FAILURE)
    }
}
