//! Records the git revision the server is built from, for the
//! `feather_build_info` metric. Outside a git checkout (a crate tarball)
//! the revision is `unknown`.

use std::process::Command;

fn main() {
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|rev| rev.trim().to_owned())
        .filter(|rev| !rev.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=FEATHER_GIT_REVISION={revision}");
    // A new commit changes HEAD (detached) or the branch it points at.
    if let Ok(out) = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        && out.status.success()
        && let Ok(dir) = String::from_utf8(out.stdout)
    {
        let dir = std::path::PathBuf::from(dir.trim());
        println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        if let Ok(head) = std::fs::read_to_string(dir.join("HEAD"))
            && let Some(reference) = head.trim().strip_prefix("ref: ")
        {
            let branch = dir.join(reference);
            // A packed ref has no file of its own; a missing path would
            // rebuild on every run.
            let watched = if branch.exists() {
                branch
            } else {
                dir.join("packed-refs")
            };
            if watched.exists() {
                println!("cargo:rerun-if-changed={}", watched.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
