//! Parameters, request bodies, responses and the schemas inside them,
//! compared in the direction the data flows.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::client::Scalar;
use crate::{At, Doc, Findings, Severity, is_annotation, object, rule, token};

/// Which way the data flows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Client → server: the server may not start demanding more.
    Request,
    /// Server → client: the server may not start sending more.
    Response,
}

/// What a schema is, for rule ids and messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    Parameter,
    Body,
    Property,
    /// A response header.
    Header,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Response => "response",
        }
    }

    /// `breaking` if the change hurts on this side, `info` otherwise.
    pub(crate) fn pick(self, request: Severity, response: Severity) -> Severity {
        match self {
            Side::Request => request,
            Side::Response => response,
        }
    }
}

/// The registered id `{side}-{subject}-{change}`.
pub(crate) fn rule_id(side: Side, subject: Subject, change: &str) -> &'static str {
    let subject = match subject {
        Subject::Parameter => "parameter",
        Subject::Body => "body",
        Subject::Property => "property",
        Subject::Header => "header",
    };
    let id = format!("{}-{subject}-{change}", side.name());
    debug_assert!(rule(&id).is_some(), "unregistered rule {id}");
    rule(&id).map_or("schema-ref-changed", |r| r.id)
}

/// The `type` of a schema; a 3.1 list of types (kept only beside an
/// `anyOf`) as its sorted names joined by `|`.
fn type_of(v: &View<'_>) -> Option<String> {
    match v.get("type")? {
        Value::String(t) => Some(t.clone()),
        Value::Array(types) => {
            let mut names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            names.sort_unstable();
            Some(names.join("|"))
        }
        _ => None,
    }
}

/// A schema as compared: `$ref`s followed, single `allOf`s unwrapped (the
/// wrapper's own keywords, such as `nullable`, override the inner schema's).
/// Borrowed: big documents are compared without copying subtrees.
pub(crate) struct View<'a> {
    base: &'a Map<String, Value>,
    overrides: Vec<(&'a str, &'a Value)>,
    pub(crate) pointer: String,
    name: Option<String>,
}

static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

impl<'a> View<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.overrides
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .or_else(|| self.base.get(key))
    }
}

fn view<'a>(doc: &'a Doc, value: &'a Value, pointer: String, depth: usize) -> View<'a> {
    let name = value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned);
    let (target, pointer) = doc.deref(value, pointer);
    let base = target.as_object().unwrap_or(&EMPTY);
    let single = base
        .get("allOf")
        .and_then(Value::as_array)
        .filter(|all| all.len() == 1)
        .and_then(|all| all.first());
    if let Some(inner) = single.filter(|_| depth < 32) {
        let mut inner_view = view(doc, inner, format!("{pointer}/allOf/0"), depth + 1);
        let mut overrides: Vec<(&'a str, &'a Value)> = base
            .iter()
            .filter(|(k, _)| k.as_str() != "allOf" && !is_annotation(k))
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        overrides.append(&mut inner_view.overrides);
        inner_view.overrides = overrides;
        inner_view.name = inner_view.name.or(name);
        return inner_view;
    }
    View {
        base,
        overrides: Vec::new(),
        pointer,
        name,
    }
}

/// Schema comparison state.
pub(crate) struct Compare<'a> {
    old: &'a Doc,
    new: &'a Doc,
    pub(crate) side: Side,
    operation: Option<String>,
    out: &'a mut Findings,
    visiting: HashSet<(String, String)>,
}

