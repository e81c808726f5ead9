//! `cargo xtask generate --verify`: a client that compiles, or names what
//! it left out.
//!
//! Generation degrades per operation when progenitor refuses something,
//! but rustc can still reject what progenitor accepted, and one such
//! operation would lose the whole document. Here the generated source is
//! compiled as a crate with `feather-client`'s dependencies (in the shared
//! target directory of `client_crate`, so they compile once). When rustc
//! fails, the operations whose code it rejects are found from the error
//! lines (each line belongs to an operation's builder or `Client` method)
//! and left out with a note like every other degradation; an error in the
//! type of a component schema weakens that schema to `serde_json::Value`
//! (components are generated whatever the operations); what neither
//! explains is found by bisection over the operations. Then the client is
//! generated and compiled again.

use anyhow::{Result, bail};
use feather_codegen::{GeneratedOperation, LeftOut, Options};
use syn::spanned::Spanned;

use crate::client_crate::{self, Build, Target};

/// Rounds of "compile, leave out what fails" before giving up.
const MAX_ROUNDS: usize = 8;

/// A generated client that compiled.
pub struct Verified {
    /// The client, with the operations rustc rejected left out.
    pub generated: feather_codegen::Generated,
    /// The last (successful) build.
    pub build: Build,
    /// Builds it took, bisection included.
    pub builds: usize,
}

impl Verified {
    /// Warnings rustc reported in the client's own code.
    pub fn warnings(&self) -> Vec<&str> {
        self.build
            .stderr
            .lines()
            .filter(|line| line.starts_with("src/lib.rs:") && line.contains("warning"))
            .collect()
    }
}

