//! Parameters as FastAPI reads them: path, header and cookie values
//! rendered as text, list-valued headers, unions, nullable schemas, and
//! the HTTP methods reqwest has no shorthand for.
//!
//! Before generation ([`prepare`]):
//! - a parameter schema's `nullable` is dropped: an absent optional
//!   parameter is `None` already, and a path or required header cannot
//!   carry a null (progenitor would format an `Option` into the URL);
//! - a union of scalars (`Union[UUID, int]`, `Decimal`'s `number | string`,
//!   in a parameter or as a list's items) becomes `string`: the caller
//!   passes the value's text, which is what goes on the wire and what
//!   FastAPI parses; progenitor cannot format typify's untagged enums.
//!
//! After generation ([`rewrite`]), in every operation's `send()`:
//! - path and header values are rendered through their serde form instead
//!   of `Display` (`2024-02-29T12:30:05Z`, as FastAPI parses it, not
//!   chrono's `2024-02-29 12:30:05 UTC`), lists as one item per value;
//! - a list-valued header is sent as one header line per item, which HTTP
//!   defines as equal to the comma-joined value (RFC 9110, 5.3) and which
//!   is the form FastAPI reads (`Header()` lists come from repeated lines;
//!   a comma-joined line is one item to it);
//! - `OPTIONS` and `TRACE` requests are built with `request(Method, url)`.

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::{Map, Value};
use syn::visit_mut::VisitMut;

use crate::Note;
use crate::operations;

const SCALAR_TYPES: [&str; 4] = ["string", "integer", "number", "boolean"];

/// Drops `nullable` from parameter schemas and turns unions of scalars into
/// `string`, with a note for each union.
pub(crate) fn prepare(document: &mut Value, notes: &mut Vec<Note>) {
    let reference = document.clone();
    for operation in operations::list(document) {
        let label = crate::operation_label(&operation.method, &operation.path);
        let Some(Value::Array(parameters)) =
            document.pointer_mut(&format!("{}/parameters", operation.pointer))
        else {
            continue;
        };
        for (index, parameter) in parameters.iter_mut().enumerate() {
            let name = parameter
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) else {
                continue;
            };
            schema.remove("nullable");
            let union = as_text_if_scalar_union(schema, &reference)
                || schema
                    .get_mut("items")
                    .and_then(Value::as_object_mut)
                    .is_some_and(|items| as_text_if_scalar_union(items, &reference));
            if union {
                notes.push(Note {
                    pointer: format!("{}/parameters/{index}/schema", operation.pointer),
                    message: format!(
                        "operation {label}: parameter {name:?} accepts a union of scalars; \
                         the client takes its text (sent as given)"
                    ),
                });
            }
        }
    }
}

/// `anyOf`/`oneOf` of scalar schemas (a `null` member aside; a `$ref` to
/// a scalar component such as a string enum counts) becomes
/// `{"type": "string"}`, keeping the description and a textual default.
fn as_text_if_scalar_union(schema: &mut Map<String, Value>, document: &Value) -> bool {
    let members = ["anyOf", "oneOf"]
        .iter()
        .find_map(|key| schema.get(*key).and_then(Value::as_array));
    let Some(members) = members else {
        return false;
    };
    let scalar = |member: &Value| {
        let resolved = match member.get("$ref").and_then(Value::as_str) {
            Some(target) => target
                .strip_prefix('#')
                .and_then(|pointer| document.pointer(pointer))
                .unwrap_or(&Value::Null),
            None => member,
        };
        resolved.as_object().is_some_and(|object| {
            object.get("$ref").is_none()
                && object
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|kind| SCALAR_TYPES.contains(&kind) || kind == "null")
                && !object.contains_key("properties")
        })
    };
    if members.len() < 2 || !members.iter().all(scalar) {
        return false;
    }
    let mut text = Map::new();
    text.insert("type".into(), Value::String("string".into()));
    for kept in ["title", "description"] {
        if let Some(value) = schema.get(kept) {
            text.insert(kept.into(), value.clone());
        }
    }
    match schema.get("default") {
        Some(Value::String(default)) => {
            text.insert("default".into(), Value::String(default.clone()));
        }
        Some(Value::Number(default)) => {
            text.insert("default".into(), Value::String(default.to_string()));
        }
        Some(Value::Bool(default)) => {
            text.insert("default".into(), Value::String(default.to_string()));
        }
        _ => {}
    }
    *schema = text;
    true
}

/// Rewrites every `send()` of the client (see the module comment); adds the
/// `parameter_text` module when anything uses it (`cookies`: the cookie
/// rewrite did).
pub(crate) fn rewrite(file: &mut syn::File, cookies: bool) {
    let mut rewriter = Rewriter { rendered: 0 };
    for item in &mut file.items {
        let syn::Item::Mod(module) = item else {
            continue;
        };
        if module.ident != "builder" {
            continue;
        }
        for item in module.content.iter_mut().flat_map(|(_, items)| items) {
            let syn::Item::Impl(block) = item else {
                continue;
            };
            for item in &mut block.items {
                if let syn::ImplItem::Fn(function) = item
                    && function.sig.ident == "send"
                {
                    rewriter.visit_block_mut(&mut function.block);
                }
            }
        }
    }
    if (cookies || rewriter.rendered > 0)
        && let Ok(item) = syn::parse2::<syn::Item>(text_module())
    {
        file.items.push(item);
    }
}

