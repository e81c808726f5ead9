//! The corpus: `openapi.json` against one mutation of itself, with the rule
//! id and severity each mutation must produce, and mutations that must
//! produce nothing breaking.

use openapi_drift::{Finding, Severity, diff};
use serde_json::{Value, json};

const STATUS: &str = "/v1/knowledge-base/knowledge-bases/{kb_id}/sources/{source_id}/sync/status";
const TRIGGER: &str = "/v1/knowledge-base/knowledge-bases/{kb_id}/sources/{source_id}/sync";

fn base() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn findings(old: &Value, new: &Value) -> Vec<Finding> {
    diff(old, new).unwrap_or_else(|e| panic!("diff failed: {e}"))
}

/// `value[pointer]`, which must exist.
fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
    doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the base document"))
}

fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

fn op(path: &str, method: &str) -> String {
    format!("/paths/{}/{method}", escape(path))
}

const SSR: &str = "/components/schemas/SyncStatusResponse";
const STR: &str = "/components/schemas/SyncTriggerResponse";

/// Applies `mutate` to a copy of `old` and checks that `expected` (rule,
/// severity) pairs are all reported, and that nothing else at warning or
/// above is.
fn check(name: &str, old: &Value, mutate: impl FnOnce(&mut Value), expected: &[(&str, Severity)]) {
    let mut new = old.clone();
    mutate(&mut new);
    let found = findings(old, &new);
    for (rule, severity) in expected {
        assert!(
            found
                .iter()
                .any(|f| f.rule == *rule && f.severity == *severity),
            "{name}: expected {rule} ({severity}), got {found:#?}"
        );
    }
    for f in found.iter().filter(|f| f.severity >= Severity::Warning) {
        assert!(
            expected
                .iter()
                .any(|(r, s)| *r == f.rule && *s == f.severity),
            "{name}: unexpected {} ({}): {}",
            f.rule,
            f.severity,
            f.message
        );
    }
    for f in &found {
        assert!(
            f.old_pointer.is_some() || f.new_pointer.is_some(),
            "{name}: {f:?} has no pointer"
        );
        assert!(!f.message.is_empty());
    }
}

fn remove_required(doc: &mut Value, schema: &str, name: &str) {
    if let Some(required) = at(doc, &format!("{schema}/required")).as_array_mut() {
        required.retain(|r| r != name);
    }
}

#[test]
fn properties() {
    let old = base();
    check(
        "required property removed",
        &old,
        |d| {
            at(d, &format!("{SSR}/properties"))
                .as_object_mut()
                .map(|p| p.remove("source_status"));
            remove_required(d, SSR, "source_status");
        },
        &[("response-required-property-removed", Severity::Breaking)],
    );
    check(
        "optional property removed",
        &old,
        |d| {
            at(d, &format!("{SSR}/properties"))
                .as_object_mut()
                .map(|p| p.remove("error_message"));
        },
        &[("response-optional-property-removed", Severity::Warning)],
    );
    check(
        "property added",
        &old,
        |d| {
            at(d, &format!("{SSR}/properties"))
                .as_object_mut()
                .map(|p| p.insert("eta".into(), json!({"type": "integer"})));
        },
        &[("response-optional-property-added", Severity::Info)],
    );
    check(
        "property retyped",
        &old,
        |d| {
            *at(d, &format!("{SSR}/properties/source_status/type")) = json!("integer");
        },
        &[("response-property-type-changed", Severity::Breaking)],
    );
    check(
        "property made nullable",
        &old,
        |d| {
            *at(d, &format!("{STR}/properties/job_id")) = json!({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}], "title": "Job Id"});
        },
        &[("response-property-became-nullable", Severity::Breaking)],
    );
    check(
        "property made optional",
        &old,
        |d| remove_required(d, STR, "job_id"),
        &[("response-property-became-optional", Severity::Breaking)],
    );
    check(
        "format changed",
        &old,
        |d| {
            *at(d, &format!("{SSR}/properties/source_id/format")) = json!("uri");
        },
        // The client reads it as a `uuid::Uuid`, which cannot hold a URI.
        &[("response-property-format-changed", Severity::Breaking)],
    );
}

#[test]
fn enums() {
    let mut old = base();
    *at(&mut old, &format!("{SSR}/properties/source_status")) =
        json!({"type": "string", "enum": ["active", "syncing", "error"]});
    if let Some(params) = at(&mut old, &format!("{}/parameters", op(STATUS, "get"))).as_array_mut()
    {
        params.push(json!({"name": "view", "in": "query", "required": false,
            "schema": {"type": "string", "enum": ["basic", "full"]}}));
    }
    check(
        "response enum value removed",
        &old,
        |d| {
            *at(d, &format!("{SSR}/properties/source_status/enum")) = json!(["active", "syncing"]);
        },
        &[("response-property-enum-value-removed", Severity::Info)],
    );
    check(
        "response enum value added",
        &old,
        |d| {
            *at(d, &format!("{SSR}/properties/source_status/enum")) =
                json!(["active", "syncing", "error", "paused"]);
        },
        &[("response-property-enum-value-added", Severity::Breaking)],
    );
    let param_enum = format!("{}/parameters/2/schema/enum", op(STATUS, "get"));
    check(
        "request enum value removed",
        &old,
        |d| *at(d, &param_enum) = json!(["basic"]),
        &[("request-parameter-enum-value-removed", Severity::Breaking)],
    );
    check(
        "request enum value added",
        &old,
        |d| *at(d, &param_enum) = json!(["basic", "full", "debug"]),
        &[("request-parameter-enum-value-added", Severity::Info)],
    );
}

