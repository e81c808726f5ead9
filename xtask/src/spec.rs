//! `diff`, `drift` and `regen`: the spec commands.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use anyhow::{Context, Result, bail};
use openapi_drift::{Finding, Severity};
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

/// Output format of findings.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// Grouped by operation; coloured on a terminal.
    Text,
    /// One JSON object: `{"findings": [...], "counts": {...}}`.
    Json,
}

fn read_document(path: &Path) -> std::result::Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    openapi_compat::parse_document(&text)
        .map_err(|e| format!("cannot parse {}: {e}", path.display()))
}

/// `cargo xtask diff OLD NEW`.
pub fn diff(old: &Path, new: &Path, format: Format, fail_on: Severity) -> ExitCode {
    let (old_doc, new_doc) = match (read_document(old), read_document(new)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return unreadable(e),
    };
    let findings = match openapi_drift::diff(&old_doc, &new_doc) {
        Ok(findings) => findings,
        Err(e) => return unreadable(e),
    };
    print_findings(&findings, &[], format);
    match openapi_drift::worst(&findings) {
        Some(worst) if worst >= fail_on => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Allowlist {
    #[serde(default)]
    allow: Vec<Allowed>,
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
    let findings = match openapi_drift::diff(&upstream, &emitted) {
        Ok(findings) => findings,
        Err(e) => return unreadable(e),
    };
    let allowed: Vec<bool> = findings
        .iter()
        .map(|f| allowlist.allow.iter().any(|a| a.matches(f)))
        .collect();
    print_findings(&findings, &allowed, format);
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

fn print_findings(findings: &[Finding], allowed: &[bool], format: Format) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(f.severity.as_str()).or_default() += 1;
    }
    match format {
        Format::Json => {
            let items: Vec<Value> = findings
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert(
                            "allowed".into(),
                            Value::Bool(allowed.get(i).copied().unwrap_or(false)),
                        );
                    }
                    v
                })
                .collect();
            let out = serde_json::json!({"findings": items, "counts": counts});
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        Format::Text => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let paint = |style: Style, text: &str| {
                if colour {
                    format!("{style}{text}{style:#}")
                } else {
                    text.to_owned()
                }
            };
            let mut current: Option<&Option<String>> = None;
            for (i, f) in findings.iter().enumerate() {
                if current != Some(&f.operation) {
                    let title = f.operation.as_deref().unwrap_or("(document)");
                    println!("{}", paint(Style::new().bold(), title));
                    current = Some(&f.operation);
                }
                let style = match f.severity {
                    Severity::Breaking => Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
                    Severity::Warning => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
                    Severity::Info => Style::new().dimmed(),
                };
                let mark = if allowed.get(i).copied().unwrap_or(false) {
                    " (allowed)"
                } else {
                    ""
                };
                println!(
                    "  {} {}{mark}: {}",
                    paint(style, &format!("{:<8}", f.severity.as_str())),
                    f.rule,
                    f.message
                );
                if let Some(p) = &f.old_pointer {
                    println!("           old {p}");
                }
                if let Some(p) = &f.new_pointer {
                    println!("           new {p}");
                }
            }
            let summary: Vec<String> = ["breaking", "warning", "info"]
                .iter()
                .map(|s| format!("{} {s}", counts.get(s).copied().unwrap_or(0)))
                .collect();
            println!("{} finding(s): {}", findings.len(), summary.join(", "));
        }
    }
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
