//! The report formats, read back the way their consumers read them: the
//! Markdown rendered to HTML, the GitHub annotations parsed as workflow
//! commands, the JUnit XML parsed and validated against the JUnit XSDs
//! (`xmllint`; the schemas come from the npm registry in `.ci/run`).

use std::path::PathBuf;
use std::process::Command;

use openapi_drift::report::{Format, Report, render};
use openapi_drift::{Finding, Severity, diff};
use serde_json::{Value, json};

fn base() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// openapi.json against a version with a breaking change (a required
/// response property gone), a warning (an optional one gone) and info, and
/// text that needs escaping in every format (`|`, `<`, `%`, `,`, `:`, `&`).
fn findings() -> (Vec<Finding>, Vec<String>) {
    let old = base();
    let mut new = old.clone();
    let schema = "/components/schemas/SyncStatusResponse";
    let gone = new
        .pointer_mut(&format!("{schema}/required"))
        .and_then(Value::as_array_mut)
        .map(|required| required.remove(0))
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no required property"));
    let props = new
        .pointer_mut(&format!("{schema}/properties"))
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no SyncStatusResponse"));
    props.remove("error_message");
    props.remove(&gone);
    props.insert(
        "weird|<name>%,:&".into(),
        json!({"type": "string", "maxLength": 3}),
    );
    let found = diff(&old, &new).unwrap_or_else(|e| panic!("{e}"));
    assert!(found.iter().any(|f| f.severity == Severity::Breaking));
    assert!(found.iter().any(|f| f.severity == Severity::Warning));
    assert!(found.iter().any(|f| f.severity == Severity::Info));
    (found, openapi_drift::operation_labels(&old, &new))
}

fn report<'a>(
    findings: &'a [Finding],
    allowed: &'a [bool],
    operations: &'a [String],
    fail_on: Severity,
) -> Report<'a> {
    Report {
        findings,
        allowed,
        operations,
        fail_on,
        title: "openapi.json@main → openapi.json",
        file: Some("openapi.json"),
    }
}

#[test]
fn markdown_renders_a_summary_table_and_a_section_per_operation() {
    let (found, operations) = findings();
    let text = render(
        &report(&found, &[], &operations, Severity::Breaking),
        Format::Markdown,
        false,
    );
    let mut options = pulldown_cmark::Options::empty();
    options.insert(pulldown_cmark::Options::ENABLE_TABLES);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new_ext(&text, options));
    let operations_with_findings: std::collections::BTreeSet<&str> = found
        .iter()
        .filter_map(|f| f.operation.as_deref())
        .collect();
    // One summary table plus one per operation.
    assert_eq!(
        html.matches("<table>").count(),
        1 + operations_with_findings.len(),
        "{html}"
    );
    assert_eq!(html.matches("<h4>").count(), operations_with_findings.len());
    // Every finding is one row; nothing the text contains broke a table
    // or became HTML.
    let rows = html.matches("<tr>").count();
    let header_rows = 1 + operations_with_findings.len();
    let summary_rows = 3;
    assert_eq!(rows, header_rows + summary_rows + found.len(), "{html}");
    assert!(html.contains("weird|&lt;name&gt;%,:&amp;"), "{html}");
    assert!(!html.contains("<name>"));
    assert!(html.contains("<strong>"), "the verdict is bold");
}

/// One parsed workflow command.
struct Annotation {
    level: String,
    properties: Vec<(String, String)>,
    message: String,
}

fn unescape(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

/// Parses `::level key=value,key=value::message` as the runner does.
fn parse_command(line: &str) -> Annotation {
    let rest = line
        .strip_prefix("::")
        .unwrap_or_else(|| panic!("not a command: {line}"));
    let (head, message) = rest
        .split_once("::")
        .unwrap_or_else(|| panic!("no message: {line}"));
    let (level, props) = head.split_once(' ').unwrap_or((head, ""));
    let properties = props
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .unwrap_or_else(|| panic!("bad property {p}"));
            (k.to_owned(), unescape(v))
        })
        .collect();
    Annotation {
        level: level.to_owned(),
        properties,
        message: unescape(message),
    }
}

#[test]
fn github_annotations_parse_back_one_per_breaking_or_warning_finding() {
    let (found, operations) = findings();
    // The first warning is allowed: a notice.
    let allowed: Vec<bool> = {
        let first = found.iter().position(|f| f.severity == Severity::Warning);
        (0..found.len()).map(|i| Some(i) == first).collect()
    };
    let text = render(
        &report(&found, &allowed, &operations, Severity::Breaking),
        Format::Github,
        false,
    );
    let annotations: Vec<Annotation> = text.lines().map(parse_command).collect();
    let expected: Vec<&Finding> = found
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .collect();
    assert_eq!(annotations.len(), expected.len(), "{text}");
    for (a, f) in annotations.iter().zip(&expected) {
        let i = found
            .iter()
            .position(|x| std::ptr::eq(x, *f))
            .unwrap_or_default();
        let level = match (f.severity, allowed[i]) {
            (_, true) => "notice",
            (Severity::Breaking, _) => "error",
            _ => "warning",
        };
        assert_eq!(a.level, level);
        assert_eq!(
            a.properties,
            vec![
                ("file".to_owned(), "openapi.json".to_owned()),
                (
                    "title".to_owned(),
                    format!("{} ({})", f.rule, f.operation.as_deref().unwrap_or("-"))
                ),
            ]
        );
        assert!(a.message.starts_with(&f.message), "{}", a.message);
        if let Some(p) = &f.new_pointer {
            assert!(a.message.contains(&format!("\nnew {p}")));
        }
    }
}