#[test]
fn statuses_parameters_and_operations() {
    let old = base();
    check(
        "success status removed",
        &old,
        |d| {
            at(d, &format!("{}/responses", op(TRIGGER, "post")))
                .as_object_mut()
                .map(|r| r.remove("200"));
        },
        &[("response-success-status-removed", Severity::Breaking)],
    );
    let add_param = |required: bool| {
        move |d: &mut Value| {
            if let Some(params) =
                at(d, &format!("{}/parameters", op(TRIGGER, "post"))).as_array_mut()
            {
                params.push(json!({"name": "force", "in": "query", "required": required, "schema": {"type": "boolean"}}));
            }
        }
    };
    check(
        "required parameter added",
        &old,
        add_param(true),
        &[("new-required-request-parameter", Severity::Breaking)],
    );
    check(
        "optional parameter added",
        &old,
        add_param(false),
        &[("new-optional-request-parameter", Severity::Info)],
    );
    check(
        "path changed",
        &old,
        |d| {
            let paths = at(d, "/paths").as_object_mut();
            if let Some(paths) = paths
                && let Some(item) = paths.remove(TRIGGER)
            {
                paths.insert(TRIGGER.replace("/v1/", "/v2/"), item);
            }
        },
        &[
            ("api-removed-without-deprecation", Severity::Breaking),
            ("operation-added", Severity::Info),
        ],
    );
    check(
        "method changed",
        &old,
        |d| {
            let item = at(d, &format!("/paths/{}", escape(TRIGGER))).as_object_mut();
            if let Some(item) = item
                && let Some(post) = item.remove("post")
            {
                item.insert("put".into(), post);
            }
        },
        &[
            ("api-removed-without-deprecation", Severity::Breaking),
            ("operation-added", Severity::Info),
        ],
    );
    check(
        "operationId changed",
        &old,
        |d| {
            *at(d, &format!("{}/operationId", op(STATUS, "get"))) = json!("sync_status");
        },
        &[("operation-id-changed", Severity::Breaking)],
    );
    check(
        "security scheme changed",
        &old,
        |d| {
            *at(d, "/components/securitySchemes/APIKeyHeader/name") = json!("authorization");
        },
        &[("security-scheme-changed", Severity::Breaking)],
    );
    check(
        "ref retargeted",
        &old,
        |d| {
            *at(
                d,
                &format!(
                    "{}/responses/200/content/application~1json/schema/$ref",
                    op(TRIGGER, "post")
                ),
            ) = json!("#/components/schemas/SyncStatusResponse");
        },
        &[
            ("schema-ref-changed", Severity::Warning),
            ("response-required-property-removed", Severity::Breaking),
        ],
    );
}

/// Reverses the key order of every object, recursively.
fn reverse_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reverse_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(reverse_keys).collect()),
        other => other.clone(),
    }
}

/// Rewrites every `title`, `summary` and `description` string.
fn retitle(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if matches!(k.as_str(), "title" | "summary" | "description") && v.is_string() {
                    *v = json!("Something else entirely");
                } else {
                    retitle(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(retitle),
        _ => {}
    }
}

#[test]
fn representation_is_never_drift() {
    let old = base();
    check("identical", &old, |_| {}, &[]);
    assert!(findings(&old, &old).is_empty(), "a document equals itself");
    check(
        "reordered",
        &old,
        |d| {
            *d = reverse_keys(d);
            if let Some(required) = at(d, &format!("{SSR}/required")).as_array_mut() {
                required.reverse();
            }
        },
        &[],
    );
    check("retitled", &old, retitle, &[]);
    check(
        "3.0 nullable",
        &old,
        |d| {
            let converted = openapi_compat::convert(d.clone()).unwrap_or_else(|e| panic!("{e}"));
            *d = converted.document;
            assert_eq!(d["openapi"], json!("3.0.3"));
        },
        &[],
    );
    check(
        "3.1 type array",
        &old,
        |d| {
            *at(d, &format!("{SSR}/properties/last_sync_status")) =
                json!({"type": ["string", "null"]});
            *at(d, &format!("{SSR}/properties/total_items")) = json!({"type": ["integer", "null"]});
        },
        &[],
    );
    check(
        "inlined ref",
        &old,
        |d| {
            let inline = at(d, STR).clone();
            *at(
                d,
                &format!(
                    "{}/responses/200/content/application~1json/schema",
                    op(TRIGGER, "post")
                ),
            ) = inline;
        },
        &[],
    );
    // The reverse directions of the corpus above are not all symmetric, but
    // representation changes are.
    let converted = openapi_compat::convert(old.clone())
        .map(|c| c.document)
        .unwrap_or_default();
    assert!(
        findings(&converted, &old)
            .iter()
            .all(|f| f.severity == Severity::Info)
    );
}

#[test]
fn the_full_upstream_document_against_itself_is_empty() {
    let path = std::env::var("FEATHER_UPSTREAM_SPEC").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/upstream/feather-api-1.21.0.openapi.json"
        )
        .into()
    });
    let Ok(text) = std::fs::read_to_string(&path) else {
        if let Err(e) = feather_test_support::skip(
            "full upstream self-diff",
            &format!("the full upstream document is not at {path}"),
        ) {
            panic!("{e}");
        }
        return;
    };
    let started = std::time::Instant::now();
    let found = openapi_drift::diff_texts(&text, &text).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "full upstream self-diff: {} findings in {:?} (debug build)",
        found.len(),
        started.elapsed()
    );
    assert!(found.is_empty(), "{found:#?}");
}
