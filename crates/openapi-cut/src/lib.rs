//! Cutting a sub-document out of a full OpenAPI document.
//!
//! [`cut`] keeps the operations with the given `operationId`s and every
//! component they reference, transitively (schemas, responses, parameters,
//! request bodies, headers, security schemes), and nothing else; upstream's
//! key order and text are kept. [`to_python_json`] writes a document the way
//! upstream's generator (Python's `json.dumps(indent=2)`) does, so a cut of
//! an unchanged upstream document reproduces the checked-in file byte for
//! byte.

use std::collections::BTreeSet;
use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::{Map, Value};

/// Why a cut failed.
#[derive(Debug, thiserror::Error)]
pub enum CutError {
    /// An operation id was not found in the document.
    #[error("operationId {0:?} is not in the document")]
    MissingOperation(String),
    /// A `$ref` points at nothing.
    #[error("{from} references {target}, which the document does not have")]
    DanglingRef {
        /// Where the reference is.
        from: String,
        /// What it points at.
        target: String,
    },
    /// The document is not an object with `paths`.
    #[error("not an OpenAPI document: {0}")]
    NotADocument(&'static str),
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Keeps the operations whose ids are in `operation_ids`, the components
/// they reference and the top-level `openapi`, `info`, `servers` and
/// `security`.
pub fn cut(document: &Value, operation_ids: &[&str]) -> Result<Value, CutError> {
    let root = document
        .as_object()
        .ok_or(CutError::NotADocument("the top level is not an object"))?;
    let paths = root
        .get("paths")
        .and_then(Value::as_object)
        .ok_or(CutError::NotADocument("no `paths` object"))?;

    let mut kept_paths = Map::new();
    let mut found = BTreeSet::new();
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        let mut kept = Map::new();
        for (key, value) in item {
            let id = value.get("operationId").and_then(Value::as_str);
            if METHODS.contains(&key.as_str())
                && let Some(id) = id.filter(|id| operation_ids.contains(id))
            {
                found.insert(id.to_owned());
                kept.insert(key.clone(), value.clone());
            }
        }
        if kept.is_empty() {
            continue;
        }
        // Path-level fields (parameters, summary, ...) stay, in their order.
        let mut ordered = Map::new();
        for (key, value) in item {
            if !METHODS.contains(&key.as_str()) {
                ordered.insert(key.clone(), value.clone());
            } else if let Some(op) = kept.get(key) {
                ordered.insert(key.clone(), op.clone());
            }
        }
        kept_paths.insert(path.clone(), Value::Object(ordered));
    }
    if let Some(missing) = operation_ids.iter().find(|id| !found.contains(**id)) {
        return Err(CutError::MissingOperation((*missing).to_owned()));
    }

    // Components reachable from the kept operations, and schemes named by
    // security requirements (operation-level or top-level).
    let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
    let mut queue: Vec<(String, Value)> =
        vec![("#/paths".into(), Value::Object(kept_paths.clone()))];
    if let Some(security) = root.get("security") {
        queue.push(("#/security".into(), security.clone()));
    }
    while let Some((from, value)) = queue.pop() {
        let mut refs = Vec::new();
        collect_refs(&value, &mut refs);
        collect_security(&value, &mut refs);
        for target in refs {
            let Some((kind, name)) = component_of(&target) else {
                return Err(CutError::DanglingRef { from, target });
            };
            if wanted.contains(&(kind.clone(), name.clone())) {
                continue;
            }
            let component = root
                .get("components")
                .and_then(|c| c.get(&kind))
                .and_then(|c| c.get(&name))
                .ok_or_else(|| CutError::DanglingRef {
                    from: from.clone(),
                    target: target.clone(),
                })?;
            wanted.insert((kind.clone(), name.clone()));
            queue.push((target, component.clone()));
        }
    }

    let mut components = Map::new();
    if let Some(all) = root.get("components").and_then(Value::as_object) {
        for (kind, entries) in all {
            let Some(entries) = entries.as_object() else {
                continue;
            };
            let kept: Map<String, Value> = entries
                .iter()
                .filter(|(name, _)| wanted.contains(&(kind.clone(), (*name).clone())))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            if !kept.is_empty() {
                components.insert(kind.clone(), Value::Object(kept));
            }
        }
    }

    let mut out = Map::new();
    for (key, value) in root {
        match key.as_str() {
            "openapi" | "info" | "servers" | "security" => {
                out.insert(key.clone(), value.clone());
            }
            "paths" => {
                out.insert(key.clone(), Value::Object(kept_paths.clone()));
            }
            "components" if !components.is_empty() => {
                out.insert(key.clone(), Value::Object(components.clone()));
            }
            _ => {}
        }
    }
    Ok(Value::Object(out))
}

/// Every `$ref` string under `value`.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => collect_refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// `#/components/securitySchemes/NAME` for every scheme a `security`
/// requirement under `value` names.
fn collect_security(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "security"
                    && let Some(sets) = child.as_array()
                {
                    for set in sets.iter().filter_map(Value::as_object) {
                        out.extend(
                            set.keys().map(|name| {
                                format!("#/components/securitySchemes/{}", escape(name))
                            }),
                        );
                    }
                } else {
                    collect_security(child, out);
                }
            }
        }
        Value::Array(items) => {
            // A top-level `security` array is passed in directly.
            for item in items {
                if let Some(set) = item.as_object()
                    && set.values().all(Value::is_array)
                {
                    out.extend(
                        set.keys()
                            .map(|name| format!("#/components/securitySchemes/{}", escape(name))),
                    );
                } else {
                    collect_security(item, out);
                }
            }
        }
        _ => {}
    }
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// `#/components/KIND/NAME` → (KIND, NAME).
fn component_of(target: &str) -> Option<(String, String)> {
    let rest = target.strip_prefix("#/components/")?;
    let (kind, name) = rest.split_once('/')?;
    (!name.contains('/')).then(|| (unescape(kind), unescape(name)))
}