impl Compare<'_> {
    pub(crate) fn add(
        &mut self,
        id: &'static str,
        severity: Severity,
        old: &str,
        new: &str,
        message: String,
    ) {
        let at = At {
            operation: self.operation.clone(),
            old: Some(old.to_owned()),
            new: Some(new.to_owned()),
        };
        self.out.add(id, severity, &at, message);
    }

    pub(crate) fn schema(
        &mut self,
        old: &Value,
        old_pointer: String,
        new: &Value,
        new_pointer: String,
        subject: Subject,
        what: &str,
    ) {
        let o = view(self.old, old, old_pointer, 0);
        let n = view(self.new, new, new_pointer, 0);
        if !self.visiting.insert((o.pointer.clone(), n.pointer.clone())) {
            return;
        }
        let (op, np) = (o.pointer.clone(), n.pointer.clone());
        let side = self.side;
        let id = |change: &str| rule_id(side, subject, change);

        if let (Some(a), Some(b)) = (&o.name, &n.name)
            && a != b
        {
            self.add(
                "schema-ref-changed",
                Severity::Warning,
                &op,
                &np,
                format!("{what} now refers to {b} instead of {a}"),
            );
        }

        let nullable = |s: &View<'_>| s.get("nullable") == Some(&Value::Bool(true));
        match (nullable(&o), nullable(&n)) {
            (false, true) => self.add(
                id("became-nullable"),
                side.pick(Severity::Info, Severity::Breaking),
                &op,
                &np,
                format!("{what} may now be null"),
            ),
            (true, false) => self.add(
                id("became-not-nullable"),
                side.pick(Severity::Breaking, Severity::Info),
                &op,
                &np,
                format!("{what} may no longer be null"),
            ),
            _ => {}
        }

        let (old_type, new_type) = (type_of(&o), type_of(&n));
        let type_change = match (&old_type, &new_type) {
            (Some(a), Some(b)) if a != b => Some(match (a.as_str(), b.as_str()) {
                // Every integer is a number: widening a request, or
                // narrowing a response, keeps old clients working.
                ("integer", "number") => side.pick(Severity::Info, Severity::Breaking),
                ("number", "integer") => side.pick(Severity::Breaking, Severity::Info),
                _ => Severity::Breaking,
            }),
            (None, Some(_)) => Some(side.pick(Severity::Breaking, Severity::Info)),
            (Some(_), None) => Some(side.pick(Severity::Info, Severity::Breaking)),
            _ => None,
        };
        if let Some(severity) = type_change {
            let show = |t: &Option<String>| t.clone().unwrap_or_else(|| "any".into());
            self.add(
                id("type-changed"),
                severity,
                &op,
                &np,
                format!(
                    "{what} changed type from {} to {}",
                    show(&old_type),
                    show(&new_type)
                ),
            );
            if old_type.is_some() && new_type.is_some() {
                self.visiting.remove(&(op, np));
                return;
            }
        }

        let (old_scalar, new_scalar) = (Scalar::read(|k| o.get(k)), Scalar::read(|k| n.get(k)));
        if old_scalar.format != new_scalar.format {
            self.format_change(&old_scalar, &new_scalar, &op, &np, subject, what);
        }
        self.constraints(&o, &n, &old_scalar, &new_scalar, &op, &np, subject, what);
        self.default_value(&o, &n, &op, &np, subject, what);
        self.enums(&o, &n, &op, &np, subject, what);
        self.properties(&o, &n, subject, what);
        self.additional_properties(&o, &n, subject, what);
        self.discriminator(&o, &n, &op, &np, subject, what);
        self.json_schema_keywords(&o, &n, subject, what);

        if let (Some(a), Some(b)) = (o.get("items"), n.get("items")) {
            self.schema(
                a,
                format!("{op}/items"),
                b,
                format!("{np}/items"),
                Subject::Property,
                &format!("{what}[]"),
            );
        }
        for keyword in ["oneOf", "anyOf", "allOf"] {
            let (Some(a), Some(b)) = (
                o.get(keyword).and_then(Value::as_array),
                n.get(keyword).and_then(Value::as_array),
            ) else {
                continue;
            };
            // Variants that all name a component are matched by name, so
            // a reordered or inserted variant is not a change of the others.
            let names = |list: &[Value]| -> Option<Vec<String>> {
                list.iter()
                    .map(|v| {
                        v.get("$ref")
                            .and_then(Value::as_str)
                            .and_then(|r| r.rsplit('/').next())
                            .map(str::to_owned)
                    })
                    .collect()
            };
            let pairs: Vec<(usize, usize)> = match (names(a), names(b)) {
                (Some(na), Some(nb)) => {
                    let added: Vec<&String> = nb.iter().filter(|n| !na.contains(n)).collect();
                    let removed: Vec<&String> = na.iter().filter(|n| !nb.contains(n)).collect();
                    if !added.is_empty() || !removed.is_empty() {
                        let list = |names: &[&String]| {
                            names
                                .iter()
                                .map(|n| n.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        let severity = match (keyword, side, added.is_empty(), removed.is_empty()) {
                            ("allOf", ..) => Severity::Warning,
                            // A response may now be a variant the client
                            // does not know; a request may no longer be one
                            // the client sends.
                            (_, Side::Response, false, _) | (_, Side::Request, _, false) => {
                                Severity::Breaking
                            }
                            _ => Severity::Info,
                        };
                        let mut change = Vec::new();
                        if !added.is_empty() {
                            change.push(format!("gained {}", list(&added)));
                        }
                        if !removed.is_empty() {
                            change.push(format!("lost {}", list(&removed)));
                        }
                        self.add(
                            id("variants-changed"),
                            severity,
                            &op,
                            &np,
                            format!("{what} {keyword} {}", change.join(" and ")),
                        );
                    }
                    na.iter()
                        .enumerate()
                        .filter_map(|(i, name)| nb.iter().position(|m| m == name).map(|j| (i, j)))
                        .collect()
                }
                _ => {
                    if a.len() != b.len() {
                        let more = b.len() > a.len();
                        self.add(
                            id("variants-changed"),
                            match (side, more, keyword) {
                                (_, _, "allOf") => Severity::Warning,
                                (Side::Response, true, _) | (Side::Request, false, _) => {
                                    Severity::Breaking
                                }
                                _ => Severity::Info,
                            },
                            &op,
                            &np,
                            format!(
                                "{what} {keyword} went from {} to {} variants",
                                a.len(),
                                b.len()
                            ),
                        );
                    }
                    (0..a.len().min(b.len())).map(|i| (i, i)).collect()
                }
            };
            for (i, j) in pairs {
                self.schema(
                    &a[i],
                    format!("{op}/{keyword}/{i}"),
                    &b[j],
                    format!("{np}/{keyword}/{j}"),
                    subject,
                    what,
                );
            }
        }
        self.visiting.remove(&(op, np));
    }

    fn enums(
        &mut self,
        old: &View<'_>,
        new: &View<'_>,
        op: &str,
        np: &str,
        subject: Subject,
        what: &str,
    ) {
        let values = |s: &View<'_>| {
            s.get("enum").and_then(Value::as_array).map(|values| {
                values
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(Value::to_string)
                    .collect::<BTreeSet<String>>()
            })
        };
        let side = self.side;
        let id = |change: &str| rule_id(side, subject, change);
        match (values(old), values(new)) {
            (None, Some(b)) => self.add(
                id("enum-added"),
                side.pick(Severity::Breaking, Severity::Info),
                op,
                np,
                format!("{what} is now restricted to {}", join(&b)),
            ),
            (Some(_), None) => self.add(
                id("enum-removed"),
                side.pick(Severity::Info, Severity::Breaking),
                op,
                np,
                format!("{what} is no longer restricted to a list of values"),
            ),
            (Some(a), Some(b)) => {
                let added: BTreeSet<String> = b.difference(&a).cloned().collect();
                let removed: BTreeSet<String> = a.difference(&b).cloned().collect();
                if !added.is_empty() {
                    self.add(
                        id("enum-value-added"),
                        side.pick(Severity::Info, Severity::Breaking),
                        op,
                        np,
                        format!("{what} gained enum value(s) {}", join(&added)),
                    );
                }
                if !removed.is_empty() {
                    self.add(
                        id("enum-value-removed"),
                        side.pick(Severity::Breaking, Severity::Info),
                        op,
                        np,
                        format!("{what} lost enum value(s) {}", join(&removed)),
                    );
                }
            }
            (None, None) => {}
        }
    }

    fn properties(&mut self, o: &View<'_>, n: &View<'_>, subject: Subject, what: &str) {
        fn props<'v>(v: &View<'v>) -> &'v Map<String, Value> {
            v.get("properties")
                .and_then(Value::as_object)
                .unwrap_or(&EMPTY)
        }
        let required = |v: &View<'_>| -> BTreeSet<String> {
            v.get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (old_props, new_props) = (props(o), props(n));
        if old_props.is_empty() && new_props.is_empty() {
            return;
        }
        let (old_req, new_req) = (required(o), required(n));
        let prefix = if subject == Subject::Body {
            String::new()
        } else {
            format!("{what}.")
        };
        let side = self.side;
        let (old_doc, new_doc) = (self.old, self.new);
        let flag = |doc: &Doc, schema: &Value, key: &str| {
            view(doc, schema, String::new(), 0).get(key) == Some(&Value::Bool(true))
        };
        for (name, old_schema) in old_props {
            let op = format!("{}/properties/{}", o.pointer, token(name));
            let np = format!("{}/properties/{}", n.pointer, token(name));
            let label = format!("{prefix}{name}");
            let was_required = old_req.contains(name);
            let deprecated = flag(old_doc, old_schema, "deprecated");
            let Some(new_schema) = new_props.get(name) else {
                let (rule_id, severity) = match (side, was_required) {
                    // A typed client's struct needs a required field, even a
                    // deprecated one; one the server never sent is no loss.
                    (Side::Response, true) if flag(old_doc, old_schema, "writeOnly") => {
                        ("response-required-property-removed", Severity::Info)
                    }
                    (Side::Response, true) => {
                        ("response-required-property-removed", Severity::Breaking)
                    }
                    (Side::Response, false) if deprecated => {
                        ("response-optional-property-removed", Severity::Info)
                    }
                    (Side::Response, false) => {
                        ("response-optional-property-removed", Severity::Warning)
                    }
                    (Side::Request, _) if deprecated => {
                        ("request-property-removed", Severity::Info)
                    }
                    (Side::Request, _) => ("request-property-removed", Severity::Warning),
                };
                let how = if deprecated {
                    " (it was deprecated)"
                } else {
                    " without having been deprecated"
                };
                self.add(
                    rule_id,
                    severity,
                    &op,
                    &n.pointer,
                    format!("property {label} is gone{how}"),
                );
                continue;
            };
            let is_required = new_req.contains(name);
            if was_required != is_required {
                let (rule_id, severity) = match (side, is_required) {
                    (Side::Response, false) => {
                        ("response-property-became-optional", Severity::Breaking)
                    }
                    (Side::Response, true) => ("response-property-became-required", Severity::Info),
                    (Side::Request, true) if flag(new_doc, new_schema, "readOnly") => {
                        ("request-property-became-required", Severity::Info)
                    }
                    (Side::Request, true) => {
                        ("request-property-became-required", Severity::Breaking)
                    }
                    (Side::Request, false) => ("request-property-became-optional", Severity::Info),
                };
                let state = if is_required { "required" } else { "optional" };
                self.add(
                    rule_id,
                    severity,
                    &op,
                    &np,
                    format!("property {label} became {state}"),
                );
            }
            if !deprecated && flag(new_doc, new_schema, "deprecated") {
                let id = match side {
                    Side::Request => "request-property-deprecated",
                    Side::Response => "response-property-deprecated",
                };
                self.add(
                    id,
                    Severity::Info,
                    &op,
                    &np,
                    format!("property {label} is deprecated"),
                );
            }
            for key in ["readOnly", "writeOnly"] {
                let (was, is) = (
                    flag(old_doc, old_schema, key),
                    flag(new_doc, new_schema, key),
                );
                if was == is {
                    continue;
                }
                // readOnly: never sent by clients; writeOnly: never sent back.
                let (id, severity) = match (side, key, is) {
                    (Side::Request, "readOnly", true) => {
                        ("request-property-read-only-changed", Severity::Warning)
                    }
                    (Side::Request, "readOnly", false) => (
                        "request-property-read-only-changed",
                        if is_required {
                            Severity::Breaking
                        } else {
                            Severity::Info
                        },
                    ),
                    (Side::Request, _, _) => {
                        ("request-property-write-only-changed", Severity::Info)
                    }
                    (Side::Response, "writeOnly", true) => (
                        "response-property-write-only-changed",
                        if was_required {
                            Severity::Breaking
                        } else {
                            Severity::Warning
                        },
                    ),
                    (Side::Response, "writeOnly", false) => {
                        ("response-property-write-only-changed", Severity::Info)
                    }
                    (Side::Response, _, _) => {
                        ("response-property-read-only-changed", Severity::Info)
                    }
                };
                let state = if is { "became" } else { "is no longer" };
                self.add(
                    id,
                    severity,
                    &op,
                    &np,
                    format!("property {label} {state} {key}"),
                );
            }
            self.schema(old_schema, op, new_schema, np, Subject::Property, &label);
        }
        for (name, new_schema) in new_props
            .iter()
            .filter(|(k, _)| !old_props.contains_key(*k))
        {
            let np = format!("{}/properties/{}", n.pointer, token(name));
            let label = format!("{prefix}{name}");
            let (rule_id, severity) = match (side, new_req.contains(name)) {
                (Side::Response, true) => ("response-required-property-added", Severity::Info),
                (Side::Response, false) => ("response-optional-property-added", Severity::Info),
                // A readOnly property is never sent by clients.
                (Side::Request, true) if flag(new_doc, new_schema, "readOnly") => {
                    ("new-required-request-property", Severity::Info)
                }
                (Side::Request, true) => ("new-required-request-property", Severity::Breaking),
                (Side::Request, false) => ("new-optional-request-property", Severity::Info),
            };
            self.add(
                rule_id,
                severity,
                &o.pointer,
                &np,
                format!("new property {label}"),
            );
        }
    }
}

