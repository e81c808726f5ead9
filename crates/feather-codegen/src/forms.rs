//! `multipart/form-data` and `application/x-www-form-urlencoded` bodies.
//!
//! progenitor 0.15 cannot send multipart bodies, and sends urlencoded ones
//! through `serde_urlencoded`, which refuses the list fields FastAPI's
//! `Form` takes (`tags: list[str] = Form()`, sent as repeated fields). Both
//! are therefore *carried* through progenitor as JSON bodies, so that
//! progenitor and typify generate everything else (the body struct, its
//! builder, the operation's builder, parameters, responses), and the one
//! call that encodes the body is rewritten afterwards:
//!
//! 1. [`carry`] (before progenitor): the body schema becomes a component (if
//!    inline), its `format: binary` properties (`UploadFile`) become
//!    references to a `FilePart` component (bytes, file name, media type),
//!    and the media type becomes `application/json`;
//! 2. [`rewrite`] (after progenitor): in the operation's `send()`,
//!    `.json(&body)` becomes `.multipart(..)` or `.form_urlencoded(..)` over
//!    a function emitted into a `forms` module, which walks the body
//!    struct's fields as typify declared them: file fields become file
//!    parts, every other field text fields (lists repeated, objects as JSON).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::{Value, json};

use crate::Note;
use crate::operations;
use crate::schemas::resolve;
use crate::syntax;

/// Name of the component for one file of a multipart body.
const FILE_PART: &str = "FilePart";

/// How a body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Multipart,
    UrlEncoded,
}

/// One operation whose body is carried as JSON.
#[derive(Debug, Clone)]
pub(crate) struct Carried {
    pub operation_id: String,
    /// The component (and so typify type) of the body.
    pub body_component: String,
    /// JSON names of the properties that hold files.
    pub file_fields: Vec<String>,
    pub encoding: Encoding,
    /// The file part component, for multipart bodies.
    pub file_part: Option<String>,
}

/// Rewrites form bodies into JSON-carried ones; returns what to rewrite
/// after generation.
pub(crate) fn carry(document: &mut Value, notes: &mut Vec<Note>) -> Vec<Carried> {
    let mut carried = Vec::new();
    for operation in operations::list(document) {
        let Some((media_type, _)) = operation
            .request_content()
            .and_then(|content| content.iter().next())
        else {
            continue;
        };
        let encoding = match operations::essence(media_type).as_str() {
            "multipart/form-data" => Encoding::Multipart,
            "application/x-www-form-urlencoded" => Encoding::UrlEncoded,
            _ => continue,
        };
        let media_type = media_type.clone();
        let Some(operation_id) = operation.operation_id() else {
            continue;
        };
        let content_pointer = format!(
            "{}/requestBody/content/{}",
            operation.pointer,
            openapi_compat::escape_pointer_token(&media_type)
        );
        let schema = document
            .pointer(&format!("{content_pointer}/schema"))
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"}));

        // The body as a named component, so typify declares a struct we can
        // find after generation.
        // FastAPI wraps the body reference: `allOf: [{$ref}]` with a title.
        let reference = schema.get("$ref").or_else(|| {
            schema
                .get("allOf")
                .and_then(Value::as_array)
                .filter(|branches| branches.len() == 1)
                .and_then(|branches| branches[0].get("$ref"))
        });
        let body_component = match reference
            .and_then(Value::as_str)
            .and_then(crate::schemas::component_name)
        {
            Some(name) => name,
            None => {
                let name = unused_component_name(
                    document,
                    &format!("{}Body", heck::AsUpperCamelCase(&operation_id)),
                );
                insert_component(document, &name, schema.clone());
                name
            }
        };
        let resolved = resolve(
            document,
            &json!({"$ref": format!("#/components/schemas/{body_component}")}),
        )
        .clone();
        let is_object = resolved.get("properties").is_some()
            || resolved.get("type").and_then(Value::as_str) == Some("object");
        if !is_object {
            notes.push(Note {
                pointer: format!("{content_pointer}/schema"),
                message: format!(
                    "operation {}: the {media_type} body is not an object of fields",
                    crate::operation_label(&operation.method, &operation.path)
                ),
            });
            continue;
        }
        let mut file_fields = Vec::new();
        let mut file_part_name = None;
        if encoding == Encoding::Multipart {
            let file_part = file_part_component(document);
            file_part_name = Some(file_part.clone());
            let reference = json!({"$ref": format!("#/components/schemas/{file_part}")});
            let body_pointer = format!(
                "/components/schemas/{}",
                openapi_compat::escape_pointer_token(&body_component)
            );
            let target = document
                .pointer_mut(&body_pointer)
                .filter(|schema| schema.get("$ref").is_none())
                .and_then(|schema| schema.get_mut("properties"))
                .and_then(Value::as_object_mut);
            if let Some(properties) = target {
                for (name, property) in properties.iter_mut() {
                    if replace_binary(property, &reference) {
                        file_fields.push(name.clone());
                    }
                }
            }
        }
        // Carry as JSON: one media type, the component's schema.
        if let Some(Value::Object(content)) =
            document.pointer_mut(&format!("{}/requestBody/content", operation.pointer))
        {
            content.clear();
            content.insert(
                "application/json".into(),
                json!({"schema": {"$ref": format!("#/components/schemas/{body_component}")}}),
            );
        }
        carried.push(Carried {
            operation_id,
            body_component,
            file_fields,
            encoding,
            file_part: file_part_name,
        });
    }
    carried
}

