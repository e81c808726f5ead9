//! Semantic diff of two OpenAPI documents, from a client's point of view.
//!
//! Both documents are read into one form first, so that representation is
//! never drift: `openapi_compat::normalize` makes the 3.0 and 3.1 spellings
//! of the same meaning equal (`anyOf` with `null`, `type: [T, "null"]` and
//! 3.0's `nullable`; `const` and a one-value `enum`; numeric and boolean
//! exclusive bounds) and refuses nothing: every valid 3.0/3.1 document can
//! be compared, `if`/`then`/`else`, `prefixItems` and the other 2020-12
//! keywords included, and a `null` where an object belongs (`responses:
//! null`) is read as absent. `$ref`s are followed (a reference and the
//! schema inlined are equal), single-element `allOf` wrappers are
//! unwrapped, key order is irrelevant, and titles, descriptions and
//! examples are never compared. A `4XX`/`5XX` range or `default` response
//! stands for every specific status it covers. Schemas under properties,
//! `items`, `prefixItems`, `additionalProperties`, every combinator and
//! response headers are walked.
//!
//! Each [`Finding`] has a stable kebab-case rule id in oasdiff's style (see
//! [`RULES`]), a [`Severity`], the operation, JSON pointers into both
//! documents and a one-line message. The diff is direction-aware: a change is
//! judged by what it does to a client that was written against `old` and
//! talks to a server that follows `new` (a response may not start sending
//! what the client cannot read; a request may not start demanding what the
//! client does not send). Formats and integer bounds are judged by the Rust
//! type the generated client uses ([`CLIENT_TYPES`]): `date-time` → `date`
//! in a response is breaking because `chrono::DateTime<Utc>` cannot read a
//! date. Constraints (lengths, counts, ranges, `multipleOf`, `uniqueItems`,
//! `pattern`) tighten requests and loosen responses; a loosened response
//! constraint is breaking where the client's type checks it when it reads
//! the value (typify's validating string newtypes, integer types picked by
//! the bounds), a warning elsewhere.

mod client;
mod keywords;
pub mod report;
mod rules;
mod schema;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

pub use client::{CLIENT_TYPES, ClientType};
pub use rules::{CHANGES, FAMILIES, RULES, Rule, rule};

/// How much a finding matters to an existing client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Documentation-level or compatible change.
    Info,
    /// May break some clients or hide a problem; review it.
    Warning,
    /// Breaks existing clients.
    Breaking,
}

impl Severity {
    /// Parses `breaking`, `warning` or `info`.
    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "breaking" => Some(Severity::Breaking),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Breaking => "breaking",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One difference that matters (or may matter) to a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `response-required-property-removed`.
    pub rule: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// `METHOD /path` of the operation, if the finding belongs to one.
    pub operation: Option<String>,
    /// JSON pointer into the old document (absent for additions).
    pub old_pointer: Option<String>,
    /// JSON pointer into the new document (absent for removals).
    pub new_pointer: Option<String>,
    /// One line for humans.
    pub message: String,
}

/// Why two documents could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A document is not an OpenAPI 3.0/3.1 document this crate can read.
    #[error("{which} document: {message}")]
    Unreadable {
        /// `old` or `new`.
        which: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Compares two documents (already parsed; 3.0 or 3.1).
pub fn diff(old: &Value, new: &Value) -> Result<Vec<Finding>, DiffError> {
    let old = Doc::new(old, "old")?;
    let new = Doc::new(new, "new")?;
    let mut out = Findings::default();
    compare_documents(&old, &new, &mut out);
    let mut findings = out.0;
    findings.sort_by(|a, b| {
        (
            &a.operation,
            b.severity,
            a.rule,
            &a.old_pointer,
            &a.new_pointer,
        )
            .cmp(&(
                &b.operation,
                a.severity,
                b.rule,
                &b.old_pointer,
                &b.new_pointer,
            ))
    });
    findings.dedup();
    Ok(findings)
}

/// Parses (JSON or YAML) and compares two document texts.
pub fn diff_texts(old: &str, new: &str) -> Result<Vec<Finding>, DiffError> {
    let parse = |text: &str, which: &'static str| {
        openapi_compat::parse_document(text).map_err(|e| DiffError::Unreadable {
            which,
            message: e.to_string(),
        })
    };
    diff(&parse(old, "old")?, &parse(new, "new")?)
}