fn join(values: &BTreeSet<String>) -> String {
    values.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn compare<'a>(
    old: &'a Doc,
    new: &'a Doc,
    side: Side,
    at: &At,
    out: &'a mut Findings,
) -> Compare<'a> {
    Compare {
        old,
        new,
        side,
        operation: at.operation.clone(),
        out,
        visiting: HashSet::new(),
    }
}

/// A parameter, with where it was declared.
struct Param {
    value: Value,
    pointer: String,
}

/// Path-level and operation-level parameters by (in, name); the
/// operation's override the path's.
fn parameters(
    doc: &Doc,
    op: &Value,
    item: &Value,
    op_pointer: &str,
) -> BTreeMap<(String, String), Param> {
    let item_pointer = op_pointer
        .rsplit_once('/')
        .map_or("", |(p, _)| p)
        .to_owned();
    let mut out = BTreeMap::new();
    for (list, base) in [
        (item.get("parameters"), item_pointer),
        (op.get("parameters"), op_pointer.to_owned()),
    ] {
        for (i, p) in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let (value, pointer) = doc.deref(p, format!("{base}/parameters/{i}"));
            let field = |k: &str| {
                value
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            out.insert(
                (field("in"), field("name")),
                Param {
                    value: value.clone(),
                    pointer,
                },
            );
        }
    }
    out
}

