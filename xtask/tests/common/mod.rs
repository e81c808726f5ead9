//! Shared by the tests that build generated clients: `xtask`'s own
//! `client_crate` module (a crate with exactly `feather-client`'s
//! dependencies, built in one shared target directory), with failures as
//! panics, and the slow-test gate.

#![allow(dead_code)]

pub mod live;

#[path = "../../src/client_crate.rs"]
mod client_crate;

// Each test binary uses its own part of these.
#[allow(unused_imports)]
pub use client_crate::{Build, Target, target_dir, workspace_root};

use std::path::{Path, PathBuf};

/// The environment variable that enables the slow tests.
pub const SLOW_GATE: &str = "FEATHER_SLOW_TESTS";

/// Whether the slow tests run; reports the skip where it shows otherwise
/// (and fails under CI, which sets the gate).
pub fn slow_tests_enabled(what: &str) -> bool {
    if std::env::var(SLOW_GATE).as_deref() == Ok("1") {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a slow test")
        .to_owned();
    if let Err(e) = feather_test_support::skip(
        &test,
        &format!("set {SLOW_GATE}=1 to {what} (takes minutes)"),
    ) {
        panic!("{e}");
    }
    false
}

/// Writes a crate at `target/generated-clients/NAME` holding `source`, with
/// `feather-client`'s dependencies plus `extra`.
#[track_caller]
pub fn write_crate(
    name: &str,
    source: &str,
    target: Target<'_>,
    extra: &[(&str, &[&str])],
) -> PathBuf {
    match client_crate::write_crate(name, source, target, extra) {
        Ok(dir) => dir,
        Err(error) => panic!("{error}"),
    }
}

/// Serializes builds within a test binary: they share one target directory,
/// and cargo's lock on it would otherwise count one build's wait in
/// another's seconds.
static BUILD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds the dependencies alone (an empty crate), so that the seconds of
/// the next builds are the generated code's.
#[track_caller]
pub fn build_dependencies() -> Build {
    let crate_dir = write_crate("dependencies", "", Target::Library, &[]);
    build(&crate_dir)
}

/// `cargo build` of a crate written by [`write_crate`], offline.
#[track_caller]
pub fn build(crate_dir: &Path) -> Build {
    let _serialized = BUILD_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match client_crate::build(crate_dir) {
        Ok(build) => build,
        Err(error) => panic!("{error}"),
    }
}

/// Writes a file unless it already holds `text`.
#[track_caller]
pub fn write(path: &Path, text: &str) {
    if let Err(error) = client_crate::write(path, text) {
        panic!("{error}");
    }
}
