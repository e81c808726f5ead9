//! The architecture's invariants as tests (run by `cargo test`), in the
//! manner of rust-analyzer's tidy checks.
//!
//! - Dependency rules, read from `cargo metadata`: which crates a crate must
//!   never reach through its normal or build dependencies (ARCHITECTURE.md's
//!   "knows nothing of" lines).
//! - Source rules: every Rust file opens with a module doc comment; library
//!   code neither uses `anyhow` nor prints (only binaries, `build.rs`, xtask
//!   and tests do); request-path modules never `unwrap()` or `expect(..)`
//!   outside their `#[cfg(test)]` part.
//!
//! Each check is a function from data to violations, so the tests at the
//! bottom show every rule failing on a broken input before the workspace
//! is held to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, MetadataCommand, TargetKind};

/// Crates that must never be reached from `package`, and why.
struct DependencyRule {
    package: &'static str,
    forbidden: &'static [&'static str],
    why: &'static str,
}

/// Storage and server crates, which only `feather-server` may pull in.
const SERVER_SIDE: &[&str] = &["sqlx", "rusqlite", "feather-server", "feather-test-support"];

const DEPENDENCY_RULES: &[DependencyRule] = &[
    DependencyRule {
        package: "feather-api",
        forbidden: &[
            "sqlx",
            "rusqlite",
            "feather-server",
            "feather-connectors",
            "feather-test-support",
        ],
        why: "the API crate is the API's shape: no storage, no server, no connectors",
    },
    DependencyRule {
        package: "feather-client",
        forbidden: &[
            "sqlx",
            "rusqlite",
            "feather-server",
            "feather-api",
            "dropshot",
            "feather-test-support",
        ],
        why: "the client never depends on server code",
    },
    DependencyRule {
        package: "feather-connectors",
        forbidden: SERVER_SIDE,
        why: "connectors know no store",
    },
    DependencyRule {
        package: "feather-cli",
        forbidden: &[
            "sqlx",
            "rusqlite",
            "feather-server",
            "dropshot",
            "feather-test-support",
        ],
        why: "the CLI sits on the client alone",
    },
    DependencyRule {
        package: "feather-server",
        forbidden: &["feather-test-support", "sqlite-powercut"],
        why: "test support and the power-cut VFS are for tests and tools, never shipped",
    },
    DependencyRule {
        package: "openapi-compat",
        forbidden: &["tokio", "reqwest", "sqlx"],
        why: "the converter does no I/O",
    },
    DependencyRule {
        package: "openapi-drift",
        forbidden: &["tokio", "reqwest", "sqlx"],
        why: "the diff library does no I/O",
    },
    DependencyRule {
        package: "feather-codegen",
        forbidden: &["tokio", "reqwest", "sqlx"],
        why: "code generation does no I/O",
    },
];

/// Modules that answer requests: no `unwrap()`/`expect(..)` outside tests.
const REQUEST_PATH: &[&str] = &[
    "crates/feather-api/src/",
    "crates/feather-server/src/api.rs",
    "crates/feather-server/src/auth.rs",
    "crates/feather-server/src/server.rs",
    "crates/feather-server/src/engine.rs",
    "crates/feather-server/src/store/",
];

/// Packages that are tools or test code as a whole: they may print and use
/// `anyhow` in their library too.
const TOOL_PACKAGES: &[&str] = &["xtask", "feather-test-support"];

/// Package name → names of the packages it depends on (normal and build
/// dependencies only: what ships with it).
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every package `root` reaches through `graph`.
fn reachable(graph: &Graph, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(name) = stack.pop() {
        for dep in graph.get(&name).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

fn dependency_violations(graph: &Graph, rules: &[DependencyRule]) -> Vec<String> {
    let mut found = Vec::new();
    for rule in rules {
        if !graph.contains_key(rule.package) {
            found.push(format!(
                "{}: no such package in the workspace",
                rule.package
            ));
            continue;
        }
        let reached = reachable(graph, rule.package);
        for forbidden in rule.forbidden {
            if reached.contains(*forbidden) {
                found.push(format!(
                    "{} depends on {forbidden} (directly or not): {}",
                    rule.package, rule.why
                ));
            }
        }
    }
    found
}

/// What a source file is, for the rules that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Library code: no `anyhow`, no printing.
    Library,
    /// A binary, a build script, xtask, a test, a bench: may print and use `anyhow`.
    Tool,
}

/// The part of a file that is not its `#[cfg(test)]` tail, line by line,
/// without comments.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
        .map(|(index, line)| (index + 1, line.split("//").next().unwrap_or("")))
}

