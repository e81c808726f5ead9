//! Findings as text for people and for CI: plain text (coloured on a
//! terminal), JSON (stable), Markdown for a pull-request comment, GitHub
//! workflow-command annotations, and JUnit XML (one test case per
//! operation). Rendering only: no I/O.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde_json::Value;

use crate::{Finding, Severity};

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Grouped by operation; coloured when asked.
    Text,
    /// One JSON object: `{"findings": [...], "counts": {...}}`.
    Json,
    /// A pull-request comment: a summary table, then findings grouped by
    /// operation.
    Markdown,
    /// GitHub Actions workflow commands, one per breaking or warning
    /// finding (`::error`, `::warning`; `::notice` when allowed).
    Github,
    /// JUnit XML: one test case per operation, failed when it has a finding
    /// at or above the threshold that is not allowed.
    Junit,
}

impl Format {
    /// Every format with its command-line name.
    pub const ALL: [(&'static str, Format); 5] = [
        ("text", Format::Text),
        ("json", Format::Json),
        ("markdown", Format::Markdown),
        ("github", Format::Github),
        ("junit", Format::Junit),
    ];

    /// The format named `name` (`text`, `json`, `markdown`, `github`,
    /// `junit`).
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }
}

/// What a report shows.
pub struct Report<'a> {
    /// The findings, as [`crate::diff`] returns them.
    pub findings: &'a [Finding],
    /// Per finding: reviewed and allowed (same length, or empty).
    pub allowed: &'a [bool],
    /// Every operation of both documents (`METHOD /path`), for the JUnit
    /// test cases; findings without an operation go to `(document)`.
    pub operations: &'a [String],
    /// The lowest severity that fails.
    pub fail_on: Severity,
    /// What was compared, e.g. `openapi.json@main → openapi.json`.
    pub title: &'a str,
    /// The file annotations point at (the new document).
    pub file: Option<&'a str>,
}

impl Report<'_> {
    fn is_allowed(&self, i: usize) -> bool {
        self.allowed.get(i).copied().unwrap_or(false)
    }

    /// Whether finding `i` fails the check.
    pub fn fails(&self, i: usize) -> bool {
        self.findings[i].severity >= self.fail_on && !self.is_allowed(i)
    }

    fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for f in self.findings {
            *counts.entry(f.severity.as_str()).or_default() += 1;
        }
        counts
    }

    /// Finding indexes by operation label (`(document)` for none), in the
    /// findings' order.
    fn by_operation(&self) -> Vec<(String, Vec<usize>)> {
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, f) in self.findings.iter().enumerate() {
            let label = f.operation.clone().unwrap_or_else(|| "(document)".into());
            match groups.iter_mut().find(|(l, _)| *l == label) {
                Some((_, list)) => list.push(i),
                None => groups.push((label, vec![i])),
            }
        }
        groups
    }
}

/// Renders `report` in `format`; `colour` applies to [`Format::Text`].
pub fn render(report: &Report<'_>, format: Format, colour: bool) -> String {
    match format {
        Format::Text => text(report, colour),
        Format::Json => json(report),
        Format::Markdown => markdown(report),
        Format::Github => github(report),
        Format::Junit => junit(report),
    }
}

fn text(report: &Report<'_>, colour: bool) -> String {
    let paint = |style: Style, text: &str| {
        if colour {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    for (label, items) in report.by_operation() {
        let _ = writeln!(out, "{}", paint(Style::new().bold(), &label));
        for i in items {
            let f = &report.findings[i];
            let style = match f.severity {
                Severity::Breaking => Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
                Severity::Warning => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
                Severity::Info => Style::new().dimmed(),
            };
            let mark = if report.is_allowed(i) {
                " (allowed)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {} {}{mark}: {}",
                paint(style, &format!("{:<8}", f.severity.as_str())),
                f.rule,
                f.message
            );
            if let Some(p) = &f.old_pointer {
                let _ = writeln!(out, "           old {p}");
            }
            if let Some(p) = &f.new_pointer {
                let _ = writeln!(out, "           new {p}");
            }
        }
    }
    let counts = report.counts();
    let summary: Vec<String> = ["breaking", "warning", "info"]
        .iter()
        .map(|s| format!("{} {s}", counts.get(s).copied().unwrap_or(0)))
        .collect();
    let _ = writeln!(
        out,
        "{} finding(s): {}",
        report.findings.len(),
        summary.join(", ")
    );
    out
}

fn json(report: &Report<'_>) -> String {
    let items: Vec<Value> = report
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("allowed".into(), Value::Bool(report.is_allowed(i)));
            }
            v
        })
        .collect();
    let out = serde_json::json!({"findings": items, "counts": report.counts()});
    let mut text = serde_json::to_string_pretty(&out).unwrap_or_default();
    text.push('\n');
    text
}