/// The parameter of `to` with `name` in another location than `location`,
/// which `from` does not have there: the parameter moved.
fn moved<'p>(
    from: &BTreeMap<(String, String), Param>,
    to: &'p BTreeMap<(String, String), Param>,
    location: &str,
    name: &str,
) -> Option<(String, &'p Param)> {
    to.iter()
        .find(|((l, n), _)| {
            n == name && l != location && !from.contains_key(&(l.clone(), n.clone()))
        })
        .map(|((l, _), p)| (l.clone(), p))
}

/// A parameter's effective `style` and `explode` (the defaults by
/// location: `form` with explode for query and cookie, `simple` for path
/// and header).
fn serialization(p: &Param) -> (String, bool) {
    let location = p.value.get("in").and_then(Value::as_str).unwrap_or("");
    let style = p
        .value
        .get("style")
        .and_then(Value::as_str)
        .unwrap_or(match location {
            "query" | "cookie" => "form",
            _ => "simple",
        })
        .to_owned();
    let explode = p
        .value
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == "form");
    (style, explode)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn compare_parameters(
    old: &Doc,
    new: &Doc,
    old_op: &Value,
    old_item: &Value,
    new_op: &Value,
    new_item: &Value,
    at: &At,
    out: &mut Findings,
) {
    let old_params = parameters(old, old_op, old_item, at.old.as_deref().unwrap_or(""));
    let new_params = parameters(new, new_op, new_item, at.new.as_deref().unwrap_or(""));
    let required = |p: &Param| p.value.get("required") == Some(&Value::Bool(true));
    for ((location, name), old_param) in &old_params {
        let here = |new_pointer: Option<String>| At {
            old: Some(old_param.pointer.clone()),
            new: new_pointer,
            ..at.clone()
        };
        let Some(new_param) = new_params.get(&(location.clone(), name.clone())) else {
            if let Some((to, new_param)) = moved(&old_params, &new_params, location, name) {
                out.add(
                    "request-parameter-location-changed",
                    Severity::Breaking,
                    &here(Some(new_param.pointer.clone())),
                    format!("parameter {name} moved from {location} to {to}"),
                );
                continue;
            }
            out.add(
                "request-parameter-removed",
                Severity::Warning,
                &here(None),
                format!("{location} parameter {name} is no longer declared"),
            );
            continue;
        };
        let at_both = here(Some(new_param.pointer.clone()));
        let (was, is) = (serialization(old_param), serialization(new_param));
        if was.0 != is.0 {
            out.add(
                "request-parameter-style-changed",
                Severity::Breaking,
                &at_both,
                format!(
                    "{location} parameter {name} style changed from {} to {}",
                    was.0, is.0
                ),
            );
        } else if was.1 != is.1 {
            out.add(
                "request-parameter-explode-changed",
                Severity::Breaking,
                &at_both,
                format!(
                    "{location} parameter {name} explode changed from {} to {}",
                    was.1, is.1
                ),
            );
        }
        if !crate::is_deprecated(&old_param.value) && crate::is_deprecated(&new_param.value) {
            out.add(
                "request-parameter-deprecated",
                Severity::Info,
                &at_both,
                format!("{location} parameter {name} is deprecated"),
            );
        }
        match (required(old_param), required(new_param)) {
            (false, true) => out.add(
                "request-parameter-became-required",
                Severity::Breaking,
                &at_both,
                format!("{location} parameter {name} became required"),
            ),
            (true, false) => out.add(
                "request-parameter-became-optional",
                Severity::Info,
                &at_both,
                format!("{location} parameter {name} became optional"),
            ),
            _ => {}
        }
        let (Some(a), Some(b)) = (old_param.value.get("schema"), new_param.value.get("schema"))
        else {
            continue;
        };
        compare(old, new, Side::Request, at, out).schema(
            a,
            format!("{}/schema", old_param.pointer),
            b,
            format!("{}/schema", new_param.pointer),
            Subject::Parameter,
            &format!("{location} parameter {name}"),
        );
    }
    for ((location, name), new_param) in &new_params {
        if old_params.contains_key(&(location.clone(), name.clone()))
            || moved(&new_params, &old_params, location, name).is_some()
        {
            continue;
        }
        let here = At {
            old: None,
            new: Some(new_param.pointer.clone()),
            ..at.clone()
        };
        if required(new_param) {
            out.add(
                "new-required-request-parameter",
                Severity::Breaking,
                &here,
                format!("new required {location} parameter {name}"),
            );
        } else {
            out.add(
                "new-optional-request-parameter",
                Severity::Info,
                &here,
                format!("new optional {location} parameter {name}"),
            );
        }
    }
}

