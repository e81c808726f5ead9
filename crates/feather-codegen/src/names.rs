//! Idiomatic names for FastAPI's operation ids and schema names.
//!
//! **Operations.** FastAPI's default operation id is
//! `{function}{path}_{method}` with every non-word character of the path
//! turned into `_`, e.g. `get_sync_status` + `/v1/kb/{kb_id}/sync` + `get` →
//! `get_sync_status_v1_kb__kb_id__sync_get`. The suffix is stripped only
//! when it is exactly the one FastAPI would derive from *this* operation's
//! own path and method, so hand-written ids (`whoAmI`) are left alone. When
//! two operations would end up with the same method name (compared the way
//! progenitor spells methods, in snake case), both keep their full ids.
//!
//! **Schemas.** Component names that are not plain alphanumeric identifiers
//! (`Item-Input`, `Page_Item_`, pydantic's `src__module__Model`) become
//! PascalCase names from their alphanumeric runs; a pydantic module path is
//! dropped when the model name alone is unique. A name that would collide
//! (as typify spells types, in PascalCase) with another gets a numeric
//! suffix. Every `$ref` is rewritten to match.

use std::collections::{BTreeMap, HashMap, HashSet};

use heck::{ToSnakeCase, ToUpperCamelCase};
use serde_json::Value;

use crate::{Note, operations};

/// Renames FastAPI operation ids in place; returns what was renamed.
pub(crate) fn rename_operations(document: &mut Value, notes: &mut Vec<Note>) {
    let mut planned: Vec<(String, String, String)> = Vec::new(); // (pointer, old, new)
    for operation in operations::list(document) {
        let Some(id) = operation.value.get("operationId").and_then(Value::as_str) else {
            continue;
        };
        let short = strip_fastapi_suffix(id, &operation.path, &operation.method)
            .unwrap_or(id)
            .to_owned();
        planned.push((operation.pointer, id.to_owned(), short));
    }
    let mut uses: HashMap<String, usize> = HashMap::new();
    for (_, _, short) in &planned {
        *uses.entry(short.to_snake_case()).or_default() += 1;
    }
    for (pointer, old, new) in planned {
        if old == new {
            continue;
        }
        if uses.get(&new.to_snake_case()).copied().unwrap_or(0) > 1 {
            notes.push(Note {
                pointer: pointer.clone(),
                message: format!("operation id {old:?} kept: {new:?} would collide"),
            });
            continue;
        }
        if let Some(slot) = document
            .pointer_mut(&pointer)
            .and_then(|operation| operation.get_mut("operationId"))
        {
            *slot = Value::String(new);
        }
    }
}

/// The function name FastAPI's default id generator started from, when
/// `id` is exactly `{function}{path}_{method}` for this path and method.
pub fn strip_fastapi_suffix<'i>(id: &'i str, path: &str, method: &str) -> Option<&'i str> {
    let sanitized_path: String = path
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let suffix = format!("{sanitized_path}_{}", method.to_ascii_lowercase());
    let function = id.strip_suffix(&suffix)?;
    let is_identifier = function
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && function.chars().all(|c| c.is_alphanumeric() || c == '_');
    is_identifier.then_some(function)
}

/// The type name for one component name, before collisions are resolved.
pub fn clean_schema_name(name: &str) -> String {
    // pydantic writes `module__path__Model` to disambiguate; the model is
    // the last segment.
    let model = name.rsplit("__").next().unwrap_or(name);
    pascal_from_runs(model)
}

fn pascal_from_runs(name: &str) -> String {
    let mut out = String::new();
    for run in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = run.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Schema");
    }
    out
}

fn is_plain(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Renames components whose names are not plain identifiers and rewrites
/// every reference to them.
pub(crate) fn rename_schemas(document: &mut Value, notes: &mut Vec<Note>) {
    let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return;
    };
    let names: Vec<String> = schemas.keys().cloned().collect();
    // Plain names are kept verbatim and claim their spelling first.
    let mut taken: HashSet<String> = names
        .iter()
        .filter(|name| is_plain(name))
        .map(|name| name.to_upper_camel_case())
        .collect();
    let wanted: Vec<(String, String)> = names
        .iter()
        .filter(|name| !is_plain(name))
        .map(|name| (name.clone(), clean_schema_name(name)))
        .collect();
    let mut wanted_count: HashMap<String, usize> = HashMap::new();
    for (_, clean) in &wanted {
        *wanted_count.entry(clean.to_upper_camel_case()).or_default() += 1;
    }
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    for (old, clean) in wanted {
        let key = clean.to_upper_camel_case();
        let mut candidate = clean.clone();
        if taken.contains(&key) || wanted_count.get(&key).copied().unwrap_or(0) > 1 {
            // Ambiguous as a bare model name: keep the module path.
            candidate = pascal_from_runs(&old);
        }
        let mut n = 2;
        let base = candidate.clone();
        while taken.contains(&candidate.to_upper_camel_case()) {
            candidate = format!("{base}{n}");
            n += 1;
        }
        taken.insert(candidate.to_upper_camel_case());
        renames.insert(old, candidate);
    }
    if renames.is_empty() {
        return;
    }

    if let Some(Value::Object(schemas)) = document.pointer_mut("/components/schemas") {
        let old_schemas = std::mem::take(schemas);
        for (name, schema) in old_schemas {
            let name = renames.get(&name).cloned().unwrap_or(name);
            schemas.insert(name, schema);
        }
    }
    rewrite_references(document, &|reference| {
        let name = reference.strip_prefix("#/components/schemas/")?;
        renames
            .get(name)
            .map(|new| format!("#/components/schemas/{new}"))
    });
    for (old, new) in &renames {
        notes.push(Note {
            pointer: format!("/components/schemas/{old}"),
            message: format!("schema {old:?} generated as {new:?}"),
        });
    }
}

