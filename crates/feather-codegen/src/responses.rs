//! One success type and one error type per operation.
//!
//! progenitor types an operation's result as `Result<ResponseValue<T>,
//! Error<E>>` and panics when the responses of one side carry different
//! bodies (FastAPI operations routinely declare 4xx `ErrorResponse` beside
//! 422 `HTTPValidationError`). This pass therefore:
//!
//! 1. adds the Feather platform's error convention, the `ErrorResponse`
//!    body (`{"error", "message"}`) that every upstream error handler
//!    returns, as a component when the document does not define it;
//! 2. collects each operation's error bodies (every 4xx/5xx code, range and
//!    `default`, plus the convention) and, when they differ, a `oneOf`
//!    component of them (`ErrorResponseOrHTTPValidationError`), shared by
//!    every operation with the same set;
//! 3. replaces the explicit error responses with `4XX` and `5XX` ranges of
//!    that one body, so *every* error status, documented or not (401, 404,
//!    409, ...), comes back typed with its status code;
//! 4. gives several distinct success bodies the same kind of union.
//!
//! The union's variants are ordered from the most to the least required
//! properties: serde tries untagged variants in order, and a permissive
//! body (`HTTPValidationError` requires nothing) must come last.

use serde_json::{Map, Value, json};

use crate::{CodegenError, Note, operations};

/// Name of the platform's error body component.
pub const ERROR_RESPONSE: &str = "ErrorResponse";

/// The platform's documented error body: "Standard error response returned
/// by all API error handlers".
pub fn error_response_schema() -> Value {
    json!({
        "type": "object",
        "title": ERROR_RESPONSE,
        "description": "Standard error response returned by all API error handlers.",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "title": "Error"},
            "message": {"type": "string", "title": "Message"}
        }
    })
}

/// Applies the pass to every operation.
pub(crate) fn unify(document: &mut Value, notes: &mut Vec<Note>) -> Result<(), CodegenError> {
    let convention = json!({ "$ref": format!("#/components/schemas/{ERROR_RESPONSE}") });
    // An upstream definition of the body wins over ours.
    component_schemas(document)?
        .entry(ERROR_RESPONSE)
        .or_insert_with(error_response_schema);
    for operation in operations::list(document) {
        let Some(responses) = operation.value.get("responses").and_then(Value::as_object) else {
            continue;
        };
        let mut success: Vec<(String, Option<Value>)> = Vec::new();
        let mut errors: Vec<Value> = Vec::new();
        let mut kept = Map::new();
        for (status, response) in responses {
            let body = json_body(response);
            if is_error_status(status) {
                if let Some(body) = body {
                    push_unique(&mut errors, body);
                }
            } else {
                if is_success_status(status) {
                    success.push((status.clone(), body));
                }
                kept.insert(status.clone(), response.clone());
            }
        }
        push_unique(&mut errors, convention.clone());

        let operation_name = operation
            .value
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or(&operation.path)
            .to_owned();
        let error_body = union_of(document, errors, &operation_name, "Error")?;
        let described: Vec<&str> = responses
            .keys()
            .filter(|status| is_error_status(status))
            .map(String::as_str)
            .collect();
        for (range, what) in [("4XX", "Client error"), ("5XX", "Server error")] {
            let description = if described.is_empty() {
                what.to_owned()
            } else {
                format!("{what} (documented: {})", described.join(", "))
            };
            kept.insert(
                range.into(),
                json!({
                    "description": description,
                    "content": {"application/json": {"schema": error_body.clone()}}
                }),
            );
        }

        let typed: Vec<Value> = success
            .iter()
            .filter_map(|(_, body)| body.clone())
            .collect();
        let mut distinct = Vec::new();
        for body in typed {
            push_unique(&mut distinct, body);
        }
        let untyped = success.iter().any(|(_, body)| body.is_none());
        if untyped && !distinct.is_empty() {
            return Err(CodegenError::Unsupported {
                pointer: format!("{}/responses", operation.pointer),
                reason: "success responses with and without a JSON body cannot share one type"
                    .into(),
            });
        }
        if distinct.len() > 1 {
            notes.push(Note {
                pointer: format!("{}/responses", operation.pointer),
                message: format!(
                    "{} success bodies merged into one union type",
                    distinct.len()
                ),
            });
            let body = union_of(document, distinct, &operation_name, "Success")?;
            for (status, _) in &success {
                if let Some(slot) = kept
                    .get_mut(status)
                    .and_then(|response| response.pointer_mut("/content/application~1json/schema"))
                {
                    *slot = body.clone();
                }
            }
        }

        if let Some(slot) = document
            .pointer_mut(&operation.pointer)
            .and_then(|operation| operation.get_mut("responses"))
        {
            *slot = Value::Object(kept);
        }
    }
    Ok(())
}