pub(crate) fn compare_request_bodies(
    old: &Doc,
    new: &Doc,
    old_op: &Value,
    new_op: &Value,
    at: &At,
    out: &mut Findings,
) {
    let body = |doc: &Doc, op: &Value, base: Option<&String>| {
        op.get("requestBody").map(|b| {
            let (value, pointer) = doc.deref(
                b,
                format!("{}/requestBody", base.cloned().unwrap_or_default()),
            );
            (value.clone(), pointer)
        })
    };
    let required = |b: &Value| b.get("required") == Some(&Value::Bool(true));
    match (
        body(old, old_op, at.old.as_ref()),
        body(new, new_op, at.new.as_ref()),
    ) {
        (None, None) => {}
        (None, Some((b, p))) => out.add(
            "request-body-added",
            if required(&b) {
                Severity::Breaking
            } else {
                Severity::Info
            },
            &At {
                old: None,
                new: Some(p),
                ..at.clone()
            },
            format!(
                "a {} request body is now declared",
                if required(&b) { "required" } else { "optional" }
            ),
        ),
        (Some((_, p)), None) => out.add(
            "request-body-removed",
            Severity::Warning,
            &At {
                old: Some(p),
                new: None,
                ..at.clone()
            },
            "the request body is no longer declared".into(),
        ),
        (Some((a, ap)), Some((b, bp))) => {
            let here = At {
                old: Some(ap.clone()),
                new: Some(bp.clone()),
                ..at.clone()
            };
            match (required(&a), required(&b)) {
                (false, true) => out.add(
                    "request-body-became-required",
                    Severity::Breaking,
                    &here,
                    "the request body became required".into(),
                ),
                (true, false) => out.add(
                    "request-body-became-optional",
                    Severity::Info,
                    &here,
                    "the request body became optional".into(),
                ),
                _ => {}
            }
            let bodies = Bodies {
                old: &a,
                old_pointer: ap,
                new: &b,
                new_pointer: bp,
            };
            compare_content(old, new, &bodies, Side::Request, "request body", at, out);
        }
    }
}

