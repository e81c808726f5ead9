//! The emitted document says what the server does: auth, 422, field shapes.

use feather_api::{API_KEY_HEADER, API_KEY_SCHEME, openapi_document};
use serde_json::{Value, json};

const STATUS: &str = "/v1/knowledge-base/knowledge-bases/{kb_id}/sources/{source_id}/sync/status";
const TRIGGER: &str = "/v1/knowledge-base/knowledge-bases/{kb_id}/sources/{source_id}/sync";

fn document() -> Value {
    match openapi_document() {
        Ok(doc) => doc,
        Err(e) => panic!("emitting the document failed: {e}"),
    }
}

fn operations(doc: &Value) -> Vec<(&'static str, &'static str, &Value)> {
    [(TRIGGER, "post"), (STATUS, "get")]
        .into_iter()
        .map(|(path, method)| (path, method, &doc["paths"][path][method]))
        .collect()
}

#[test]
fn both_operations_carry_upstream_ids_and_tags() {
    let doc = document();
    assert_eq!(doc["paths"].as_object().map(|p| p.len()), Some(2));
    let ids: Vec<_> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            "trigger_sync_v1_knowledge_base_knowledge_bases__kb_id__sources__source_id__sync_post",
            "get_sync_status_v1_knowledge_base_knowledge_bases__kb_id__sources__source_id__sync_status_get"
        ]
    );
    for (_, _, op) in operations(&doc) {
        assert_eq!(op["tags"], json!(["knowledge-base-connectors"]));
    }
    assert_eq!(
        doc["paths"][TRIGGER]["post"]["summary"],
        json!("Trigger Sync")
    );
    assert_eq!(
        doc["paths"][STATUS]["get"]["summary"],
        json!("Get Sync Status")
    );
}

#[test]
fn api_key_is_a_security_requirement_not_a_parameter() {
    let doc = document();
    assert_eq!(
        doc["components"]["securitySchemes"][API_KEY_SCHEME],
        json!({"type": "apiKey", "in": "header", "name": API_KEY_HEADER})
    );
    for (path, _, op) in operations(&doc) {
        assert_eq!(op["security"], json!([{API_KEY_SCHEME: []}]), "{path}");
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let names: Vec<_> = params.iter().map(|p| p["name"].clone()).collect();
        assert_eq!(names, [json!("kb_id"), json!("source_id")], "{path}");
        for p in params {
            assert_eq!(p["in"], json!("path"));
            assert_eq!(p["required"], json!(true));
            assert_eq!(p["schema"], json!({"type": "string", "format": "uuid"}));
        }
    }
}

#[test]
fn errors_are_documented_with_their_bodies() {
    let doc = document();
    for (path, _, op) in operations(&doc) {
        let responses = &op["responses"];
        assert_eq!(
            responses["422"]["content"]["application/json"]["schema"]["$ref"],
            json!("#/components/schemas/HTTPValidationError"),
            "{path}"
        );
        for range in ["4XX", "5XX"] {
            assert_eq!(
                responses[range]["$ref"],
                json!("#/components/responses/ErrorResponse")
            );
        }
    }
    assert_eq!(
        doc["components"]["responses"]["ErrorResponse"]["content"]["application/json"]["schema"]["$ref"],
        json!("#/components/schemas/ErrorResponse")
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ErrorResponse"]["required"],
        json!(["error", "message"])
    );
    assert_eq!(
        schemas["ValidationError"]["required"],
        json!(["loc", "msg", "type"])
    );
    assert_eq!(
        schemas["HTTPValidationError"]["properties"]["detail"]["items"]["$ref"],
        json!("#/components/schemas/ValidationError")
    );
}

#[test]
fn status_fields_have_upstream_formats_nullability_and_required_set() {
    let doc = document();
    let status = &doc["components"]["schemas"]["SyncStatusResponse"];
    assert_eq!(status["required"], json!(["source_id", "source_status"]));
    let props = &status["properties"];
    assert_eq!(props["source_id"]["format"], json!("uuid"));
    assert_eq!(props["source_id"].get("nullable"), None);
    for (field, format) in [
        ("last_sync_job_id", Some("uuid")),
        ("last_sync_started_at", Some("date-time")),
        ("last_sync_completed_at", Some("date-time")),
        ("last_sync_status", None),
        ("total_items", Some("int64")),
        ("processed_count", Some("int64")),
        ("error_message", None),
    ] {
        assert_eq!(props[field]["nullable"], json!(true), "{field}");
        if let Some(format) = format {
            assert_eq!(props[field]["format"], json!(format), "{field}");
        }
    }
    let trigger = &doc["components"]["schemas"]["SyncTriggerResponse"];
    assert_eq!(trigger["required"], json!(["job_id", "message", "status"]));
    assert_eq!(trigger["properties"]["job_id"]["format"], json!("uuid"));
    assert_eq!(
        doc["components"]["schemas"]["JobStatus"]["enum"],
        json!([
            "queued",
            "processing",
            "completed",
            "partial_failure",
            "failed"
        ])
    );
    assert_eq!(
        doc["components"]["schemas"]["SourceStatus"]["enum"],
        json!(["active", "syncing", "error"])
    );
}