/// Replaces `format: binary` strings (possibly in a list or nullable) by a
/// reference to the file part; true when the property holds files.
fn replace_binary(property: &mut Value, reference: &Value) -> bool {
    let is_binary = |schema: &Value| {
        schema.get("type").and_then(Value::as_str) == Some("string")
            && schema.get("format").and_then(Value::as_str) == Some("binary")
    };
    let keep = |schema: &Value, replacement: Value| -> Value {
        let mut out = serde_json::Map::new();
        for key in ["description", "title"] {
            if let Some(value) = schema.get(key) {
                out.insert(key.into(), value.clone());
            }
        }
        let nullable = schema.get("nullable") == Some(&Value::Bool(true));
        if nullable {
            out.insert("allOf".into(), json!([replacement]));
            out.insert("nullable".into(), Value::Bool(true));
        } else if let Value::Object(replacement) = replacement {
            out.extend(replacement);
        }
        Value::Object(out)
    };
    if is_binary(property) {
        *property = keep(property, reference.clone());
        return true;
    }
    if property.get("type").and_then(Value::as_str) == Some("array")
        && property.get("items").is_some_and(is_binary)
    {
        let array = json!({"type": "array", "items": reference});
        *property = keep(property, array);
        return true;
    }
    false
}

fn file_part_component(document: &mut Value) -> String {
    let schema = json!({
        "type": "object",
        "description": "A file in a multipart/form-data request: its bytes, and the file name and media type the server is told (they default to the field's name and application/octet-stream).",
        "required": ["content"],
        "properties": {
            "content": {
                "description": "The file's bytes.",
                "type": "array",
                "items": {"type": "integer", "format": "uint8", "minimum": 0, "maximum": 255}
            },
            "file_name": {"description": "The file name sent with the part.", "type": "string"},
            "content_type": {"description": "The part's media type (e.g. `image/png`; default `application/octet-stream`).", "type": "string"}
        }
    });
    // The first of FilePart, FilePart2, ... that is ours or free (a
    // document may have a FilePart of its own).
    for n in 1.. {
        let name = if n == 1 {
            FILE_PART.to_owned()
        } else {
            format!("{FILE_PART}{n}")
        };
        match document.pointer(&format!("/components/schemas/{name}")) {
            Some(found) if *found == schema => return name,
            Some(_) => continue,
            None => {
                insert_component(document, &name, schema);
                return name;
            }
        }
    }
    FILE_PART.to_owned()
}

