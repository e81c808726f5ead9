//! Degrading per operation, never per document.
//!
//! When progenitor (or typify inside it) rejects or panics on a prepared
//! document, this module finds what causes it and leaves exactly that out:
//!
//! 1. component schemas, generated without any operation: a schema that
//!    fails loses its defaults when that is enough (typify cannot render
//!    many), else is *weakened* to "any JSON value" (`{}`), so the
//!    operations that use it still generate (with `serde_json::Value` in
//!    its place). Each schema is first tried with only the schemas it names
//!    (small, quick documents), then the whole set;
//! 2. operations, generated with every remaining schema: an operation that
//!    fails is left out.
//!
//! The whole-set searches are the same greedy bisection ([`keep_passing`]): a set of
//! candidates that generates together is kept whole, otherwise it is split
//! in halves and the second half is tried on top of what the first kept.
//! With `k` culprits among `n` candidates that costs about `2k·log2(n)`
//! generations, and nothing when the document generates at once, and it
//! also finds culprits that fail only together with others (type name
//! collisions).

use serde_json::{Map, Value, json};

use crate::operations;
use crate::{Note, operation_label};

/// Runs one generation attempt; `Err` carries progenitor's message.
pub(crate) type Attempt<'a> = dyn FnMut(&Value) -> Result<(), String> + 'a;

/// Weakens the component schemas and removes the operations that keep
/// `document` from generating; returns what was done as notes.
pub(crate) fn degrade(document: &mut Value, attempt: &mut Attempt<'_>) -> Vec<Note> {
    let mut notes = Vec::new();

    // Schemas, without operations. Schemas not (yet) under test are `{}`.
    let names: Vec<String> = component_schemas(document)
        .map(|schemas| schemas.keys().cloned().collect())
        .unwrap_or_default();
    let original = component_schemas(document).cloned().unwrap_or_default();
    if schema_check(document, &names, attempt).is_err() {
        // First each schema with the schemas it names (cheap, small
        // documents): a schema that fails there, though those it names pass
        // alone, is a culprit. This finds the usual kind (a default typify
        // cannot render) without generating the whole document again.
        for name in &names {
            let mut context = direct_references(original.get(name));
            context.retain(|other| other != name);
            let mut with = context.clone();
            with.push(name.clone());
            let Err(reason) = schema_check(document, &with, attempt) else {
                continue;
            };
            if schema_check(document, &context, attempt).is_ok() {
                repair(
                    document, &original, name, &reason, &context, attempt, &mut notes,
                );
            }
        }
        // Then what fails only in company (name collisions, ...).
        let (mut kept, rejected) = keep_passing(
            &mut |kept: &[String]| schema_check(document, kept, attempt),
            Vec::new(),
            names,
        );
        for (name, reason) in rejected {
            if repair(
                document, &original, &name, &reason, &kept, attempt, &mut notes,
            ) {
                kept.push(name);
            }
        }
    }

    // Operations, with every schema.
    let all: Vec<(String, String)> = operations::list(document)
        .into_iter()
        .map(|operation| (operation.path, operation.method))
        .collect();
    let mut operation_check = |kept: &[(String, String)]| -> Result<(), String> {
        let mut trial = document.clone();
        retain_operations(&mut trial, kept);
        attempt(&trial)
    };
    let (_, rejected) = keep_passing(&mut operation_check, Vec::new(), all);
    for ((path, method), reason) in &rejected {
        notes.push(Note {
            pointer: format!(
                "/paths/{}/{method}",
                openapi_compat::escape_pointer_token(path)
            ),
            message: format!(
                "operation {} left out: progenitor cannot generate it: {}",
                operation_label(method, path),
                first_line(reason)
            ),
        });
    }
    let rejected: Vec<(String, String)> = rejected.into_iter().map(|(op, _)| op).collect();
    remove_operations(document, &rejected);
    notes
}

/// Generates the document's component schemas alone: those in `kept` as
/// they are, the ones they name as `{}` (so references still resolve), no
/// others (so that a check of a few schemas is quick).
fn schema_check(
    document: &Value,
    kept: &[String],
    attempt: &mut Attempt<'_>,
) -> Result<(), String> {
    let all = component_schemas(document);
    let mut named: std::collections::HashSet<String> = kept.iter().cloned().collect();
    for name in kept {
        named.extend(direct_references(all.and_then(|schemas| schemas.get(name))));
    }
    let kept: std::collections::HashSet<&String> = kept.iter().collect();
    let mut trial = Map::new();
    if let Some(root) = document.as_object() {
        for (key, value) in root {
            if key != "paths" && key != "components" {
                trial.insert(key.clone(), value.clone());
            }
        }
    }
    trial.insert("paths".into(), json!({}));
    let schemas: Map<String, Value> = all
        .into_iter()
        .flatten()
        .filter(|(name, _)| named.contains(*name))
        .map(|(name, schema)| {
            let schema = if kept.contains(name) {
                schema.clone()
            } else {
                json!({})
            };
            (name.clone(), schema)
        })
        .collect();
    trial.insert("components".into(), json!({ "schemas": schemas }));
    attempt(&Value::Object(trial))
}

