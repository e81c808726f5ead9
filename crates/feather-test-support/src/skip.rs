//! Skipping a test that cannot run here, visibly.
//!
//! The test harness captures what a passing test prints, so a skip written
//! with `println!` reports `ok` and says nothing. [`skip`] writes to the
//! process's standard error directly, past the capture, so the line stands
//! in the test output next to the `ok`. Under CI (`CI` set to anything but
//! `false` or `0`) nothing may be skipped: the tools a test needs are part
//! of the CI set-up, so a missing one is a failure.

use std::io::Write as _;

/// Whether this is a CI run, where no test may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Reports that `test` is skipped for `reason`: a line on standard error that
/// the harness does not capture, or, under CI, an error that fails the test.
pub fn skip(test: &str, reason: &str) -> anyhow::Result<()> {
    anyhow::ensure!(!in_ci(), "{test} cannot be skipped under CI: {reason}");
    let line = format!("SKIPPED {test}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    Ok(())
}
