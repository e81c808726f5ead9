//! One success type and one error type per operation.
//!
//! progenitor types an operation's result as `Result<ResponseValue<T>,
//! Error<E>>` and panics when the responses of one side carry different
//! bodies (FastAPI operations routinely declare 4xx `ErrorResponse` beside
//! 422 `HTTPValidationError`). This pass therefore:
//!
//! 1. adds the platform's error convention, the `ErrorResponse` body
//!    (`{"error", "message"}`) that every Feather error handler returns, to
//!    every operation's errors where it applies ([`ErrorConvention`]): by
//!    default only in documents that define an `ErrorResponse` schema;
//! 2. collects each operation's error bodies (every 4xx/5xx code, range and
//!    `default`, plus the convention where it applies) and, when they
//!    differ, a `oneOf` component of them
//!    (`ErrorResponseOrHTTPValidationError`), shared by every operation
//!    with the same set;
//! 3. where the convention applies, replaces the explicit error responses
//!    with `4XX` and `5XX` ranges of that one body, so *every* error status,
//!    documented or not (401, 404, 409, ...), comes back typed with its
//!    status code; elsewhere gives that body to the documented statuses
//!    only, and any other error is `Error::UnexpectedResponse` (a plain
//!    FastAPI app's own 404 is no `HTTPValidationError`);
//! 4. gives several distinct success bodies the same kind of union;
//! 5. where JSON and non-JSON successes are mixed (a status that answers
//!    JSON or CSV, or a JSON 200 beside a PDF 202), decodes by the answer's
//!    `Content-Type`: the success type is `content::JsonOr<T>`, `Json(T)`
//!    for a JSON answer and `Other(ByteStream)` for any other;
//! 6. drops the bodies of `HEAD` answers, which have none.
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

/// When an operation's errors include the platform's `ErrorResponse`
/// body, documented or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorConvention {
    /// In documents that define an `ErrorResponse` schema (the Feather
    /// API's full document); other documents get their documented error
    /// bodies only.
    #[default]
    WhereDefined,
    /// Always, with the platform's schema where the document has none: for
    /// a cut of a Feather document that lost the schema (`openapi.json`).
    Always,
    /// Never: documented error bodies only.
    Never,
}

/// An operation whose success type became an `Option`: `None` for the
/// statuses that have no body.
#[derive(Debug, Clone)]
pub(crate) struct OptionalSuccess {
    pub operation_id: String,
    pub statuses: Vec<String>,
}

/// An operation whose JSON and non-JSON successes are decoded by the
/// answer's `Content-Type` (see [`rewrite_mixed`]).
#[derive(Debug, Clone)]
pub(crate) struct MixedSuccess {
    pub operation_id: String,
    /// The component whose type the JSON answers have.
    pub json_component: String,
}

/// What [`unify`] leaves for the rewrites after generation.
#[derive(Debug, Default)]
pub(crate) struct Unified {
    pub optional: Vec<OptionalSuccess>,
    pub mixed: Vec<MixedSuccess>,
}