/// Removes `title` from every schema but the component roots.
///
/// FastAPI titles every property with its humanized name (`"Sensitivity"`),
/// and typify names inline types after their title, so an inline enum titled
/// like a component (`Sensitivity`) is generated twice under one name. Without
/// titles, typify names inline types `{Parent}{Property}`, which is unique.
pub(crate) fn drop_inline_titles(document: &mut Value) {
    let Value::Object(root) = document else {
        return;
    };
    for (key, value) in root.iter_mut() {
        match key.as_str() {
            "paths" => drop_titles(value),
            "components" => {
                let Value::Object(components) = value else {
                    continue;
                };
                for (section, entries) in components.iter_mut() {
                    let Value::Object(entries) = entries else {
                        continue;
                    };
                    for entry in entries.values_mut() {
                        match (section.as_str(), entry) {
                            ("schemas", Value::Object(schema)) => {
                                for (keyword, child) in schema.iter_mut() {
                                    if keyword != "title" {
                                        drop_titles_below(keyword, child);
                                    }
                                }
                            }
                            (_, entry) => drop_titles(entry),
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn drop_titles(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("title").is_some_and(Value::is_string) {
                object.remove("title");
            }
            for (key, child) in object.iter_mut() {
                drop_titles_below(key, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_titles),
        _ => {}
    }
}

/// Recurses below `key`; the keys of a `properties` map are property names,
/// not keywords, so a property called `title` survives.
fn drop_titles_below(key: &str, child: &mut Value) {
    match (key, child) {
        ("properties", Value::Object(properties)) => {
            properties.values_mut().for_each(drop_titles);
        }
        (_, child) => drop_titles(child),
    }
}

/// Applies `map` to every `$ref` string in the document.
pub(crate) fn rewrite_references(value: &mut Value, map: &dyn Fn(&str) -> Option<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                if key == "$ref" {
                    if let Some(new) = child.as_str().and_then(map) {
                        *child = Value::String(new);
                    }
                } else {
                    rewrite_references(child, map);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite_references(item, map);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_the_suffix_of_the_operations_own_path_and_method() {
        let path = "/v1/knowledge-base/knowledge-bases/{kb_id}/sources/{source_id}/sync/status";
        let id = "get_sync_status_v1_knowledge_base_knowledge_bases__kb_id__sources__source_id__sync_status_get";
        assert_eq!(
            strip_fastapi_suffix(id, path, "get"),
            Some("get_sync_status")
        );
        assert_eq!(strip_fastapi_suffix(id, path, "post"), None);
        assert_eq!(strip_fastapi_suffix(id, "/v1/other", "get"), None);
        assert_eq!(
            strip_fastapi_suffix("whoAmI", "/v1/identity/whoami", "get"),
            None
        );
        // Nothing would be left of the id.
        assert_eq!(strip_fastapi_suffix("_v1_x_get", "/v1/x", "get"), None);
    }

    #[test]
    fn drops_titles_below_component_roots_only() {
        let mut document = serde_json::json!({
            "info": {"title": "API", "version": "1"},
            "paths": {"/x": {"get": {"parameters": [{"name": "p", "schema": {"type": "string", "title": "P"}}]}}},
            "components": {"schemas": {"S": {
                "title": "S",
                "type": "object",
                "properties": {
                    "title": {"type": "string", "title": "Title"},
                    "level": {"enum": ["a"], "title": "Sensitivity"}
                }
            }}}
        });
        drop_inline_titles(&mut document);
        assert_eq!(
            document,
            serde_json::json!({
                "info": {"title": "API", "version": "1"},
                "paths": {"/x": {"get": {"parameters": [{"name": "p", "schema": {"type": "string"}}]}}},
                "components": {"schemas": {"S": {
                    "title": "S",
                    "type": "object",
                    "properties": {"title": {"type": "string"}, "level": {"enum": ["a"]}}
                }}}
            })
        );
    }

    #[test]
    fn cleans_schema_names() {
        assert_eq!(clean_schema_name("Item-Input"), "ItemInput");
        assert_eq!(clean_schema_name("Page_Item_"), "PageItem");
        assert_eq!(
            clean_schema_name("CursorPage_AgentListResponse_"),
            "CursorPageAgentListResponse"
        );
        assert_eq!(
            clean_schema_name("src__agents__schemas__SetActiveRevisionRequest"),
            "SetActiveRevisionRequest"
        );
        assert_eq!(clean_schema_name("1st"), "Schema1st");
    }
}
