//! Cookie parameters (FastAPI's `Cookie(...)`).
//!
//! progenitor refuses `in: cookie` parameters. They are carried as header
//! parameters, so progenitor generates the typed builder setters
//! (`.session_id(..)`) and values; afterwards each `header_map.append` of a
//! cookie in the operation's `send()` is rewritten to collect `name=value`
//! (the value's text as `parameters` renders it, a list's items joined by
//! commas), and the collected pairs are sent in one `Cookie` header, as browsers do
//! (servers read only one `Cookie` header).

use serde_json::Value;
use syn::visit_mut::VisitMut;

use crate::Note;
use crate::operations;
use crate::syntax;

/// An operation that takes cookies.
#[derive(Debug, Clone)]
pub(crate) struct CookieOperation {
    pub operation_id: String,
    pub cookies: Vec<String>,
}

/// Turns cookie parameters into header parameters; returns what to rewrite.
pub(crate) fn carry(document: &mut Value, notes: &mut Vec<Note>) -> Vec<CookieOperation> {
    let reference = document.clone();
    let mut out = Vec::new();
    for operation in operations::list(document) {
        let Some(operation_id) = operation.operation_id() else {
            continue;
        };
        let Some(Value::Array(parameters)) =
            document.pointer_mut(&format!("{}/parameters", operation.pointer))
        else {
            continue;
        };
        let resolved: Vec<Value> = parameters
            .iter()
            .map(|parameter| resolve_parameter(&reference, parameter))
            .collect();
        let header_names: Vec<String> = resolved
            .iter()
            .filter(|p| p.get("in").and_then(Value::as_str) == Some("header"))
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
            .collect();
        let mut cookies = Vec::new();
        let mut kept = Vec::new();
        for parameter in resolved {
            if parameter.get("in").and_then(Value::as_str) != Some("cookie") {
                kept.push(parameter);
                continue;
            }
            let name = parameter
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if header_names.contains(&name.to_ascii_lowercase()) || name.is_empty() {
                notes.push(Note {
                    pointer: format!("{}/parameters", operation.pointer),
                    message: format!(
                        "operation {}: cookie {name:?} not generated: a header parameter has its name",
                        crate::operation_label(&operation.method, &operation.path)
                    ),
                });
                continue;
            }
            let mut carried = parameter;
            if let Some(object) = carried.as_object_mut() {
                object.insert("in".into(), Value::String("header".into()));
            }
            cookies.push(name);
            kept.push(carried);
        }
        if cookies.is_empty() {
            continue;
        }
        *parameters = kept;
        out.push(CookieOperation {
            operation_id,
            cookies,
        });
    }
    out
}

fn resolve_parameter(document: &Value, parameter: &Value) -> Value {
    match parameter
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix('#'))
        .and_then(|pointer| document.pointer(pointer))
    {
        Some(target) => target.clone(),
        None => parameter.clone(),
    }
}

/// After generation: sends the operation's cookies in one `Cookie` header.
pub(crate) fn rewrite(file: &mut syn::File, operations: &[CookieOperation]) {
    for operation in operations {
        let Some(send) = syntax::send_fn_mut(file, &operation.operation_id) else {
            continue;
        };
        let mut collect = Collect {
            cookies: &operation.cookies,
            rewritten: 0,
        };
        collect.visit_block_mut(&mut send.block);
        if collect.rewritten == 0 {
            continue;
        }
        let statements = &mut send.block.stmts;
        let Some(request_at) = statements.iter().position(is_request_binding) else {
            continue;
        };
        statements.insert(
            request_at,
            syn::parse_quote! {
                if !cookies.is_empty() {
                    header_map.append(::reqwest::header::COOKIE, cookies.join("; ").try_into()?);
                }
            },
        );
        statements.insert(
            0,
            syn::parse_quote! {
                let mut cookies: ::std::vec::Vec<::std::string::String> = ::std::vec::Vec::new();
            },
        );
    }
}

/// `let mut request = ...`
fn is_request_binding(statement: &syn::Stmt) -> bool {
    let syn::Stmt::Local(local) = statement else {
        return false;
    };
    matches!(&local.pat, syn::Pat::Ident(binding) if binding.ident == "request")
}

struct Collect<'a> {
    cookies: &'a [String],
    rewritten: usize,
}

impl VisitMut for Collect<'_> {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        // header_map.append("NAME", VALUE.to_string().try_into()?)
        let syn::Expr::MethodCall(call) = expr else {
            return;
        };
        if call.method != "append" || call.args.len() != 2 {
            return;
        }
        let Some(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(name),
            ..
        })) = call.args.first()
        else {
            return;
        };
        let name = name.value();
        if !self.cookies.contains(&name) {
            return;
        }
        let Some(syn::Expr::Try(value)) = call.args.last() else {
            return;
        };
        let syn::Expr::MethodCall(try_into) = &*value.expr else {
            return;
        };
        let syn::Expr::MethodCall(to_string) = &*try_into.receiver else {
            return;
        };
        let text = crate::parameters::text_call(&to_string.receiver);
        *expr = syn::parse_quote! {
            cookies.push(format!("{}={}", #name, #text))
        };
        self.rewritten += 1;
    }
}
