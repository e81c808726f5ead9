//! Generates the Feather client from `openapi.json` into `$OUT_DIR`.
//!
//! Reads only `openapi.json` (no network), runs the same pipeline as
//! `cargo xtask generate` (see `crates/feather-codegen`) and fails the build
//! with a one-line reason, not a backtrace, when the document is invalid or
//! cannot be converted.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed=openapi.json");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let spec_path = manifest_dir.join("openapi.json");

    let text = match std::fs::read_to_string(&spec_path) {
        Ok(text) => text,
        Err(error) => return fail(&format!("cannot read {}: {error}", spec_path.display())),
    };
    let options = feather_codegen::Options {
        // Retry and polling settings travel with the client (src/lib.rs).
        inner_type: Some("crate::ClientState".into()),
        // The `mock` feature's typed httpmock extension (src/mock.rs).
        httpmock_crate_path: Some("crate".into()),
        // openapi.json is a cut of the Feather API that lost the
        // ErrorResponse schema; every Feather error handler returns it.
        error_convention: feather_codegen::responses::ErrorConvention::Always,
        ..feather_codegen::Options::default()
    };
    let generated = match feather_codegen::generate_with(&text, &options) {
        Ok(generated) => generated,
        Err(error) => return fail(&format!("{}: {error}", spec_path.display())),
    };
    for note in &generated.notes {
        println!("cargo:warning=openapi.json{note}");
    }
    if !generated.notes.is_empty() {
        println!("cargo:warning=openapi.json: {}", generated.summary());
    }
    let files = [
        ("feather_client.rs", Some(generated.source)),
        ("feather_client_mock.rs", generated.mock_source),
    ];
    for (name, source) in files {
        let out_path = out_dir.join(name);
        let Some(source) = source else {
            return fail(&format!("{name} was not generated"));
        };
        if let Err(error) = std::fs::write(&out_path, source) {
            return fail(&format!("cannot write {}: {error}", out_path.display()));
        }
    }
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: cannot generate the Feather client: {message}");
    ExitCode::FAILURE
}
