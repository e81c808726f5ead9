//! Live proof against FastAPI itself: for each small app in
//! `tests/fastapi/` (Python), start it with uvicorn on a loopback port,
//! fetch its `/openapi.json`, generate a client with the same pipeline as
//! `build.rs` (`feather_codegen::generate_from_value`), compile it with the
//! app's driver (`tests/fastapi/APP.rs`), and run the driver: it calls
//! every operation through the generated client and checks the app's echo
//! of what it received (field values, file names and bytes, cookies,
//! headers). The test then checks that the driver called every operation
//! the document has, and that the pipeline left none out.
//!
//! Needs a Python with `fastapi`, `uvicorn` and `python-multipart`
//! (`tests/fastapi/requirements.txt`): `FEATHER_FASTAPI_PYTHON`, else
//! `target/fastapi-venv/bin/python` (what `.ci/run` creates). Without one
//! the test skips and says why, except under CI, where it fails.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::live::{apps_dir, fetch_document, python, run_driver, start};
use common::{Target, build, write_crate};

const APPS: [&str; 2] = ["params_app", "forms_app"];

#[test]
fn generated_clients_call_every_operation_of_live_fastapi_apps() {
    let Some(python) = python() else {
        return;
    };
    for app in APPS {
        check_app(&python, app);
    }
}

/// `METHOD PATH` of every operation of the document.
fn operations(document: &serde_json::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

#[track_caller]
fn check_app(python: &Path, app: &str) {
    let running = start(python, app);
    let document = fetch_document(&running.base_url);
    let expected = operations(&document);

    let generated = match feather_codegen::generate_from_value(document) {
        Ok(generated) => generated,
        Err(error) => panic!("{app}: generation failed: {error}"),
    };
    assert_eq!(
        generated.operations_generated,
        generated.operations_total,
        "{app}: operations left out:\n{}",
        generated
            .notes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );

    let driver_path = apps_dir().join(format!("{app}.rs"));
    let driver = match std::fs::read_to_string(&driver_path) {
        Ok(text) => text,
        Err(error) => panic!("cannot read {}: {error}", driver_path.display()),
    };
    let crate_dir = write_crate(
        &format!("fastapi-{app}"),
        &generated.source,
        Target::Binary { main: &driver },
        &[
            ("tokio", &["rt", "macros"]),
            ("futures-util", &[]),
            ("bytes", &[]),
        ],
    );
    let built = build(&crate_dir);
    assert!(
        built.success,
        "{app}: the driver does not compile:\n{}",
        built.stderr
    );
    let problems = built.problems();
    assert!(
        problems.is_empty(),
        "{app}: warnings:\n{}",
        problems.join("\n")
    );

    let binary = common::target_dir()
        .join("debug")
        .join(format!("generated-fastapi-{app}"));
    let stdout = run_driver(&binary, &running.base_url, app);
    let called: BTreeSet<String> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("called "))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        called, expected,
        "{app}: the driver must call every operation of the document"
    );
    eprintln!(
        "{app}: {} operations called through the generated client, every echo matched",
        called.len()
    );
}