/// A reviewed change of one rule's severity (oasdiff's
/// `--severity-levels`): raised, lowered, or turned off (`level: None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// The rule id; must be one of [`RULES`].
    pub rule: String,
    /// The new severity; `None` drops the rule's findings.
    pub level: Option<Severity>,
    /// Why: printed with every finding it changes.
    pub reason: String,
}

/// Why severity overrides were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// The rule id is not one of [`RULES`] (a typo would do nothing).
    #[error("severity override for unknown rule {0:?}")]
    UnknownRule(String),
    /// The override says nothing about why.
    #[error("the severity override of {0} has no reason; every override needs one")]
    NoReason(String),
}

/// Applies `overrides` to `findings`: an unknown rule id or a missing
/// reason is an error (a typo would otherwise silently do nothing).
pub fn apply_overrides(
    findings: &mut Vec<Finding>,
    overrides: &[Override],
) -> Result<(), OverrideError> {
    for o in overrides {
        if rule(&o.rule).is_none() {
            return Err(OverrideError::UnknownRule(o.rule.clone()));
        }
        if o.reason.trim().is_empty() {
            return Err(OverrideError::NoReason(o.rule.clone()));
        }
    }
    findings.retain_mut(|f| match overrides.iter().find(|o| o.rule == f.rule) {
        None => true,
        Some(Override { level: None, .. }) => false,
        Some(Override {
            level: Some(level),
            reason,
            ..
        }) => {
            if *level != f.severity {
                f.message = format!("{} [{} → {level}: {reason}]", f.message, f.severity);
                f.severity = *level;
            }
            true
        }
    });
    Ok(())
}

/// Every operation of both documents as `METHOD /path` (the old path
/// where both have the operation), for reports that list them all.
pub fn operation_labels(old: &Value, new: &Value) -> Vec<String> {
    let mut labels: BTreeMap<(String, &str), String> = BTreeMap::new();
    for document in [new, old] {
        let Some(paths) = document.get("paths").and_then(Value::as_object) else {
            continue;
        };
        for (path, item) in paths {
            for method in METHODS {
                if item.get(*method).is_some() {
                    labels.insert(
                        (path_shape(path), method),
                        format!("{} {path}", method.to_uppercase()),
                    );
                }
            }
        }
    }
    labels.into_values().collect()
}

/// The highest severity among `findings`, if any.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// A document read into the diff's form: 3.0 and 3.1 spellings of the same
/// meaning made equal (`openapi_compat::normalize`), nothing dropped.
pub(crate) struct Doc {
    pub(crate) root: Value,
    /// Values of the wrong JSON type, read as absent: pointer → what.
    malformed: BTreeMap<String, String>,
}

impl Doc {
    fn new(document: &Value, which: &'static str) -> Result<Doc, DiffError> {
        let unreadable = |message: String| DiffError::Unreadable { which, message };
        let version = document
            .get("openapi")
            .and_then(Value::as_str)
            .ok_or_else(|| unreadable("no `openapi` version field".into()))?;
        if !(version.starts_with("3.0") || version.starts_with("3.1")) {
            return Err(unreadable(format!("unsupported OpenAPI version {version}")));
        }
        let normalized =
            openapi_compat::normalize(document.clone()).map_err(|e| unreadable(e.to_string()))?;
        Ok(Doc {
            malformed: normalized
                .warnings
                .into_iter()
                .map(|w| (w.pointer, w.message))
                .collect(),
            root: normalized.document,
        })
    }

    /// The value at a local `$ref` / JSON pointer.
    pub(crate) fn at(&self, pointer: &str) -> Option<&Value> {
        self.root
            .pointer(pointer.strip_prefix('#').unwrap_or(pointer))
    }

    /// Follows `$ref`s (bounded) from `value` at `pointer`.
    pub(crate) fn deref<'a>(
        &'a self,
        mut value: &'a Value,
        mut pointer: String,
    ) -> (&'a Value, String) {
        for _ in 0..32 {
            let Some(target) = value.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(next) = self.at(target) else { break };
            pointer = target.trim_start_matches('#').to_owned();
            value = next;
        }
        (value, pointer)
    }
}

/// Collected findings.
#[derive(Default)]
pub(crate) struct Findings(Vec<Finding>);