fn source_violations(path: &str, text: &str, kind: Kind) -> Vec<String> {
    let mut found = Vec::new();
    let first_line = text
        .lines()
        .find(|line| !line.trim().is_empty() && !line.starts_with("#!["));
    if !first_line.is_some_and(|line| line.starts_with("//!")) {
        found.push(format!(
            "{path}: no module doc comment (`//!` saying what the module owns)"
        ));
    }
    let request_path = REQUEST_PATH.iter().any(|prefix| path.starts_with(prefix));
    for (number, code) in code_lines(text) {
        if kind == Kind::Library {
            if code.contains("anyhow::") || code.contains("use anyhow") {
                found.push(format!(
                    "{path}:{number}: anyhow in library code (use a thiserror type)"
                ));
            }
            for printer in ["println!", "eprintln!", "print!", "eprint!", "dbg!"] {
                let at_word_start = code.match_indices(printer).any(|(at, _)| {
                    !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if at_word_start {
                    found.push(format!(
                        "{path}:{number}: {printer} in library code (only binaries print)"
                    ));
                }
            }
        }
        if request_path && (code.contains(".unwrap()") || code.contains(".expect(")) {
            found.push(format!(
                "{path}:{number}: unwrap/expect on a request path (map the error instead)"
            ));
        }
    }
    found
}

/// `mod name;` declarations of a file: the files they load.
fn declared_modules(file: &Path, text: &str) -> Vec<PathBuf> {
    let Some(dir) = file.parent() else {
        return Vec::new();
    };
    // `main.rs`, `lib.rs` and `mod.rs` own their folder; `foo.rs` owns `foo/`.
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let base = if matches!(stem, "main" | "lib" | "mod") {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("pub(crate) mod "))
                .or_else(|| line.strip_prefix("mod "))?;
            let name = rest.strip_suffix(';')?.trim();
            let flat = base.join(format!("{name}.rs"));
            Some(if flat.exists() {
                flat
            } else {
                base.join(name).join("mod.rs")
            })
        })
        .collect()
}

/// Every file loaded from `root` through `mod` declarations, `root` included.
fn module_tree(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(file) = stack.pop() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        stack.extend(declared_modules(&file, &text));
        files.push(file);
    }
    files
}

fn rust_files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

struct Workspace {
    root: PathBuf,
    graph: Graph,
    /// Every Rust file of every workspace package, with its kind.
    files: BTreeMap<PathBuf, Kind>,
}

fn workspace() -> Workspace {
    let root = crate::spec::root();
    let metadata = MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .exec()
        .unwrap_or_else(|e| panic!("cargo metadata failed: {e}"));
    let names: BTreeMap<_, _> = metadata
        .packages
        .iter()
        .map(|p| (p.id.clone(), p.name.to_string()))
        .collect();
    let mut graph = Graph::new();
    for node in metadata.resolve.iter().flat_map(|r| &r.nodes) {
        let deps = node
            .deps
            .iter()
            .filter(|dep| {
                dep.dep_kinds
                    .iter()
                    .any(|k| matches!(k.kind, DependencyKind::Normal | DependencyKind::Build))
            })
            .filter_map(|dep| names.get(&dep.pkg).cloned())
            .collect();
        if let Some(name) = names.get(&node.id) {
            graph.insert(name.clone(), deps);
        }
    }
    let mut files = BTreeMap::new();
    for package in metadata.workspace_packages() {
        let dir = package
            .manifest_path
            .parent()
            .map(|d| d.as_std_path().to_path_buf())
            .unwrap_or_else(|| root.clone());
        let mut all = Vec::new();
        for sub in ["src", "tests", "benches", "examples"] {
            rust_files_under(&dir.join(sub), &mut all);
        }
        let mut tools = BTreeSet::new();
        for target in &package.targets {
            let path = target.src_path.as_std_path();
            if TOOL_PACKAGES.contains(&package.name.as_str())
                || target.kind.iter().any(|k| k != &TargetKind::Lib)
            {
                all.push(path.to_path_buf());
                tools.extend(module_tree(path));
            }
        }
        for file in all {
            let kind = if tools.contains(&file) || !file.starts_with(dir.join("src")) {
                Kind::Tool
            } else {
                Kind::Library
            };
            files.insert(file, kind);
        }
    }
    Workspace { root, graph, files }
}