/// The test cases of a JUnit document: (name, failure type if failed).
fn junit_cases(xml: &str) -> (Vec<(String, Option<String>)>, String, String) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases = Vec::new();
    let (mut tests, mut failures) = (String::new(), String::new());
    let attr = |e: &quick_xml::events::BytesStart<'_>, name: &[u8]| -> Option<String> {
        e.attributes()
            .filter_map(Result::ok)
            .find(|a| a.key.as_ref() == name)
            .and_then(|a| {
                a.normalized_value(quick_xml::XmlVersion::default())
                    .ok()
                    .map(|v| v.into_owned())
            })
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.name().as_ref() {
                b"testsuite" => {
                    tests = attr(&e, b"tests").unwrap_or_default();
                    failures = attr(&e, b"failures").unwrap_or_default();
                }
                b"testcase" => cases.push((attr(&e, b"name").unwrap_or_default(), None)),
                b"failure" => {
                    if let Some(last) = cases.last_mut() {
                        last.1 = attr(&e, b"type");
                    }
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("invalid XML: {e}\n{xml}"),
        }
    }
    (cases, tests, failures)
}

#[test]
fn junit_has_a_case_per_operation_and_fails_at_the_threshold() {
    let (found, operations) = findings();
    for (fail_on, failing) in [
        (Severity::Breaking, "breaking"),
        (Severity::Warning, "breaking"),
    ] {
        let xml = render(
            &report(&found, &[], &operations, fail_on),
            Format::Junit,
            false,
        );
        let (cases, tests, failures) = junit_cases(&xml);
        let names: Vec<&str> = cases.iter().map(|(n, _)| n.as_str()).collect();
        for op in &operations {
            assert!(names.contains(&op.as_str()), "{op} has no test case");
        }
        assert_eq!(tests, cases.len().to_string());
        let failed: Vec<&(String, Option<String>)> =
            cases.iter().filter(|(_, f)| f.is_some()).collect();
        assert_eq!(failures, failed.len().to_string());
        assert!(!failed.is_empty());
        assert!(failed.iter().all(|(_, t)| t.as_deref() == Some(failing)));
        validate_junit(&xml);
    }
    // Nothing at or above the threshold: every case passes.
    let none: Vec<Finding> = found
        .iter()
        .filter(|f| f.severity == Severity::Info)
        .cloned()
        .collect();
    let xml = render(
        &report(&none, &[], &operations, Severity::Breaking),
        Format::Junit,
        false,
    );
    let (cases, _, failures) = junit_cases(&xml);
    assert_eq!(failures, "0");
    assert!(cases.iter().all(|(_, f)| f.is_none()));
    validate_junit(&xml);
}

/// Validates with `xmllint` against the Ant JUnit schema and Jenkins' one
/// (`FEATHER_JUNIT_XSD_DIR`, default `target/junit-xsd`, filled by
/// `.ci/run` from the npm registry).
fn validate_junit(xml: &str) {
    let dir = std::env::var_os("FEATHER_JUNIT_XSD_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/junit-xsd"
            ))
        },
        PathBuf::from,
    );
    let schemas = [dir.join("JUnit.xsd"), dir.join("jenkins-junit.xsd")];
    let have_xmllint = Command::new("xmllint").arg("--version").output().is_ok();
    if !have_xmllint || schemas.iter().any(|s| !s.exists()) {
        if let Err(e) = feather_test_support::skip(
            "JUnit XML schema validation",
            &format!(
                "needs xmllint and {} (.ci/run installs both)",
                schemas
                    .iter()
                    .map(|s| s.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        ) {
            panic!("{e}");
        }
        return;
    }
    let file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(file.path(), xml).unwrap_or_else(|e| panic!("{e}"));
    for schema in &schemas {
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(schema)
            .arg(file.path())
            .output()
            .unwrap_or_else(|e| panic!("xmllint: {e}"));
        assert!(
            out.status.success(),
            "not valid against {}: {}\n{xml}",
            schema.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn json_stays_stable_and_text_groups_by_operation() {
    let (found, operations) = findings();
    let json: Value = serde_json::from_str(&render(
        &report(&found, &[], &operations, Severity::Breaking),
        Format::Json,
        false,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let first = &json["findings"][0];
    for key in [
        "rule",
        "severity",
        "operation",
        "old_pointer",
        "new_pointer",
        "message",
        "allowed",
    ] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    assert_eq!(json["findings"].as_array().map(Vec::len), Some(found.len()));
    let text = render(
        &report(&found, &[], &operations, Severity::Breaking),
        Format::Text,
        false,
    );
    assert!(text.ends_with(&format!(
        "{} finding(s): {} breaking, {} warning, {} info\n",
        found.len(),
        found.iter().filter(|f| f.severity == Severity::Breaking).count(),
        found.iter().filter(|f| f.severity == Severity::Warning).count(),
        found.iter().filter(|f| f.severity == Severity::Info).count(),
    )));
    assert!(!text.contains('\u{1b}'), "no colour unless asked");
}