/// The component schemas a schema names directly.
fn direct_references(schema: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = schema.into_iter().collect();
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(object) => {
                if let Some(name) = object
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(crate::schemas::component_name)
                    && !out.contains(&name)
                {
                    out.push(name);
                }
                stack.extend(object.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}

/// Makes a failing schema generate in `context` (the schemas it is tried
/// with): without its defaults when that is enough, else as any JSON
/// value. Returns whether the schema was kept (without defaults).
fn repair(
    document: &mut Value,
    original: &Map<String, Value>,
    name: &str,
    reason: &str,
    context: &[String],
    attempt: &mut Attempt<'_>,
    notes: &mut Vec<Note>,
) -> bool {
    let pointer = format!(
        "/components/schemas/{}",
        openapi_compat::escape_pointer_token(name)
    );
    // typify refuses many defaults it cannot render (an untagged union's,
    // a nested struct's): without its defaults the schema may pass.
    let mut stripped = original.get(name).cloned().unwrap_or_default();
    let n_defaults = strip_defaults(&mut stripped);
    if n_defaults > 0 {
        set_schema(document, name, stripped);
        let mut with = context.to_vec();
        with.push(name.to_owned());
        if schema_check(document, &with, attempt).is_ok() {
            notes.push(Note {
                pointer,
                message: format!(
                    "schema {name}: {n_defaults} default(s) dropped, typify cannot render them: {}",
                    first_line(reason)
                ),
            });
            return true;
        }
    }
    set_schema(document, name, weakened(original.get(name)));
    notes.push(Note {
        pointer,
        message: format!(
            "schema {name} weakened to any JSON value (serde_json::Value): {}",
            first_line(reason)
        ),
    });
    false
}

/// The greedy bisection: returns the candidates kept on top of `base`, and
/// the rejected ones with the error each caused. `check` says whether a set
/// passes (progenitor here; rustc in `cargo xtask generate --verify`).
pub fn keep_passing<T: Clone>(
    check: &mut dyn FnMut(&[T]) -> Result<(), String>,
    base: Vec<T>,
    candidates: Vec<T>,
) -> (Vec<T>, Vec<(T, String)>) {
    if candidates.is_empty() {
        return (base, Vec::new());
    }
    let mut trial = base.clone();
    trial.extend(candidates.iter().cloned());
    let error = match check(&trial) {
        Ok(()) => return (trial, Vec::new()),
        Err(error) => error,
    };
    if candidates.len() == 1 {
        let rejected = candidates.into_iter().map(|c| (c, error.clone())).collect();
        return (base, rejected);
    }
    let mut first = candidates;
    let second = first.split_off(first.len() / 2);
    let (kept, mut rejected) = keep_passing(check, base, first);
    let (kept, rejected_second) = keep_passing(check, kept, second);
    rejected.extend(rejected_second);
    (kept, rejected)
}

/// Removes every `default` in a schema and its subschemas; returns how many.
fn strip_defaults(schema: &mut Value) -> usize {
    let mut count = 0;
    crate::schemas::walk_schema(schema, "", &mut |schema, _| {
        if let Some(object) = schema.as_object_mut()
            && object.remove("default").is_some()
        {
            count += 1;
        }
    });
    count
}

fn set_schema(document: &mut Value, name: &str, schema: Value) {
    if let Some(slot) = component_schemas_mut(document).and_then(|schemas| schemas.get_mut(name)) {
        *slot = schema;
    }
}

/// What a rejected schema becomes: any value, keeping its description.
fn weakened(original: Option<&Value>) -> Value {
    let mut schema = Map::new();
    if let Some(description) = original.and_then(|s| s.get("description")) {
        schema.insert("description".into(), description.clone());
    }
    Value::Object(schema)
}

fn component_schemas(document: &Value) -> Option<&Map<String, Value>> {
    document.pointer("/components/schemas")?.as_object()
}

fn component_schemas_mut(document: &mut Value) -> Option<&mut Map<String, Value>> {
    document.pointer_mut("/components/schemas")?.as_object_mut()
}

fn retain_operations(document: &mut Value, kept: &[(String, String)]) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if let Some(item) = item.as_object_mut() {
            item.retain(|key, _| {
                !operations::METHODS.contains(&key.as_str())
                    || kept.iter().any(|(p, m)| p == path && m == key)
            });
        }
    }
    paths.retain(|_, item| {
        item.as_object().is_some_and(|item| {
            item.keys()
                .any(|key| operations::METHODS.contains(&key.as_str()))
        })
    });
}

/// Removes the named operations (and path items left without any).
pub(crate) fn remove_operations(document: &mut Value, removed: &[(String, String)]) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, method) in removed {
        if let Some(item) = paths.get_mut(path).and_then(Value::as_object_mut) {
            item.remove(method);
        }
    }
    paths.retain(|_, item| {
        item.as_object().is_some_and(|item| {
            item.keys()
                .any(|key| operations::METHODS.contains(&key.as_str()))
        })
    });
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

#[cfg(test)]
mod tests {
    use super::keep_passing;

    #[test]
    fn bisection_finds_single_and_interacting_culprits() {
        // 3 and 7 fail alone; 4 and 5 fail only together.
        let mut calls = 0;
        let mut check = |items: &[u32]| -> Result<(), String> {
            calls += 1;
            if let Some(bad) = items.iter().find(|&&i| i == 3 || i == 7) {
                return Err(format!("{bad} is bad"));
            }
            if items.contains(&4) && items.contains(&5) {
                return Err("4 and 5 collide".into());
            }
            Ok(())
        };
        let (kept, rejected) = keep_passing(&mut check, Vec::new(), (0..16).collect());
        let rejected: Vec<u32> = rejected.into_iter().map(|(item, _)| item).collect();
        assert_eq!(rejected, vec![3, 5, 7]);
        assert_eq!(kept.len(), 13);
        assert!(calls < 40, "{calls} checks");
    }
}