#[test]
fn crates_keep_their_dependency_rules() {
    let workspace = workspace();
    let found = dependency_violations(&workspace.graph, DEPENDENCY_RULES);
    assert!(
        found.is_empty(),
        "dependency rules broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn sources_keep_the_source_rules() {
    let workspace = workspace();
    assert!(
        workspace.files.len() > 50,
        "found only {} Rust files: the walk is broken",
        workspace.files.len()
    );
    let mut found = Vec::new();
    for (file, kind) in &workspace.files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let relative = file.strip_prefix(&workspace.root).unwrap_or(file);
        let relative = relative.to_string_lossy().replace('\\', "/");
        found.extend(source_violations(&relative, &text, *kind));
    }
    assert!(
        found.is_empty(),
        "source rules broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn binaries_and_their_modules_are_tools_and_library_modules_are_not() {
    let workspace = workspace();
    let kind = |path: &str| workspace.files.get(&workspace.root.join(path)).copied();
    assert_eq!(kind("crates/feather-server/src/main.rs"), Some(Kind::Tool));
    assert_eq!(
        kind("crates/feather-server/src/server.rs"),
        Some(Kind::Library)
    );
    assert_eq!(
        kind("crates/feather-server/src/store/sql.rs"),
        Some(Kind::Library)
    );
    assert_eq!(
        kind("crates/feather-server/tests/store.rs"),
        Some(Kind::Tool)
    );
    assert_eq!(kind("xtask/src/spec.rs"), Some(Kind::Tool));
    assert_eq!(kind("build.rs"), Some(Kind::Tool));
    assert_eq!(kind("src/lib.rs"), Some(Kind::Library));
    assert_eq!(
        kind("crates/feather-bench/src/scenarios.rs"),
        Some(Kind::Tool)
    );
    assert_eq!(
        kind("crates/feather-bench/src/loadgen.rs"),
        Some(Kind::Library)
    );
    assert_eq!(
        kind("crates/feather-test-support/src/skip.rs"),
        Some(Kind::Tool)
    );
}

fn graph(edges: &[(&str, &[&str])]) -> Graph {
    edges
        .iter()
        .map(|(from, to)| {
            (
                (*from).to_owned(),
                to.iter().map(|t| (*t).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn a_forbidden_dependency_is_found_however_deep() {
    let rules = [DependencyRule {
        package: "feather-api",
        forbidden: &["sqlx"],
        why: "test",
    }];
    let clean = graph(&[("feather-api", &["serde"]), ("serde", &[])]);
    assert!(dependency_violations(&clean, &rules).is_empty());
    let deep = graph(&[
        ("feather-api", &["helper"]),
        ("helper", &["sqlx"]),
        ("sqlx", &[]),
    ]);
    let found = dependency_violations(&deep, &rules);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("feather-api depends on sqlx"),
        "{found:?}"
    );
    let missing = dependency_violations(&graph(&[]), &rules);
    assert!(missing[0].contains("no such package"), "{missing:?}");
}

#[test]
fn each_source_rule_fails_on_a_file_that_breaks_it() {
    let good = "//! Owns things.\n\nfn f() -> Result<(), E> { Ok(()) }\n";
    assert!(source_violations("crates/x/src/a.rs", good, Kind::Library).is_empty());

    let undocumented = "fn f() {}\n";
    let found = source_violations("crates/x/src/a.rs", undocumented, Kind::Tool);
    assert!(found[0].contains("no module doc comment"), "{found:?}");

    let uses_anyhow = "//! Doc.\nfn f() -> anyhow::Result<()> { Ok(()) }\n";
    let found = source_violations("crates/x/src/a.rs", uses_anyhow, Kind::Library);
    assert!(found[0].contains("a.rs:2: anyhow"), "{found:?}");
    assert!(source_violations("crates/x/src/main.rs", uses_anyhow, Kind::Tool).is_empty());

    let prints = "//! Doc.\nfn f() {\n    eprintln!(\"hi\");\n}\n";
    let found = source_violations("crates/x/src/a.rs", prints, Kind::Library);
    assert_eq!(found.len(), 1, "eprintln! is not also println!: {found:?}");
    assert!(found[0].contains("a.rs:3: eprintln!"), "{found:?}");

    let unwraps = "//! Doc.\nfn f() { g().unwrap(); h().expect(\"x\"); }\n";
    let found = source_violations("crates/feather-server/src/api.rs", unwraps, Kind::Library);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("unwrap/expect on a request path"),
        "{found:?}"
    );
    assert!(
        source_violations("crates/feather-server/src/demo.rs", unwraps, Kind::Library).is_empty(),
        "demo.rs is not on the request path"
    );
}

#[test]
fn comments_and_the_test_module_are_not_held_to_the_code_rules() {
    let text = "//! Doc: never anyhow::Error here.\n\
                fn f() {} // println!(\"in a comment\")\n\
                #[cfg(test)]\n\
                mod tests { fn t() { g().unwrap(); println!(\"ok\"); } }\n";
    assert!(source_violations("crates/feather-server/src/api.rs", text, Kind::Library).is_empty());
}