/// Escapes text for a Markdown table cell or line: no HTML, no table
/// breaks, code spans for identifiers.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '*' | '_' | '`' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn markdown(report: &Report<'_>) -> String {
    let counts = report.counts();
    let failing = (0..report.findings.len())
        .filter(|&i| report.fails(i))
        .count();
    let mut out = String::new();
    let verdict = if failing == 0 {
        "no incompatible change".to_owned()
    } else {
        format!("{failing} finding(s) at or above {}", report.fail_on)
    };
    let _ = writeln!(out, "### API diff: {}\n", md(report.title));
    let _ = writeln!(out, "**{}**\n", md(&verdict));
    let _ = writeln!(out, "| severity | findings |\n|---|---:|");
    for s in ["breaking", "warning", "info"] {
        let _ = writeln!(out, "| {s} | {} |", counts.get(s).copied().unwrap_or(0));
    }
    out.push('\n');
    for (label, items) in report.by_operation() {
        let _ = writeln!(out, "#### {}\n", md(&label));
        let _ = writeln!(
            out,
            "| severity | rule | change | where |\n|---|---|---|---|"
        );
        for i in items {
            let f = &report.findings[i];
            let mark = if report.is_allowed(i) {
                " (allowed)"
            } else {
                ""
            };
            let place = f
                .new_pointer
                .as_deref()
                .or(f.old_pointer.as_deref())
                .unwrap_or("");
            let _ = writeln!(
                out,
                "| {}{mark} | {} | {} | {} |",
                f.severity,
                md(f.rule),
                md(&f.message),
                md(place)
            );
        }
        out.push('\n');
    }
    out
}

/// Escapes a workflow command's message (`%`, CR, LF).
fn command_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
fn command_property(text: &str) -> String {
    command_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn github(report: &Report<'_>) -> String {
    let mut out = String::new();
    for (i, f) in report.findings.iter().enumerate() {
        let level = match (f.severity, report.is_allowed(i)) {
            (Severity::Info, _) => continue,
            (_, true) => "notice",
            (Severity::Breaking, false) => "error",
            (Severity::Warning, false) => "warning",
        };
        let operation = f.operation.as_deref().unwrap_or("(document)");
        let title = format!("{} ({operation})", f.rule);
        let mut message = f.message.clone();
        for (side, pointer) in [("old", &f.old_pointer), ("new", &f.new_pointer)] {
            if let Some(p) = pointer {
                message.push_str(&format!("\n{side} {p}"));
            }
        }
        let file = report
            .file
            .map(|file| format!("file={},", command_property(file)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "::{level} {file}title={}::{}",
            command_property(&title),
            command_data(&message)
        );
    }
    out
}

/// Now in UTC as `YYYY-MM-DDTHH:MM:SS` (JUnit's timestamp).
fn timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn junit(report: &Report<'_>) -> String {
    let groups = report.by_operation();
    let mut cases: Vec<String> = report.operations.to_vec();
    for (label, _) in &groups {
        if !cases.contains(label) {
            cases.push(label.clone());
        }
    }
    let failures: Vec<(String, Vec<usize>)> = groups
        .into_iter()
        .map(|(label, items)| {
            let failing: Vec<usize> = items.into_iter().filter(|&i| report.fails(i)).collect();
            (label, failing)
        })
        .filter(|(_, failing)| !failing.is_empty())
        .collect();
    let mut buffer = Vec::new();
    let mut writer = Writer::new_with_indent(&mut buffer, b' ', 2);
    let written = (|| -> std::io::Result<()> {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer
            .create_element("testsuite")
            .with_attribute(("name", "openapi-drift"))
            .with_attribute(("timestamp", timestamp().as_str()))
            .with_attribute(("hostname", "localhost"))
            .with_attribute(("tests", cases.len().to_string().as_str()))
            .with_attribute(("failures", failures.len().to_string().as_str()))
            .with_attribute(("errors", "0"))
            .with_attribute(("time", "0"))
            .write_inner_content(|w| {
                w.create_element("properties").write_inner_content(|w| {
                    w.create_element("property")
                        .with_attribute(("name", "compared"))
                        .with_attribute(("value", report.title))
                        .write_empty()?;
                    w.create_element("property")
                        .with_attribute(("name", "fail-on"))
                        .with_attribute(("value", report.fail_on.as_str()))
                        .write_empty()?;
                    Ok(())
                })?;
                for case in &cases {
                    let element = w
                        .create_element("testcase")
                        .with_attribute(("name", case.as_str()))
                        .with_attribute(("classname", "openapi-drift"))
                        .with_attribute(("time", "0"));
                    let Some((_, failing)) = failures.iter().find(|(l, _)| l == case) else {
                        element.write_empty()?;
                        continue;
                    };
                    let worst = failing
                        .iter()
                        .map(|&i| report.findings[i].severity)
                        .max()
                        .unwrap_or(Severity::Breaking);
                    let mut details = String::new();
                    for &i in failing {
                        let f = &report.findings[i];
                        let _ = writeln!(details, "{} {}: {}", f.severity, f.rule, f.message);
                        for (side, p) in [("old", &f.old_pointer), ("new", &f.new_pointer)] {
                            if let Some(p) = p {
                                let _ = writeln!(details, "  {side} {p}");
                            }
                        }
                    }
                    element.write_inner_content(|w| {
                        w.create_element("failure")
                            .with_attribute((
                                "message",
                                format!(
                                    "{} finding(s) at or above {}",
                                    failing.len(),
                                    report.fail_on
                                )
                                .as_str(),
                            ))
                            .with_attribute(("type", worst.as_str()))
                            .write_text_content(BytesText::new(&details))?;
                        Ok(())
                    })?;
                }
                w.create_element("system-out")
                    .write_text_content(BytesText::new(""))?;
                w.create_element("system-err")
                    .write_text_content(BytesText::new(""))?;
                Ok(())
            })?;
        Ok(())
    })();
    if let Err(e) = written {
        // Writing to a Vec cannot fail; say so if it ever does.
        return format!("<!-- cannot write the report: {e} -->\n");
    }
    let mut text = String::from_utf8_lossy(&buffer).into_owned();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_escape_their_separators() {
        assert_eq!(command_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(command_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(md("a|b <x> *y*"), "a\\|b &lt;x&gt; \\*y\\*");
    }
}
