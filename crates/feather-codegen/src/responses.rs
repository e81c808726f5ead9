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
/// An operation whose success type became an `Option`: `None` for the
/// statuses that have no body.
#[derive(Debug, Clone)]
pub(crate) struct OptionalSuccess {
    pub operation_id: String,
    pub statuses: Vec<String>,
}

/// Applies the pass to every operation; returns the operations whose
/// success type is optional, for [`rewrite_optional`].
pub(crate) fn unify(
    document: &mut Value,
    notes: &mut Vec<Note>,
) -> Result<Vec<OptionalSuccess>, CodegenError> {
    let mut optional = Vec::new();
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
        let untyped: Vec<String> = success
            .iter()
            .filter(|(_, body)| body.is_none())
            .map(|(status, _)| status.clone())
            .collect();
        let raw: Vec<String> = untyped
            .iter()
            .filter(|status| {
                kept.get(*status)
                    .and_then(|response| response.get("content"))
                    .and_then(Value::as_object)
                    .is_some_and(|content| !content.is_empty())
            })
            .cloned()
            .collect();
        let label = crate::operation_label(&operation.method, &operation.path);
        if !raw.is_empty() && !distinct.is_empty() {
            // JSON beside bytes: progenitor has one body kind per operation,
            // so every success is returned as bytes.
            for (status, _) in &success {
                if let Some(Value::Object(response)) = kept.get_mut(status)
                    && response.get("content").is_some()
                {
                    response.insert(
                        "content".into(),
                        json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}),
                    );
                }
            }
            notes.push(Note {
                pointer: format!("{}/responses", operation.pointer),
                message: format!(
                    "operation {label}: success bodies are JSON and non-JSON ({}); \
                     all are returned as a byte stream",
                    raw.join(", ")
                ),
            });
        } else if distinct.len() > 1 || (!untyped.is_empty() && !distinct.is_empty()) {
            let mut body = if distinct.len() > 1 {
                notes.push(Note {
                    pointer: format!("{}/responses", operation.pointer),
                    message: format!(
                        "{} success bodies merged into one union type",
                        distinct.len()
                    ),
                });
                union_of(document, distinct, &operation_name, "Success")?
            } else {
                distinct.remove(0)
            };
            if !untyped.is_empty() {
                // Statuses without a body (204) return `None`.
                body = if body.get("$ref").is_some() {
                    json!({"allOf": [body], "nullable": true})
                } else {
                    let mut body = body;
                    if let Some(object) = body.as_object_mut() {
                        object.insert("nullable".into(), Value::Bool(true));
                    }
                    body
                };
                if let Some(operation_id) = operation.operation_id() {
                    optional.push(OptionalSuccess {
                        operation_id,
                        statuses: untyped.clone(),
                    });
                }
                notes.push(Note {
                    pointer: format!("{}/responses", operation.pointer),
                    message: format!(
                        "operation {label}: success type is an Option, None (null for an untyped body) for {} (no body)",
                        untyped.join(", ")
                    ),
                });
            }
            for (status, _) in &success {
                if let Some(Value::Object(response)) = kept.get_mut(status) {
                    response.insert(
                        "content".into(),
                        json!({"application/json": {"schema": body.clone()}}),
                    );
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
    Ok(optional)
}

/// After generation: the arms of the statuses without a body return `None`
/// (`Value::Null` when the body type is untyped JSON, which typify does not
/// wrap in an `Option`) instead of parsing an empty body.
pub(crate) fn rewrite_optional(file: &mut syn::File, operations: &[OptionalSuccess]) {
    use syn::visit_mut::VisitMut;
    struct Arms {
        statuses: Vec<u16>,
    }
    impl VisitMut for Arms {
        fn visit_arm_mut(&mut self, arm: &mut syn::Arm) {
            syn::visit_mut::visit_arm_mut(self, arm);
            if let syn::Pat::Lit(syn::PatLit {
                lit: syn::Lit::Int(code),
                ..
            }) = &arm.pat
                && code
                    .base10_parse::<u16>()
                    .is_ok_and(|code| self.statuses.contains(&code))
            {
                *arm.body = syn::parse_quote! {
                    Ok(ResponseValue::new(::std::default::Default::default(), response.status(), response.headers().clone()))
                };
            }
        }
    }
    for operation in operations {
        let Some(send) = crate::syntax::send_fn_mut(file, &operation.operation_id) else {
            continue;
        };
        let statuses = operation
            .statuses
            .iter()
            .filter_map(|status| status.parse::<u16>().ok())
            .collect();
        Arms { statuses }.visit_block_mut(&mut send.block);
    }
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
        .find(|(media_type, _)| operations::essence(media_type) == "application/json")
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