/// Where a comparison is, for findings.
#[derive(Clone)]
pub(crate) struct At {
    pub(crate) operation: Option<String>,
    pub(crate) old: Option<String>,
    pub(crate) new: Option<String>,
}

impl Findings {
    pub(crate) fn add(
        &mut self,
        rule_id: &'static str,
        severity: Severity,
        at: &At,
        message: String,
    ) {
        debug_assert!(rule(rule_id).is_some(), "unregistered rule {rule_id}");
        self.0.push(Finding {
            rule: rule_id,
            severity,
            operation: at.operation.clone(),
            old_pointer: at.old.clone(),
            new_pointer: at.new.clone(),
            message,
        });
    }
}

/// Escapes one JSON pointer token.
pub(crate) fn token(text: &str) -> String {
    openapi_compat::escape_pointer_token(text)
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// An operation, found by method and path shape.
struct Operation<'a> {
    path: &'a str,
    method: &'static str,
    value: &'a Value,
    path_item: &'a Value,
}

impl Operation<'_> {
    fn label(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    fn pointer(&self) -> String {
        format!("/paths/{}/{}", token(self.path), self.method)
    }
}

/// `/a/{id}/b` → `/a/{}/b`: parameter names do not make paths different.
fn path_shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push('{');
                }
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push('}');
                }
            }
            _ if depth > 0 => {}
            c => out.push(c),
        }
    }
    out
}

fn operations(doc: &Doc) -> BTreeMap<(String, &'static str), Operation<'_>> {
    let mut out = BTreeMap::new();
    let Some(paths) = doc.root.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        for method in METHODS {
            if let Some(value) = item.get(*method) {
                out.insert(
                    (path_shape(path), *method),
                    Operation {
                        path,
                        method,
                        value,
                        path_item: item,
                    },
                );
            }
        }
    }
    out
}

fn compare_documents(old: &Doc, new: &Doc, out: &mut Findings) {
    for (pointer, what) in &new.malformed {
        if !old.malformed.contains_key(pointer) {
            out.add(
                "malformed-value-ignored",
                Severity::Warning,
                &At {
                    operation: None,
                    old: None,
                    new: Some(pointer.clone()),
                },
                format!("{pointer}: {what}"),
            );
        }
    }
    compare_security_schemes(old, new, out);
    let old_ops = operations(old);
    let new_ops = operations(new);
    for (key, old_op) in &old_ops {
        let at = At {
            operation: Some(old_op.label()),
            old: Some(old_op.pointer()),
            new: None,
        };
        match new_ops.get(key) {
            None => removed_operation(old_op, &at, out),
            Some(new_op) => {
                let at = At {
                    new: Some(new_op.pointer()),
                    ..at
                };
                compare_operation(old, new, old_op, new_op, &at, out);
            }
        }
    }
    for (key, new_op) in &new_ops {
        if !old_ops.contains_key(key) {
            let at = At {
                operation: Some(new_op.label()),
                old: None,
                new: Some(new_op.pointer()),
            };
            out.add(
                "operation-added",
                Severity::Info,
                &at,
                format!("{} is new", new_op.label()),
            );
        }
    }
}

/// An operation that is gone, judged by whether it was deprecated first
/// and by its oasdiff-style `x-sunset` date.
fn removed_operation(op: &Operation<'_>, at: &At, out: &mut Findings) {
    let label = op.label();
    if !is_deprecated(op.value) {
        out.add(
            "api-removed-without-deprecation",
            Severity::Breaking,
            at,
            format!("{label} is gone and was not deprecated first"),
        );
        return;
    }
    match op.value.get("x-sunset").and_then(Value::as_str) {
        Some(sunset) if sunset_ahead(sunset) => out.add(
            "api-removed-before-sunset",
            Severity::Breaking,
            at,
            format!("{label} is gone before its sunset date {sunset}"),
        ),
        sunset => out.add(
            "api-removed-after-deprecation",
            Severity::Warning,
            at,
            match sunset {
                Some(day) => format!("{label} is gone (deprecated, sunset {day})"),
                None => format!("{label} is gone (it was deprecated)"),
            },
        ),
    }
}

/// `deprecated: true` on an operation, parameter or schema.
pub(crate) fn is_deprecated(value: &Value) -> bool {
    value.get("deprecated") == Some(&Value::Bool(true))
}

