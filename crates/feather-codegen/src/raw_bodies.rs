//! Request bodies of media types progenitor has no encoder for
//! (`application/xml`, `application/pdf`, `text/csv` with a schema, ...).
//!
//! They are carried as `application/octet-stream` bodies, which progenitor
//! generates as a `.body(..)` setter taking anything that converts to a
//! `reqwest::Body` (bytes, a string, a stream); afterwards the
//! `Content-Type` progenitor writes is replaced by the declared media type.
//! The caller encodes the body: the client cannot type it.

use serde_json::{Value, json};
use syn::visit_mut::VisitMut;

use crate::Note;
use crate::operations;
use crate::syntax;

/// An operation whose body is sent as raw bytes.
#[derive(Debug, Clone)]
pub(crate) struct RawBody {
    pub operation_id: String,
    pub media_type: String,
}

/// Rewrites unsendable bodies into raw ones; returns what to rewrite.
pub(crate) fn carry(document: &mut Value, notes: &mut Vec<Note>) -> Vec<RawBody> {
    let mut out = Vec::new();
    for operation in operations::list(document) {
        let Some(content) = operation.request_content() else {
            continue;
        };
        let Some(media_type) = content.keys().next().cloned() else {
            continue;
        };
        let schema = content[&media_type].get("schema");
        let progenitor_sends = match operations::essence(&media_type).as_str() {
            "application/json" | "application/x-www-form-urlencoded" => true,
            "application/octet-stream" => plain_string(schema, Some("binary")),
            "text/plain" | "text/x-markdown" => plain_string(schema, None),
            _ => false,
        };
        if progenitor_sends {
            continue;
        }
        let Some(operation_id) = operation.operation_id() else {
            continue;
        };
        // A header value must be visible ASCII; anything else cannot be sent.
        if !media_type.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            continue;
        }
        if let Some(Value::Object(content)) =
            document.pointer_mut(&format!("{}/requestBody/content", operation.pointer))
        {
            content.clear();
            content.insert(
                "application/octet-stream".into(),
                json!({"schema": {"type": "string", "format": "binary"}}),
            );
        }
        notes.push(Note {
            pointer: format!("{}/requestBody", operation.pointer),
            message: format!(
                "operation {}: the {media_type} body is sent as given (bytes, text or a stream \
                 via `.body(..)`), with its Content-Type",
                crate::operation_label(&operation.method, &operation.path)
            ),
        });
        out.push(RawBody {
            operation_id,
            media_type,
        });
    }
    out
}

/// The only body schemas progenitor accepts for raw media types: a string
/// of exactly this format, with nothing that constrains it.
fn plain_string(schema: Option<&Value>, format: Option<&str>) -> bool {
    let Some(Value::Object(schema)) = schema else {
        return false;
    };
    schema.get("type").and_then(Value::as_str) == Some("string")
        && schema.get("format").and_then(Value::as_str) == format
        && schema.keys().all(|key| {
            matches!(
                key.as_str(),
                "type" | "format" | "description" | "title" | "example" | "externalDocs"
            )
        })
}

/// After generation: the declared media type replaces
/// `application/octet-stream` in the operation's `Content-Type` header.
pub(crate) fn rewrite(file: &mut syn::File, bodies: &[RawBody]) {
    struct ContentType<'a> {
        media_type: &'a str,
    }
    impl VisitMut for ContentType<'_> {
        fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
            syn::visit_mut::visit_expr_method_call_mut(self, call);
            let is_content_type = call.method == "header"
                && call.args.first().is_some_and(|name| {
                    matches!(name, syn::Expr::Path(path)
                        if path.path.segments.last().is_some_and(|s| s.ident == "CONTENT_TYPE"))
                });
            if !is_content_type {
                return;
            }
            let media_type = self.media_type;
            if let Some(value) = call.args.iter_mut().nth(1) {
                *value = syn::parse_quote! {
                    ::reqwest::header::HeaderValue::from_static(#media_type)
                };
            }
        }
    }
    for body in bodies {
        if let Some(send) = syntax::send_fn_mut(file, &body.operation_id) {
            ContentType {
                media_type: &body.media_type,
            }
            .visit_block_mut(&mut send.block);
        }
    }
}