fn component_schemas(document: &mut Value) -> Result<&mut Map<String, Value>, CodegenError> {
    let malformed = |pointer: &str| CodegenError::Unsupported {
        pointer: pointer.into(),
        reason: "expected an object".into(),
    };
    let root = document.as_object_mut().ok_or_else(|| malformed(""))?;
    let components = root.entry("components").or_insert_with(|| json!({}));
    let components = components
        .as_object_mut()
        .ok_or_else(|| malformed("/components"))?;
    let schemas = components.entry("schemas").or_insert_with(|| json!({}));
    schemas
        .as_object_mut()
        .ok_or_else(|| malformed("/components/schemas"))
}

/// Whether a status key names an error response (`default` counts: in
/// practice it documents "any other error").
fn is_error_status(status: &str) -> bool {
    status == "default" || status.starts_with('4') || status.starts_with('5')
}

fn is_success_status(status: &str) -> bool {
    status.starts_with('2')
}

/// The schema of a response's JSON body, if it has one.
fn json_body(response: &Value) -> Option<Value> {
    let content = response.get("content")?.as_object()?;
    content
        .iter()
        .find(|(media_type, _)| {
            let essence = media_type.split(';').next().unwrap_or_default().trim();
            essence == "application/json"
        })
        .and_then(|(_, media_type)| media_type.get("schema").cloned())
}

fn push_unique(values: &mut Vec<Value>, value: Value) {
    if !values.contains(&value) {
        values.push(value);
    }
}

/// One schema for several bodies: the body itself when there is one, else a
/// reference to a `oneOf` component, created on first use.
fn union_of(
    document: &mut Value,
    mut bodies: Vec<Value>,
    operation_name: &str,
    role: &str,
) -> Result<Value, CodegenError> {
    if bodies.len() == 1 {
        return Ok(bodies.remove(0));
    }
    let required_count = |body: &Value| -> usize {
        let resolved = match body.get("$ref").and_then(Value::as_str) {
            Some(reference) => document
                .pointer(reference.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null),
            None => body.clone(),
        };
        resolved
            .get("required")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let mut ranked: Vec<(usize, Value)> = bodies
        .into_iter()
        .map(|body| (required_count(&body), body))
        .collect();
    ranked.sort_by_key(|(n_required, _)| std::cmp::Reverse(*n_required));
    let bodies: Vec<Value> = ranked.into_iter().map(|(_, body)| body).collect();

    let referenced: Option<Vec<&str>> = bodies
        .iter()
        .map(|body| {
            body.get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
        })
        .collect();
    let name = match referenced {
        Some(names) => names.join("Or"),
        None => format!(
            "{}{role}",
            heck::ToUpperCamelCase::to_upper_camel_case(operation_name)
        ),
    };
    let union = json!({ "oneOf": bodies });
    let schemas = component_schemas(document)?;
    match schemas.get(&name) {
        Some(existing) if existing != &union => {
            return Err(CodegenError::Unsupported {
                pointer: format!("/components/schemas/{name}"),
                reason: format!("the union type {name} would replace a schema of that name"),
            });
        }
        Some(_) => {}
        None => {
            schemas.insert(name.clone(), union);
        }
    }
    Ok(json!({ "$ref": format!("#/components/schemas/{name}") }))
}
