//! Enumerating a document's operations, and dropping the ones progenitor
//! cannot generate.

use serde_json::Value;

use crate::Note;

pub(crate) const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Request body media types progenitor can send.
const SENDABLE_BODIES: [&str; 5] = [
    "application/json",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "text/plain",
    "text/x-markdown",
];

/// One operation of a document.
pub(crate) struct OperationRef {
    /// JSON pointer to the operation object.
    pub pointer: String,
    /// The path template, e.g. `/v1/items/{id}`.
    pub path: String,
    /// Lower-case HTTP method.
    pub method: String,
    /// The operation object itself (a copy).
    pub value: Value,
}

impl OperationRef {
    /// The operation id, if the operation has one.
    pub fn operation_id(&self) -> Option<String> {
        self.value
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The request body's media types and their entries.
    pub fn request_content(&self) -> Option<&serde_json::Map<String, Value>> {
        self.value
            .pointer("/requestBody/content")
            .and_then(Value::as_object)
    }
}

/// A media type without its parameters, in lower case:
/// `multipart/form-data; boundary=x` → `multipart/form-data`.
pub(crate) fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Every operation in document order.
pub(crate) fn list(document: &Value) -> Vec<OperationRef> {
    let mut out = Vec::new();
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                out.push(OperationRef {
                    pointer: format!(
                        "/paths/{}/{method}",
                        openapi_compat::escape_pointer_token(path)
                    ),
                    path: path.clone(),
                    method: method.to_owned(),
                    value: operation.clone(),
                });
            }
        }
    }
    out
}

/// Removes operations whose request body progenitor cannot send (such as
/// `multipart/form-data`), with a note for each: generation would otherwise
/// fail for the whole document.
pub(crate) fn drop_unsendable(document: &mut Value, notes: &mut Vec<Note>) {
    for operation in list(document) {
        let Some(content) = operation.request_content() else {
            continue;
        };
        let sendable = content
            .keys()
            .any(|media_type| SENDABLE_BODIES.contains(&essence(media_type).as_str()));
        if sendable {
            continue;
        }
        let media_types: Vec<String> = content.keys().cloned().collect();
        if let Some(item) = document
            .pointer_mut(&parent_pointer(&operation.pointer))
            .and_then(Value::as_object_mut)
        {
            item.remove(&operation.method);
        }
        notes.push(Note {
            pointer: operation.pointer.clone(),
            message: format!(
                "operation {} left out: the client cannot send a {} request body",
                crate::operation_label(&operation.method, &operation.path),
                media_types.join(" or ")
            ),
        });
    }
}

/// Request media types in order of preference when an operation offers
/// several: JSON first, then what progenitor sends.
const PREFERRED_BODIES: [&str; 6] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/octet-stream",
    "text/plain",
    "text/x-markdown",
];

/// progenitor takes one request media type per operation; when an operation
/// offers several, keeps JSON when offered, else the first one the client
/// can send (in [`PREFERRED_BODIES`] order), with a note.
pub(crate) fn choose_request_media_types(document: &mut Value, notes: &mut Vec<Note>) {
    for operation in list(document) {
        let Some(content) = operation.request_content() else {
            continue;
        };
        if content.len() < 2 {
            continue;
        }
        let chosen = PREFERRED_BODIES
            .iter()
            .find_map(|preferred| content.keys().find(|key| essence(key) == *preferred))
            .or_else(|| content.keys().next())
            .cloned();
        let Some(chosen) = chosen else {
            continue;
        };
        let others: Vec<String> = content.keys().filter(|k| **k != chosen).cloned().collect();
        if let Some(Value::Object(content)) =
            document.pointer_mut(&format!("{}/requestBody/content", operation.pointer))
        {
            content.retain(|key, _| *key == chosen);
        }
        notes.push(Note {
            pointer: format!("{}/requestBody", operation.pointer),
            message: format!(
                "operation {} sends {chosen}; also offered, not generated: {}",
                crate::operation_label(&operation.method, &operation.path),
                others.join(", ")
            ),
        });
    }
}

fn parent_pointer(pointer: &str) -> String {
    pointer
        .rsplit_once('/')
        .map(|(parent, _)| parent.to_owned())
        .unwrap_or_default()
}