/// `value` as Python's `json.dumps(value, indent=2)` writes it (non-ASCII
/// escaped as `\uXXXX`), plus a final newline.
pub fn to_python_json(value: &Value) -> String {
    let mut out = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut out, PythonFormatter::default());
    // Serializing a Value into a Vec cannot fail.
    let _ = value.serialize(&mut serializer);
    let mut text = String::from_utf8(out).unwrap_or_default();
    text.push('\n');
    text
}

/// serde_json's pretty printer, with Python's `ensure_ascii` string escaping.
#[derive(Default)]
struct PythonFormatter(PrettyFormatter<'static>);

impl Formatter for PythonFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_like_python() {
        let value = json!({"a": [], "b": {}, "c": ["é", "😀", "x\ny\"/"], "d": 1.5, "e": null});
        assert_eq!(
            to_python_json(&value),
            "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    \"\\u00e9\",\n    \"\\ud83d\\ude00\",\n    \"x\\ny\\\"/\"\n  ],\n  \"d\": 1.5,\n  \"e\": null\n}\n"
        );
    }

    #[test]
    fn cuts_operations_with_transitive_components_in_upstream_order() -> Result<(), CutError> {
        let doc = json!({
            "openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "tags": [],
            "paths": {
                "/a": {"get": {"operationId": "a", "security": [{"Key": []}],
                    "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}},
                "/b": {"get": {"operationId": "b", "responses": {}}}
            },
            "components": {
                "schemas": {
                    "Unused": {"type": "string"},
                    "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
                    "B": {"items": {"$ref": "#/components/schemas/A"}}
                },
                "securitySchemes": {"Key": {"type": "apiKey"}, "Other": {"type": "http"}}
            }
        });
        let out = cut(&doc, &["a"])?;
        assert_eq!(out.get("tags"), None);
        assert_eq!(out["paths"].as_object().map(|p| p.len()), Some(1));
        let schemas: Vec<_> = out["components"]["schemas"]
            .as_object()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(
            schemas,
            ["A", "B"],
            "reachable only, upstream order, cycles fine"
        );
        let schemes: Vec<_> = out["components"]["securitySchemes"]
            .as_object()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(schemes, ["Key"]);
        assert!(matches!(
            cut(&doc, &["zzz"]),
            Err(CutError::MissingOperation(_))
        ));
        Ok(())
    }
}