/// Whether an `x-sunset` date (`YYYY-MM-DD`, or an RFC 3339 time whose
/// date is taken) is still ahead, in UTC; an unreadable one has passed.
fn sunset_ahead(sunset: &str) -> bool {
    sunset
        .get(..10)
        .and_then(|day| chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
        .is_some_and(|day| day > chrono::Utc::now().date_naive())
}

fn compare_security_schemes(old: &Doc, new: &Doc, out: &mut Findings) {
    let schemes = |doc: &Doc| {
        doc.root
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (old_schemes, new_schemes) = (schemes(old), schemes(new));
    for (name, old_scheme) in &old_schemes {
        let pointer = format!("/components/securitySchemes/{}", token(name));
        let at = At {
            operation: None,
            old: Some(pointer.clone()),
            new: new_schemes.get(name).map(|_| pointer.clone()),
        };
        match new_schemes.get(name) {
            None => out.add(
                "security-scheme-removed",
                Severity::Breaking,
                &at,
                format!("security scheme {name} is gone"),
            ),
            Some(new_scheme) => {
                let essentials = |s: &Value| -> Vec<Value> {
                    [
                        "type",
                        "in",
                        "name",
                        "scheme",
                        "bearerFormat",
                        "openIdConnectUrl",
                    ]
                    .iter()
                    .map(|k| s.get(*k).cloned().unwrap_or(Value::Null))
                    .collect()
                };
                if essentials(old_scheme) != essentials(new_scheme) {
                    out.add(
                        "security-scheme-changed",
                        Severity::Breaking,
                        &at,
                        format!(
                            "security scheme {name} changed from {} to {}",
                            describe_scheme(old_scheme),
                            describe_scheme(new_scheme)
                        ),
                    );
                }
            }
        }
    }
}

fn describe_scheme(scheme: &Value) -> String {
    let field = |k: &str| scheme.get(k).and_then(Value::as_str).unwrap_or("?");
    match field("type") {
        "apiKey" => format!("apiKey in {} `{}`", field("in"), field("name")),
        "http" => format!("http {}", field("scheme")),
        other => other.to_owned(),
    }
}

/// The requirement sets of an operation (operation-level or document-level).
fn security_of(doc: &Doc, op: &Value) -> Vec<Vec<String>> {
    let security = op.get("security").or_else(|| doc.root.get("security"));
    security
        .and_then(Value::as_array)
        .map(|sets| {
            sets.iter()
                .filter_map(Value::as_object)
                .map(|set| {
                    let mut names: Vec<String> = set.keys().cloned().collect();
                    names.sort();
                    names
                })
                .collect()
        })
        .unwrap_or_default()
}

fn compare_operation(
    old: &Doc,
    new: &Doc,
    old_op: &Operation<'_>,
    new_op: &Operation<'_>,
    at: &At,
    out: &mut Findings,
) {
    let id = |op: &Operation<'_>| {
        op.value
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if id(old_op) != id(new_op) {
        out.add(
            "operation-id-changed",
            Severity::Breaking,
            &At {
                old: Some(format!(
                    "{}/operationId",
                    at.old.clone().unwrap_or_default()
                )),
                new: Some(format!(
                    "{}/operationId",
                    at.new.clone().unwrap_or_default()
                )),
                ..at.clone()
            },
            format!(
                "operationId changed from {} to {} (generated clients rename the method)",
                id(old_op).as_deref().unwrap_or("(none)"),
                id(new_op).as_deref().unwrap_or("(none)")
            ),
        );
    }
    match (is_deprecated(old_op.value), is_deprecated(new_op.value)) {
        (false, true) => out.add(
            "endpoint-deprecated",
            Severity::Info,
            at,
            match new_op.value.get("x-sunset").and_then(Value::as_str) {
                Some(day) => format!("{} is deprecated (sunset {day})", new_op.label()),
                None => format!("{} is deprecated", new_op.label()),
            },
        ),
        (true, false) => out.add(
            "endpoint-reactivated",
            Severity::Info,
            at,
            format!("{} is no longer deprecated", new_op.label()),
        ),
        _ => {}
    }
    let tags = |op: &Operation<'_>| op.value.get("tags").cloned().unwrap_or(Value::Null);
    if tags(old_op) != tags(new_op) {
        out.add(
            "operation-tags-changed",
            Severity::Info,
            at,
            "tags changed".into(),
        );
    }
    let (old_sec, new_sec) = (
        security_of(old, old_op.value),
        security_of(new, new_op.value),
    );
    if old_sec != new_sec {
        // Breaking when a client that satisfied an old requirement set
        // satisfies none of the new ones (and the new ones are not empty).
        let satisfied = |creds: &Vec<String>| {
            new_sec.is_empty()
                || new_sec
                    .iter()
                    .any(|set| set.iter().all(|s| creds.contains(s)))
        };
        let breaking = if old_sec.is_empty() {
            !new_sec.is_empty() && !new_sec.iter().any(Vec::is_empty)
        } else {
            !old_sec.iter().all(satisfied)
        };
        let show = |sets: &Vec<Vec<String>>| {
            if sets.is_empty() {
                "none".to_owned()
            } else {
                sets.iter()
                    .map(|s| s.join("+"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            }
        };
        out.add(
            "operation-security-changed",
            if breaking {
                Severity::Breaking
            } else {
                Severity::Info
            },
            at,
            format!(
                "security changed from {} to {}",
                show(&old_sec),
                show(&new_sec)
            ),
        );
    }
    schema::compare_parameters(
        old,
        new,
        old_op.value,
        old_op.path_item,
        new_op.value,
        new_op.path_item,
        at,
        out,
    );
    schema::compare_request_bodies(old, new, old_op.value, new_op.value, at, out);
    schema::compare_responses(old, new, old_op.value, new_op.value, at, out);
}

/// Annotation keywords: never compared (`default`, `deprecated`,
/// `readOnly` and `writeOnly` are: they change what a client sees).
pub(crate) fn is_annotation(key: &str) -> bool {
    matches!(
        key,
        "title" | "description" | "example" | "examples" | "externalDocs" | "xml"
    ) || key.starts_with("x-")
}

/// A mutable copy of an object, or an empty one.
pub(crate) fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &'static str, severity: Severity) -> Finding {
        Finding {
            rule,
            severity,
            operation: None,
            old_pointer: None,
            new_pointer: Some("/x".into()),
            message: "m".into(),
        }
    }

    #[test]
    fn overrides_raise_lower_or_drop_a_rule_and_refuse_typos() {
        let mut found = vec![
            finding("response-optional-property-added", Severity::Info),
            finding("response-required-property-removed", Severity::Breaking),
            finding("operation-tags-changed", Severity::Info),
        ];
        let set = |rule: &str, level: Option<Severity>| Override {
            rule: rule.into(),
            level,
            reason: "reviewed".into(),
        };
        let overrides = [
            set("response-optional-property-added", Some(Severity::Breaking)),
            set(
                "response-required-property-removed",
                Some(Severity::Warning),
            ),
            set("operation-tags-changed", None),
        ];
        assert_eq!(apply_overrides(&mut found, &overrides), Ok(()));
        let got: Vec<(&str, Severity)> = found.iter().map(|f| (f.rule, f.severity)).collect();
        assert_eq!(
            got,
            [
                ("response-optional-property-added", Severity::Breaking),
                ("response-required-property-removed", Severity::Warning),
            ]
        );
        assert!(found[0].message.contains("info → breaking: reviewed"));
        assert_eq!(
            apply_overrides(&mut found, &[set("no-such-rule", None)]),
            Err(OverrideError::UnknownRule("no-such-rule".into()))
        );
        let mut silent = set("operation-tags-changed", None);
        silent.reason = " ".into();
        assert_eq!(
            apply_overrides(&mut found, &[silent]),
            Err(OverrideError::NoReason("operation-tags-changed".into()))
        );
    }

    #[test]
    fn sunsets_are_dates_in_utc() {
        assert!(sunset_ahead("2999-01-01"));
        assert!(sunset_ahead("2999-01-01T00:00:00Z"));
        assert!(!sunset_ahead("2001-01-01"));
        assert!(!sunset_ahead("someday"));
    }

    #[test]
    fn path_shapes_ignore_parameter_names() {
        assert_eq!(path_shape("/kb/{kb_id}/s/{source_id}"), "/kb/{}/s/{}");
        assert_eq!(path_shape("/plain"), "/plain");
    }
}