/// Generates a client from `text` and compiles it as crate `name` (under
/// `target/generated-clients/`), leaving out what rustc rejects.
pub fn generate_verified(text: &str, mut options: Options, name: &str) -> Result<Verified> {
    let mut builds = 0;
    for _ in 0..MAX_ROUNDS {
        let generated = feather_codegen::generate_with(text, &options)?;
        let build = compile(name, &generated.source)?;
        builds += 1;
        if build.success {
            return Ok(Verified {
                generated,
                build,
                builds,
            });
        }
        let errors = build.errors_in("src/lib.rs");
        if errors.is_empty() {
            bail!(
                "the client crate does not build, and rustc names no line of the client:\n{}",
                build.stderr
            );
        }
        let mut culprits = attribute(&generated.source, &generated.operations, &errors);
        if culprits.is_empty() {
            let schemas = attribute_to_schemas(&generated.source, &generated.schema_types, &errors);
            if !schemas.is_empty() {
                for (schema, message) in schemas {
                    options.weaken.push((
                        schema,
                        format!("rustc rejects its generated type: {message}"),
                    ));
                }
                continue;
            }
            culprits = bisect(text, &options, &generated.operations, name, &mut builds)?;
        }
        if culprits.is_empty() {
            bail!(
                "rustc rejects code that belongs to no operation:\n{}",
                errors
                    .iter()
                    .map(|(line, message)| format!("src/lib.rs:{line}: {message}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        for (operation, message) in culprits {
            options.leave_out.push(LeftOut {
                method: operation.method,
                path: operation.path,
                reason: format!("rustc rejects its generated code: {message}"),
            });
        }
    }
    bail!("the client still does not compile after {MAX_ROUNDS} rounds of leaving out operations")
}

fn compile(name: &str, source: &str) -> Result<Build> {
    let crate_dir = client_crate::write_crate(name, source, Target::Library, &[])
        .map_err(anyhow::Error::msg)?;
    client_crate::build(&crate_dir).map_err(anyhow::Error::msg)
}

/// The operations whose code holds an error line, each with its first
/// message: the `Client` method and the builder (struct and impl) of each
/// operation, by line range.
fn attribute(
    source: &str,
    operations: &[GeneratedOperation],
    errors: &[(usize, String)],
) -> Vec<(GeneratedOperation, String)> {
    let Ok(file) = syn::parse_file(source) else {
        return Vec::new();
    };
    owners(&operation_ranges(&file), errors, |operation_id| {
        operations
            .iter()
            .find(|op| &op.operation_id == operation_id)
            .cloned()
    })
}

/// The component schemas whose Rust type (in `mod types`, its impls and
/// builder included) holds an error line, each with its first message.
fn attribute_to_schemas(
    source: &str,
    schema_types: &[(String, String)],
    errors: &[(usize, String)],
) -> Vec<(String, String)> {
    let Ok(file) = syn::parse_file(source) else {
        return Vec::new();
    };
    let mut ranges = Vec::new();
    for item in &file.items {
        if let syn::Item::Mod(module) = item
            && module.ident == "types"
        {
            type_ranges(module, &mut ranges);
        }
    }
    owners(&ranges, errors, |type_name| {
        schema_types
            .iter()
            .find(|(_, rust)| rust == type_name)
            .map(|(schema, _)| schema.clone())
    })
}

/// What owns each error line: the item range holding it, mapped by `owner`
/// (none when it maps to nothing); each owner once, with its first message.
fn owners<T: PartialEq>(
    ranges: &[(usize, usize, String)],
    errors: &[(usize, String)],
    owner: impl Fn(&String) -> Option<T>,
) -> Vec<(T, String)> {
    let mut out: Vec<(T, String)> = Vec::new();
    for (line, message) in errors {
        let Some(found) = ranges
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(line))
            .and_then(|(_, _, name)| owner(name))
        else {
            continue;
        };
        if !out.iter().any(|(known, _)| *known == found) {
            out.push((found, message.clone()));
        }
    }
    out
}

/// (first line, last line, type name) of the items of a `types` module and
/// of the modules inside it (typify's `builder`).
fn type_ranges(module: &syn::ItemMod, out: &mut Vec<(usize, usize, String)>) {
    for item in module.content.iter().flat_map(|(_, items)| items) {
        let name = match item {
            syn::Item::Struct(item) => item.ident.to_string(),
            syn::Item::Enum(item) => item.ident.to_string(),
            syn::Item::Type(item) => item.ident.to_string(),
            syn::Item::Impl(block) => match type_name(&block.self_ty) {
                Some(name) => name,
                None => continue,
            },
            syn::Item::Mod(inner) => {
                type_ranges(inner, out);
                continue;
            }
            _ => continue,
        };
        let span = item.span();
        out.push((span.start().line, span.end().line, name));
    }
}

/// (first line, last line, operation id) of every item that belongs to one
/// operation.
fn operation_ranges(file: &syn::File) -> Vec<(usize, usize, String)> {
    // Builder type name -> operation id, from each builder's send().
    let mut builder_ids: Vec<(String, String)> = Vec::new();
    let mut builder_items: Vec<(usize, usize, String)> = Vec::new();
    let mut client_methods: Vec<(usize, usize, String)> = Vec::new();
    for item in &file.items {
        match item {
            syn::Item::Mod(module) if module.ident == "builder" => {
                for item in module.content.iter().flat_map(|(_, items)| items) {
                    let name = match item {
                        syn::Item::Struct(item) => item.ident.to_string(),
                        syn::Item::Impl(block) => {
                            let Some(name) = type_name(&block.self_ty) else {
                                continue;
                            };
                            if let Some(id) = feather_codegen::builder_operation_id(block) {
                                builder_ids.push((name.clone(), id));
                            }
                            name
                        }
                        _ => continue,
                    };
                    let span = item.span();
                    builder_items.push((span.start().line, span.end().line, name));
                }
            }
            syn::Item::Impl(block) if type_name(&block.self_ty).as_deref() == Some("Client") => {
                for item in &block.items {
                    let syn::ImplItem::Fn(function) = item else {
                        continue;
                    };
                    let syn::ReturnType::Type(_, returned) = &function.sig.output else {
                        continue;
                    };
                    let Some(name) = type_name(returned) else {
                        continue;
                    };
                    let span = function.span();
                    client_methods.push((span.start().line, span.end().line, name));
                }
            }
            _ => {}
        }
    }
    builder_items
        .into_iter()
        .chain(client_methods)
        .filter_map(|(first, last, name)| {
            let id = builder_ids
                .iter()
                .find(|(builder, _)| *builder == name)
                .map(|(_, id)| id.clone())?;
            Some((first, last, id))
        })
        .collect()
}

/// The last segment of a type path (`builder::GetItem<'_>` -> `GetItem`).
fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// When no error line belongs to an operation: the greedy bisection of
/// `feather_codegen::keep_passing` over the operations, each check a
/// generation and a build without the others.
fn bisect(
    text: &str,
    options: &Options,
    operations: &[GeneratedOperation],
    name: &str,
    builds: &mut usize,
) -> Result<Vec<(GeneratedOperation, String)>> {
    let bisect_name = format!("{name}-bisect");
    let mut failure: Option<anyhow::Error> = None;
    let mut check = |kept: &[GeneratedOperation]| -> std::result::Result<(), String> {
        let mut trial = options.clone();
        trial
            .leave_out
            .extend(
                operations
                    .iter()
                    .filter(|op| !kept.contains(op))
                    .map(|op| LeftOut {
                        method: op.method.clone(),
                        path: op.path.clone(),
                        reason: "bisection".into(),
                    }),
            );
        let outcome = feather_codegen::generate_with(text, &trial)
            .map_err(anyhow::Error::from)
            .and_then(|generated| compile(&bisect_name, &generated.source));
        *builds += 1;
        match outcome {
            Ok(build) if build.success => Ok(()),
            Ok(build) => Err(build
                .errors_in("src/lib.rs")
                .first()
                .map_or_else(|| "rustc fails".to_owned(), |(_, message)| message.clone())),
            Err(error) => {
                let message = error.to_string();
                failure = Some(error);
                Err(message)
            }
        }
    };
    let (_, rejected) = feather_codegen::keep_passing(&mut check, Vec::new(), operations.to_vec());
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"
pub struct Client {}
impl Client {
    pub fn get_item(&self) -> builder::GetItem<'_> {
        builder::GetItem::new(self)
    }
}
pub mod builder {
    pub struct GetItem<'a> {
        client: &'a super::Client,
    }
    impl<'a> GetItem<'a> {
        pub async fn send(self) {
            let info = OperationInfo {
                operation_id: "get_item",
            };
        }
    }
}
"#;

    #[test]
    fn error_lines_are_attributed_to_the_operation_that_owns_them() {
        let operations = vec![GeneratedOperation {
            method: "get".into(),
            path: "/items/{id}".into(),
            operation_id: "get_item".into(),
        }];
        for line in [4, 9, 13] {
            let found = attribute(SOURCE, &operations, &[(line, "error[E0599]: no".into())]);
            assert_eq!(found.len(), 1, "line {line}");
            assert_eq!(found[0].0.path, "/items/{id}");
        }
        // The struct Client itself belongs to no operation.
        assert!(attribute(SOURCE, &operations, &[(2, "error".into())]).is_empty());
    }

    #[test]
    fn error_lines_in_types_are_attributed_to_their_component_schema() {
        let source = "pub mod types {\n    pub struct Profile {\n        pub a: i64,\n    }\n    impl Profile {\n        fn x() {}\n    }\n    pub mod builder {\n        pub struct Profile {}\n    }\n}\n";
        let schema_types = vec![("profile".to_owned(), "Profile".to_owned())];
        for line in [3, 6, 9] {
            let found = attribute_to_schemas(source, &schema_types, &[(line, "error".into())]);
            assert_eq!(found.len(), 1, "line {line}");
            assert_eq!(found[0].0, "profile");
        }
        assert!(attribute_to_schemas(source, &[], &[(3, "error".into())]).is_empty());
    }
}