/// The response of `responses` that answers status `code`: the exact key,
/// else its `NXX` range, else `default`.
fn covering<'a>(responses: &'a Map<String, Value>, code: &str) -> Option<(&'a String, &'a Value)> {
    if let Some(hit) = responses.get_key_value(code) {
        return Some(hit);
    }
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) {
        let range = format!("{}XX", &code[..1]);
        if let Some(hit) = responses
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&range))
        {
            return Some(hit);
        }
    }
    responses.get_key_value("default")
}

fn is_success(code: &str) -> bool {
    code.starts_with('2')
}

pub(crate) fn compare_responses(
    old: &Doc,
    new: &Doc,
    old_op: &Value,
    new_op: &Value,
    at: &At,
    out: &mut Findings,
) {
    let old_responses = object(old_op.get("responses").unwrap_or(&Value::Null));
    let new_responses = object(new_op.get("responses").unwrap_or(&Value::Null));
    let base_old = format!("{}/responses", at.old.clone().unwrap_or_default());
    let base_new = format!("{}/responses", at.new.clone().unwrap_or_default());
    for (code, old_response) in &old_responses {
        let op = format!("{base_old}/{}", token(code));
        match covering(&new_responses, code) {
            Some((new_code, new_response)) => {
                let np = format!("{base_new}/{}", token(new_code));
                response_contents(old, new, old_response, op, new_response, np, code, at, out);
            }
            None => {
                let (rule_id, severity) = if is_success(code) {
                    ("response-success-status-removed", Severity::Breaking)
                } else {
                    ("response-non-success-status-removed", Severity::Warning)
                };
                out.add(
                    rule_id,
                    severity,
                    &At {
                        old: Some(op),
                        new: None,
                        ..at.clone()
                    },
                    format!("status {code} is no longer documented"),
                );
            }
        }
    }
    for (code, new_response) in &new_responses {
        if old_responses.contains_key(code) {
            continue;
        }
        let np = format!("{base_new}/{}", token(code));
        let (rule_id, severity) = if is_success(code) {
            ("response-success-status-added", Severity::Info)
        } else {
            ("response-non-success-status-added", Severity::Info)
        };
        out.add(
            rule_id,
            severity,
            &At {
                old: None,
                new: Some(np.clone()),
                ..at.clone()
            },
            format!("status {code} is newly documented"),
        );
        // A client written against the old document reads this status with
        // the body of the range (or default) that covered it.
        if let Some((old_code, old_response)) = covering(&old_responses, code) {
            let op = format!("{base_old}/{}", token(old_code));
            response_contents(old, new, old_response, op, new_response, np, code, at, out);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn response_contents(
    old: &Doc,
    new: &Doc,
    old_response: &Value,
    old_pointer: String,
    new_response: &Value,
    new_pointer: String,
    code: &str,
    at: &At,
    out: &mut Findings,
) {
    let (a, ap) = old.deref(old_response, old_pointer);
    let (b, bp) = new.deref(new_response, new_pointer);
    let bodies = Bodies {
        old: a,
        old_pointer: ap,
        new: b,
        new_pointer: bp,
    };
    compare_content(
        old,
        new,
        &bodies,
        Side::Response,
        &format!("{code} body"),
        at,
        out,
    );
    compare_headers(old, new, &bodies, code, at, out);
}

/// Response headers, by case-insensitive name (`Content-Type` is never a
/// header object, by the specification).
fn compare_headers(
    old: &Doc,
    new: &Doc,
    bodies: &Bodies<'_>,
    code: &str,
    at: &At,
    out: &mut Findings,
) {
    let headers = |doc: &Doc, response: &Value, base: &str| -> BTreeMap<String, Param> {
        response
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-type"))
            .map(|(name, header)| {
                let (value, pointer) = doc.deref(header, format!("{base}/headers/{}", token(name)));
                (
                    name.to_ascii_lowercase(),
                    Param {
                        value: value.clone(),
                        pointer,
                    },
                )
            })
            .collect()
    };
    let old_headers = headers(old, bodies.old, &bodies.old_pointer);
    let new_headers = headers(new, bodies.new, &bodies.new_pointer);
    let required = |p: &Param| p.value.get("required") == Some(&Value::Bool(true));
    for (name, old_header) in &old_headers {
        let Some(new_header) = new_headers.get(name) else {
            let (id, severity) = if required(old_header) {
                ("required-response-header-removed", Severity::Breaking)
            } else {
                ("optional-response-header-removed", Severity::Warning)
            };
            out.add(
                id,
                severity,
                &At {
                    old: Some(old_header.pointer.clone()),
                    new: Some(bodies.new_pointer.clone()),
                    ..at.clone()
                },
                format!("{code} header {name} is gone"),
            );
            continue;
        };
        let here = At {
            old: Some(old_header.pointer.clone()),
            new: Some(new_header.pointer.clone()),
            ..at.clone()
        };
        match (required(old_header), required(new_header)) {
            (true, false) => out.add(
                "response-header-became-optional",
                Severity::Breaking,
                &here,
                format!("{code} header {name} may now be absent"),
            ),
            (false, true) => out.add(
                "response-header-became-required",
                Severity::Info,
                &here,
                format!("{code} header {name} is now always sent"),
            ),
            _ => {}
        }
        if let (Some(a), Some(b)) = (
            old_header.value.get("schema"),
            new_header.value.get("schema"),
        ) {
            compare(old, new, Side::Response, at, out).schema(
                a,
                format!("{}/schema", old_header.pointer),
                b,
                format!("{}/schema", new_header.pointer),
                Subject::Header,
                &format!("{code} header {name}"),
            );
        }
    }
    for (name, new_header) in &new_headers {
        if !old_headers.contains_key(name) {
            out.add(
                "response-header-added",
                Severity::Info,
                &At {
                    old: Some(bodies.old_pointer.clone()),
                    new: Some(new_header.pointer.clone()),
                    ..at.clone()
                },
                format!("{code} header {name} is newly documented"),
            );
        }
    }
}

/// A request body or a response, in both documents.
struct Bodies<'a> {
    old: &'a Value,
    old_pointer: String,
    new: &'a Value,
    new_pointer: String,
}

/// Compares the `content` maps (media types and their schemas) of `bodies`.
fn compare_content(
    old: &Doc,
    new: &Doc,
    bodies: &Bodies<'_>,
    side: Side,
    what: &str,
    at: &At,
    out: &mut Findings,
) {
    let (ap, bp) = (&bodies.old_pointer, &bodies.new_pointer);
    let (old_content, new_content) = (
        object(bodies.old.get("content").unwrap_or(&Value::Null)),
        object(bodies.new.get("content").unwrap_or(&Value::Null)),
    );
    let (removed, added) = match side {
        Side::Request => ("request-media-type-removed", "request-media-type-added"),
        Side::Response => ("response-media-type-removed", "response-media-type-added"),
    };
    for (media, old_media) in &old_content {
        let mp = format!("{ap}/content/{}", token(media));
        let Some(new_media) = new_content.get(media) else {
            let here = At {
                old: Some(mp),
                new: Some(bp.clone()),
                ..at.clone()
            };
            out.add(
                removed,
                Severity::Breaking,
                &here,
                format!("{what}: media type {media} is gone"),
            );
            continue;
        };
        let np = format!("{bp}/content/{}", token(media));
        if let (Some(x), Some(y)) = (old_media.get("schema"), new_media.get("schema")) {
            compare(old, new, side, at, out).schema(
                x,
                format!("{mp}/schema"),
                y,
                format!("{np}/schema"),
                Subject::Body,
                what,
            );
        }
    }
    for media in new_content.keys().filter(|m| !old_content.contains_key(*m)) {
        let here = At {
            old: Some(ap.clone()),
            new: Some(format!("{bp}/content/{}", token(media))),
            ..at.clone()
        };
        out.add(
            added,
            Severity::Info,
            &here,
            format!("{what}: media type {media} is new"),
        );
    }
}