/// Applies the pass to every operation; returns what the rewrites after
/// generation need.
pub(crate) fn unify(
    document: &mut Value,
    notes: &mut Vec<Note>,
    convention: ErrorConvention,
) -> Result<Unified, CodegenError> {
    let mut unified = Unified::default();
    let defined = document
        .pointer(&format!("/components/schemas/{ERROR_RESPONSE}"))
        .is_some();
    let convention = match convention {
        ErrorConvention::Always => {
            // An upstream definition of the body wins over ours.
            component_schemas(document)?
                .entry(ERROR_RESPONSE)
                .or_insert_with(error_response_schema);
            true
        }
        ErrorConvention::WhereDefined => defined,
        ErrorConvention::Never => false,
    }
    .then(|| json!({ "$ref": format!("#/components/schemas/{ERROR_RESPONSE}") }));
    for operation in operations::list(document) {
        let Some(responses) = operation.value.get("responses").and_then(Value::as_object) else {
            continue;
        };
        if operation.method == "head" {
            without_bodies(document, &operation, notes);
            continue;
        }
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
        if let Some(convention) = &convention {
            push_unique(&mut errors, convention.clone());
        }

        let operation_name = operation
            .value
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or(&operation.path)
            .to_owned();
        let error_body = if errors.is_empty() {
            None
        } else {
            Some(union_of(document, errors, &operation_name, "Error")?)
        };
        let described: Vec<&str> = responses
            .keys()
            .filter(|status| is_error_status(status))
            .map(String::as_str)
            .collect();
        match (&error_body, &convention) {
            (Some(error_body), Some(_)) => {
                // The platform answers every error with its body: every
                // status, documented or not, comes back typed.
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
            }
            (Some(error_body), None) => {
                // The documented statuses with a body, typed; any other
                // error's body is unknown (FastAPI's own 404 is
                // `{"detail": "Not Found"}`, no HTTPValidationError), so it
                // comes back as Error::UnexpectedResponse, status and bytes.
                for status in &described {
                    let Some(response) = responses.get(*status) else {
                        continue;
                    };
                    if json_body(response).is_none() {
                        continue;
                    }
                    let mut response = response.clone();
                    if let Some(object) = response.as_object_mut() {
                        object.insert(
                            "content".into(),
                            json!({"application/json": {"schema": error_body.clone()}}),
                        );
                    }
                    kept.insert((*status).to_owned(), response);
                }
            }
            // No documented error body: errors stay untyped (status and
            // bytes).
            (None, _) => {}
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
        let label = crate::operation_label(&operation.method, &operation.path);
        // Statuses that answer something besides JSON, typed or not.
        let other: Vec<String> = success
            .iter()
            .filter(|(status, _)| {
                kept.get(status)
                    .and_then(|response| response.get("content"))
                    .and_then(Value::as_object)
                    .is_some_and(|content| {
                        content
                            .keys()
                            .any(|media_type| !is_json_media_type(media_type))
                    })
            })
            .map(|(status, _)| status.clone())
            .collect();
        if !other.is_empty() && !distinct.is_empty() {
            // JSON beside bytes: progenitor has one body kind per
            // operation, so it returns bytes, and the send() decodes by
            // Content-Type (rewrite_mixed).
            let json_type = union_of(document, distinct, &operation_name, "Json")?;
            let json_component = match json_type
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
            {
                Some(name) => name.to_owned(),
                None => {
                    let name = format!(
                        "{}Json",
                        heck::ToUpperCamelCase::to_upper_camel_case(operation_name.as_str())
                    );
                    let schemas = component_schemas(document)?;
                    if schemas.contains_key(&name) {
                        return Err(CodegenError::Unsupported {
                            pointer: format!("/components/schemas/{name}"),
                            reason: format!(
                                "the JSON success type {name} would replace a schema of that name"
                            ),
                        });
                    }
                    schemas.insert(name.clone(), json_type);
                    name
                }
            };
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
            if let Some(operation_id) = operation.operation_id() {
                unified.mixed.push(MixedSuccess {
                    operation_id,
                    json_component: json_component.clone(),
                });
            }
            notes.push(Note {
                pointer: format!("{}/responses", operation.pointer),
                message: format!(
                    "operation {label}: success bodies are JSON and non-JSON ({}); \
                     decoded by Content-Type into content::JsonOr<{json_component}>",
                    other.join(", ")
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
                    unified.optional.push(OptionalSuccess {
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
    Ok(unified)
}

/// A `HEAD` answer has no body (RFC 9110, 9.3.2): the operation's
/// responses keep their statuses and descriptions only.
fn without_bodies(
    document: &mut Value,
    operation: &operations::OperationRef,
    notes: &mut Vec<Note>,
) {
    let Some(Value::Object(responses)) =
        document.pointer_mut(&format!("{}/responses", operation.pointer))
    else {
        return;
    };
    let mut dropped = false;
    for response in responses.values_mut() {
        if let Some(response) = response.as_object_mut() {
            dropped |= response.remove("content").is_some();
        }
    }
    if dropped {
        notes.push(Note {
            pointer: format!("{}/responses", operation.pointer),
            message: format!(
                "operation {}: HEAD answers have no body; the documented ones are not typed",
                crate::operation_label(&operation.method, &operation.path)
            ),
        });
    }
}

/// `application/json` and the `+json` suffix types.
fn is_json_media_type(media_type: &str) -> bool {
    let essence = operations::essence(media_type);
    essence == "application/json" || essence.ends_with("+json")
}

/// After generation: the operations of [`MixedSuccess`] return
/// `content::JsonOr<T>`, decoded by `Content-Type`; adds the `content`
/// module when one does.
pub(crate) fn rewrite_mixed(file: &mut syn::File, operations: &[MixedSuccess]) {
    use syn::visit_mut::VisitMut;
    struct Decode<'a> {
        json_type: &'a syn::Type,
    }
    impl VisitMut for Decode<'_> {
        fn visit_type_mut(&mut self, ty: &mut syn::Type) {
            if let syn::Type::Path(path) = ty
                && path.qself.is_none()
                && path.path.is_ident("ByteStream")
            {
                let json_type = self.json_type;
                *ty = syn::parse_quote!(super::content::JsonOr<#json_type>);
                return;
            }
            syn::visit_mut::visit_type_mut(self, ty);
        }

        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            // Ok(ResponseValue::stream(response))
            if let syn::Expr::Call(ok) = expr
                && matches!(&*ok.func, syn::Expr::Path(p) if p.path.is_ident("Ok"))
                && let Some(syn::Expr::Call(stream)) = ok.args.first()
                && let syn::Expr::Path(function) = &*stream.func
                && function.path.segments.len() == 2
                && function.path.segments[0].ident == "ResponseValue"
                && function.path.segments[1].ident == "stream"
            {
                let response = &stream.args;
                *expr = syn::parse_quote!(super::content::decode(#response).await);
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }
    let mut rewritten = 0;
    for operation in operations {
        let type_name =
            heck::ToUpperCamelCase::to_upper_camel_case(operation.json_component.as_str());
        let Ok(json_type) = syn::parse_str::<syn::Type>(&format!("types::{type_name}")) else {
            continue;
        };
        let Some(send) = crate::syntax::send_fn_mut(file, &operation.operation_id) else {
            continue;
        };
        let mut decode = Decode {
            json_type: &json_type,
        };
        decode.visit_signature_mut(&mut send.sig);
        decode.visit_block_mut(&mut send.block);
        rewritten += 1;
    }
    if rewritten == 0 {
        return;
    }
    let module: syn::Item = syn::parse_quote! {
        /// Success bodies decoded by the answer's `Content-Type`, for
        /// operations whose successes are JSON or something else.
        pub mod content {
            use super::{ByteStream, Error, ResponseValue};

            /// A success answer that is JSON or not, as its `Content-Type`
            /// says; the media type itself is in the response's headers.
            pub enum JsonOr<T> {
                /// A JSON answer (`application/json` or a `+json` type).
                Json(T),
                /// Any other answer, as bytes.
                Other(ByteStream),
            }

            impl<T: ::std::fmt::Debug> ::std::fmt::Debug for JsonOr<T> {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    match self {
                        JsonOr::Json(body) => f.debug_tuple("Json").field(body).finish(),
                        JsonOr::Other(_) => f.write_str("Other(..)"),
                    }
                }
            }

            /// Decodes `response` by its `Content-Type`.
            pub(crate) async fn decode<T, E>(
                response: ::reqwest::Response,
            ) -> Result<ResponseValue<JsonOr<T>>, Error<E>>
            where
                T: ::serde::de::DeserializeOwned + ::std::fmt::Debug,
            {
                let json = response
                    .headers()
                    .get(::reqwest::header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.split(';').next())
                    .map(|essence| essence.trim().to_ascii_lowercase())
                    .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"));
                if json {
                    ResponseValue::<T>::from_response(response).await?.map(JsonOr::Json)
                } else {
                    ResponseValue::stream(response).map(JsonOr::Other)
                }
            }
        }
    };
    file.items.push(module);
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