/// A value rendered as parameter text, for `send()`.
pub(crate) fn text_call(value: &syn::Expr) -> syn::Expr {
    syn::parse_quote! {
        super::parameter_text::text(&#value).map_err(Error::InvalidRequest)?
    }
}

struct Rewriter {
    rendered: usize,
}

impl VisitMut for Rewriter {
    /// progenitor builds the URL in `format!(..)`, whose arguments syn
    /// keeps as tokens: they are parsed, rewritten and put back.
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        if !mac.path.is_ident("format") {
            return;
        }
        let parser = syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
        let Ok(mut arguments) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) else {
            return;
        };
        for argument in arguments.iter_mut() {
            self.visit_expr_mut(argument);
        }
        mac.tokens = quote!(#arguments);
    }

    fn visit_stmt_mut(&mut self, statement: &mut syn::Stmt) {
        syn::visit_mut::visit_stmt_mut(self, statement);
        // A header append became a `for` loop: no `;` after it.
        if let syn::Stmt::Expr(syn::Expr::ForLoop(_), semi) = statement {
            *semi = None;
        }
    }

    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        match expr {
            // encode_path(&VALUE.to_string())
            syn::Expr::Call(call) if is_path_call(&call.func, "encode_path") => {
                let Some(syn::Expr::Reference(reference)) = call.args.first_mut() else {
                    return;
                };
                let Some(value) = to_string_receiver(&reference.expr) else {
                    return;
                };
                *reference.expr = text_call(&value);
                self.rendered += 1;
            }
            syn::Expr::MethodCall(call) => {
                // header_map.append(NAME, VALUE.to_string().try_into()?)
                if call.method == "append"
                    && call.args.len() == 2
                    && matches!(&*call.receiver, syn::Expr::Path(p) if p.path.is_ident("header_map"))
                    && let Some(syn::Expr::Lit(name)) = call.args.first()
                    && let Some(syn::Expr::Try(tried)) = call.args.last()
                    && let syn::Expr::MethodCall(try_into) = &*tried.expr
                    && try_into.method == "try_into"
                    && let Some(value) = to_string_receiver(&try_into.receiver)
                {
                    let name = name.clone();
                    *expr = syn::parse_quote! {
                        for item in super::parameter_text::items(&#value).map_err(Error::InvalidRequest)? {
                            header_map.append(#name, item.try_into()?);
                        }
                    };
                    self.rendered += 1;
                    return;
                }
                // client.client.options(url) / .trace(url)
                let method = call.method.to_string();
                if (method == "options" || method == "trace")
                    && call.args.len() == 1
                    && matches!(&*call.receiver, syn::Expr::Field(field)
                        if matches!(&field.member, syn::Member::Named(name) if name == "client"))
                {
                    let receiver = &call.receiver;
                    let url = &call.args[0];
                    let constant = syn::Ident::new(&method.to_uppercase(), call.method.span());
                    *expr = syn::parse_quote! {
                        #receiver.request(::reqwest::Method::#constant, #url)
                    };
                }
            }
            _ => {}
        }
    }
}

/// `VALUE` of `VALUE.to_string()`.
fn to_string_receiver(expr: &syn::Expr) -> Option<syn::Expr> {
    match expr {
        syn::Expr::MethodCall(call) if call.method == "to_string" && call.args.is_empty() => {
            Some((*call.receiver).clone())
        }
        _ => None,
    }
}

fn is_path_call(func: &syn::Expr, name: &str) -> bool {
    matches!(func, syn::Expr::Path(path) if path.path.is_ident(name))
}

/// The runtime part: the same for every client.
fn text_module() -> TokenStream {
    quote! {
        /// Parameter values as text on the wire: their serde form (strings
        /// as they are, numbers and booleans as JSON writes them, dates and
        /// times in RFC 3339), which is what FastAPI parses.
        #[allow(dead_code)]
        mod parameter_text {
            fn scalar(value: ::serde_json::Value) -> Result<String, String> {
                match value {
                    ::serde_json::Value::String(text) => Ok(text),
                    ::serde_json::Value::Number(number) => Ok(number.to_string()),
                    ::serde_json::Value::Bool(flag) => Ok(flag.to_string()),
                    ::serde_json::Value::Null => Err("a parameter value is null".to_owned()),
                    other => Err(format!("a parameter value is not a scalar: {other}")),
                }
            }

            /// One text per value: a list's items, else the value itself.
            pub fn items<T: ::serde::Serialize + ?Sized>(value: &T) -> Result<Vec<String>, String> {
                match ::serde_json::to_value(value).map_err(|error| error.to_string())? {
                    ::serde_json::Value::Array(items) => items.into_iter().map(scalar).collect(),
                    other => Ok(vec![scalar(other)?]),
                }
            }

            /// The value's text; a list's items joined by commas (OpenAPI's
            /// `simple` and non-exploded `form` styles).
            pub fn text<T: ::serde::Serialize + ?Sized>(value: &T) -> Result<String, String> {
                Ok(items(value)?.join(","))
            }
        }
    }
}