fn unused_component_name(document: &Value, wanted: &str) -> String {
    let exists = |name: &str| {
        document
            .pointer(&format!(
                "/components/schemas/{}",
                openapi_compat::escape_pointer_token(name)
            ))
            .is_some()
    };
    if !exists(wanted) {
        return wanted.to_owned();
    }
    (2..)
        .map(|n| format!("{wanted}{n}"))
        .find(|name| !exists(name))
        .unwrap_or_else(|| wanted.to_owned())
}

fn insert_component(document: &mut Value, name: &str, schema: Value) {
    let Some(root) = document.as_object_mut() else {
        return;
    };
    let components = root.entry("components").or_insert_with(|| json!({}));
    if let Some(components) = components.as_object_mut() {
        let schemas = components.entry("schemas").or_insert_with(|| json!({}));
        if let Some(schemas) = schemas.as_object_mut() {
            schemas.insert(name.to_owned(), schema);
        }
    }
}

/// After generation: points each carried operation's `send()` at its
/// encoder and adds the `forms` module. Operations whose body struct
/// cannot be found are removed from the client, with a note.
pub(crate) fn rewrite(file: &mut syn::File, carried: &[Carried], notes: &mut Vec<Note>) {
    let mut encoders = Vec::new();
    for body in carried {
        let type_name = heck::AsUpperCamelCase(&body.body_component).to_string();
        let Some(fields) = syntax::struct_fields(file, &type_name) else {
            if syntax::operation_exists(file, &body.operation_id) {
                notes.push(Note {
                    pointer: format!("/components/schemas/{}", body.body_component),
                    message: format!(
                        "operation {}: body type {type_name} not found; sent as JSON",
                        body.operation_id
                    ),
                });
            }
            continue;
        };
        let encoder = format_ident!("{}", heck::AsSnakeCase(&body.operation_id).to_string());
        let type_ident = format_ident!("{type_name}");
        let mut statements = Vec::new();
        for field in &fields {
            let ident = &field.ident;
            let json_name = &field.json_name;
            if body.file_fields.contains(&field.json_name) {
                statements.push(quote! {
                    for part in FileParts::into_parts(body.#ident) {
                        parts.push(Field::File(#json_name, part));
                    }
                });
            } else if field.flatten {
                statements.push(quote! {
                    if let ::serde_json::Value::Object(extra) = to_json(&body.#ident)? {
                        for (name, value) in extra {
                            text_fields(&name, value, &mut parts);
                        }
                    }
                });
            } else {
                statements.push(quote! {
                    text_fields(#json_name, to_json(&body.#ident)?, &mut parts);
                });
            }
        }
        encoders.push(quote! {
            #[doc = concat!("The fields of a [`types::", #type_name, "`] body, in declaration order.")]
            pub fn #encoder(body: types::#type_ident) -> Result<Vec<Field>, String> {
                let mut parts = Vec::new();
                #(#statements)*
                Ok(parts)
            }
        });
        let call = match body.encoding {
            Encoding::Multipart => quote! {
                multipart(super::forms::multipart(super::forms::#encoder(body).map_err(Error::InvalidRequest)?).map_err(Error::InvalidRequest)?)
            },
            Encoding::UrlEncoded => quote! {
                form_urlencoded(&super::forms::urlencoded(super::forms::#encoder(body).map_err(Error::InvalidRequest)?))?
            },
        };
        let Ok(call) = syn::parse2::<syn::Expr>(call) else {
            continue;
        };
        syntax::replace_json_body(file, &body.operation_id, &call);
    }
    if encoders.is_empty() {
        return;
    }
    let file_part = carried.iter().find_map(|body| body.file_part.clone());
    let module = forms_module(&encoders, file_part.as_deref());
    if let Ok(item) = syn::parse2::<syn::Item>(module) {
        file.items.push(item);
    }
}

/// The runtime part of the `forms` module: the same for every client, with
/// the file parts only when some body is multipart.
fn forms_module(encoders: &[TokenStream], file_part: Option<&str>) -> TokenStream {
    let files = file_part.map(|name| {
        let file_part = format_ident!("{name}");
        quote! {
            /// What a file field may hold: one file, an optional one, a list.
            pub trait FileParts {
                /// The files, in order.
                fn into_parts(self) -> Vec<types::#file_part>;
            }

            impl FileParts for types::#file_part {
                fn into_parts(self) -> Vec<types::#file_part> {
                    vec![self]
                }
            }

            impl<T: FileParts> FileParts for Option<T> {
                fn into_parts(self) -> Vec<types::#file_part> {
                    self.map(FileParts::into_parts).unwrap_or_default()
                }
            }

            impl<T: FileParts> FileParts for Vec<T> {
                fn into_parts(self) -> Vec<types::#file_part> {
                    self.into_iter().flat_map(FileParts::into_parts).collect()
                }
            }

            /// A `multipart/form-data` body of the fields. A file without a
            /// name is sent with its field's name (servers tell files from
            /// text fields by the file name), one without a media type as
            /// `application/octet-stream`, as browsers do.
            pub fn multipart(fields: Vec<Field>) -> Result<::reqwest::multipart::Form, String> {
                let mut form = ::reqwest::multipart::Form::new();
                for field in fields {
                    form = match field {
                        Field::Text(name, value) => form.text(name, value),
                        Field::DynamicText(name, value) => form.text(name, value),
                        Field::File(name, file) => {
                            let file_name = file.file_name.unwrap_or_else(|| name.to_owned());
                            let content_type = file
                                .content_type
                                .unwrap_or_else(|| "application/octet-stream".to_owned());
                            let part = ::reqwest::multipart::Part::bytes(file.content)
                                .file_name(file_name)
                                .mime_str(&content_type)
                                .map_err(|error| format!("file {name}: {error}"))?;
                            form.part(name, part)
                        }
                    };
                }
                Ok(form)
            }
        }
    });
    let file_variant = file_part.map(|name| {
        let file_part = format_ident!("{name}");
        quote! {
            /// A file part.
            File(&'static str, types::#file_part),
        }
    });
    let file_arm = file_part.map(|_| quote! { Field::File(..) => None, });
    quote! {
        /// Form bodies: `multipart/form-data` (with files) and
        /// `application/x-www-form-urlencoded`, built from the typed body
        /// structs. Lists are sent as repeated fields and objects as JSON
        /// text, as FastAPI's `Form` reads them; absent (`None`) fields are
        /// not sent.
        #[allow(dead_code)]
        pub mod forms {
            use super::types;

            /// One field of a form body.
            #[derive(Debug, Clone)]
            pub enum Field {
                /// A text field: name and value.
                Text(&'static str, String),
                /// A text field whose name comes from the data.
                DynamicText(String, String),
                #file_variant
            }

            #files

            fn to_json<T: ::serde::Serialize>(value: &T) -> Result<::serde_json::Value, String> {
                ::serde_json::to_value(value).map_err(|error| error.to_string())
            }

            trait FieldName {
                fn field(&self, value: String) -> Field;
            }

            impl FieldName for &'static str {
                fn field(&self, value: String) -> Field {
                    Field::Text(self, value)
                }
            }

            impl FieldName for &String {
                fn field(&self, value: String) -> Field {
                    Field::DynamicText((*self).clone(), value)
                }
            }

            fn text_fields<N: FieldName>(name: N, value: ::serde_json::Value, out: &mut Vec<Field>) {
                match value {
                    ::serde_json::Value::Null => {}
                    ::serde_json::Value::String(text) => out.push(name.field(text)),
                    ::serde_json::Value::Array(items) => {
                        for item in items {
                            match item {
                                ::serde_json::Value::Null => {}
                                ::serde_json::Value::String(text) => out.push(name.field(text)),
                                other => out.push(name.field(other.to_string())),
                            }
                        }
                    }
                    other => out.push(name.field(other.to_string())),
                }
            }

            /// The fields as `application/x-www-form-urlencoded` pairs.
            pub fn urlencoded(fields: Vec<Field>) -> Vec<(String, String)> {
                fields
                    .into_iter()
                    .filter_map(|field| match field {
                        Field::Text(name, value) => Some((name.to_owned(), value)),
                        Field::DynamicText(name, value) => Some((name, value)),
                        #file_arm
                    })
                    .collect()
            }

            #(#encoders)*
        }
    }
}
