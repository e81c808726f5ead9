//! Finding and editing what progenitor generated, on the `syn` tree.
//!
//! Operations are found by the `operation_id` literal progenitor writes in
//! each builder's `send()` (`OperationInfo { operation_id: "..." }`), types
//! by their name in `mod types`; nothing depends on formatting.

use syn::visit::Visit;
use syn::visit_mut::VisitMut;

/// A field of a generated struct.
pub(crate) struct FieldInfo {
    pub ident: syn::Ident,
    /// The JSON name (serde `rename`, else the identifier).
    pub json_name: String,
    /// `#[serde(flatten)]`: the field holds the additional properties.
    pub flatten: bool,
}

/// The fields of `types::NAME`, if it is a struct with named fields.
pub(crate) fn struct_fields(file: &syn::File, name: &str) -> Option<Vec<FieldInfo>> {
    let types = module(&file.items, "types")?;
    let item = types.iter().find_map(|item| match item {
        syn::Item::Struct(item) if item.ident == name => Some(item),
        _ => None,
    })?;
    let syn::Fields::Named(fields) = &item.fields else {
        return None;
    };
    let mut out = Vec::new();
    for field in &fields.named {
        let ident = field.ident.clone()?;
        let mut json_name = ident.to_string().trim_start_matches("r#").to_owned();
        let mut flatten = false;
        for attribute in &field.attrs {
            if !attribute.path().is_ident("serde") {
                continue;
            }
            let _ = attribute.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    let value: syn::LitStr = meta.value()?.parse()?;
                    json_name = value.value();
                } else if meta.path.is_ident("flatten") {
                    flatten = true;
                } else if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
                Ok(())
            });
        }
        out.push(FieldInfo {
            ident,
            json_name,
            flatten,
        });
    }
    Some(out)
}

fn module<'f>(items: &'f [syn::Item], name: &str) -> Option<&'f Vec<syn::Item>> {
    items.iter().find_map(|item| match item {
        syn::Item::Mod(module) if module.ident == name => {
            module.content.as_ref().map(|(_, items)| items)
        }
        _ => None,
    })
}

/// Whether the client has a builder for the operation.
pub(crate) fn operation_exists(file: &syn::File, operation_id: &str) -> bool {
    let Some(builder) = module(&file.items, "builder") else {
        return false;
    };
    builder.iter().any(|item| match item {
        syn::Item::Impl(block) => block.items.iter().any(|item| match item {
            syn::ImplItem::Fn(function) => is_send_of(function, operation_id),
            _ => false,
        }),
        _ => false,
    })
}

/// The `send()` of the operation's builder.
pub(crate) fn send_fn_mut<'f>(
    file: &'f mut syn::File,
    operation_id: &str,
) -> Option<&'f mut syn::ImplItemFn> {
    let builder = file.items.iter_mut().find_map(|item| match item {
        syn::Item::Mod(module) if module.ident == "builder" => {
            module.content.as_mut().map(|(_, items)| items)
        }
        _ => None,
    })?;
    builder.iter_mut().find_map(|item| match item {
        syn::Item::Impl(block) => block.items.iter_mut().find_map(|item| match item {
            syn::ImplItem::Fn(function) if is_send_of(function, operation_id) => Some(function),
            _ => None,
        }),
        _ => None,
    })
}

fn is_send_of(function: &syn::ImplItemFn, operation_id: &str) -> bool {
    if function.sig.ident != "send" {
        return false;
    }
    let mut finder = OperationIdFinder(None);
    finder.visit_block(&function.block);
    finder.0.as_deref() == Some(operation_id)
}

/// The operation id a builder's `send()` reports
/// (`OperationInfo { operation_id: "..." }`), read from the builder's
/// `impl` block: how the generated code names its operations.
pub fn builder_operation_id(block: &syn::ItemImpl) -> Option<String> {
    let mut finder = OperationIdFinder(None);
    finder.visit_item_impl(block);
    finder.0
}

/// Finds an `operation_id: "..."` field value.
struct OperationIdFinder(Option<String>);

impl<'ast> Visit<'ast> for OperationIdFinder {
    fn visit_field_value(&mut self, field: &'ast syn::FieldValue) {
        if let syn::Member::Named(name) = &field.member
            && name == "operation_id"
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(value),
                ..
            }) = &field.expr
        {
            self.0 = Some(value.value());
        }
        syn::visit::visit_field_value(self, field);
    }
}

/// Replaces `.json(&body)` in the operation's `send()` by
/// `.METHOD(ARGS)` (with `?` when `try_` is set). `call` is `METHOD(ARGS)`
/// or `METHOD(ARGS)?`.
pub(crate) fn replace_json_body(file: &mut syn::File, operation_id: &str, call: &syn::Expr) {
    let (call, try_) = match call {
        syn::Expr::Try(inner) => (&*inner.expr, true),
        other => (other, false),
    };
    let syn::Expr::Call(call) = call else {
        return;
    };
    let syn::Expr::Path(path) = &*call.func else {
        return;
    };
    let Some(method) = path.path.get_ident().cloned() else {
        return;
    };
    struct Replace {
        method: syn::Ident,
        args: syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>,
        try_: bool,
    }
    impl VisitMut for Replace {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            syn::visit_mut::visit_expr_mut(self, expr);
            if let syn::Expr::MethodCall(call) = expr
                && call.method == "json"
            {
                let mut replaced = call.clone();
                replaced.method = self.method.clone();
                replaced.args = self.args.clone();
                *expr = if self.try_ {
                    syn::parse_quote!(#replaced?)
                } else {
                    syn::Expr::MethodCall(replaced)
                };
            }
        }
    }
    if let Some(send) = send_fn_mut(file, operation_id) {
        Replace {
            method,
            args: call.args.clone(),
            try_,
        }
        .visit_block_mut(&mut send.block);
    }
}
