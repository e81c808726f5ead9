//! `cargo xtask diff | drift | regen`: exit codes, formats, allowlist.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn xtask(args: &[&str]) -> Output {
    Command::new(XTASK)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run xtask: {e}"))
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

fn upstream() -> Value {
    let text =
        std::fs::read_to_string(root().join("openapi.json")).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// openapi.json without `job_id` in the trigger answer.
fn without_job_id() -> Value {
    let mut doc = upstream();
    let schema = &mut doc["components"]["schemas"]["SyncTriggerResponse"];
    if let Some(props) = schema["properties"].as_object_mut() {
        props.remove("job_id");
    }
    schema["required"] = json!(["status", "message"]);
    doc
}

#[test]
fn diff_exit_codes_follow_the_threshold() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = root().join("openapi.json").display().to_string();
    let broken = write_json(dir.path(), "broken.json", &without_job_id());
    let mut retitled = upstream();
    retitled["components"]["schemas"]["SyncTriggerResponse"]["properties"]["eta"] =
        json!({"type": "integer"});
    let additive = write_json(dir.path(), "additive.json", &retitled);

    assert_eq!(code(&xtask(&["diff", &base, &base])), 0);
    let out = xtask(&["diff", &base, &broken, "--format", "json"]);
    assert_eq!(code(&out), 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["rule"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        rules.contains(&"response-required-property-removed"),
        "{rules:?}"
    );
    assert_eq!(
        report["counts"]["breaking"],
        json!(1),
        "only the trigger answers it"
    );

    assert_eq!(
        code(&xtask(&["diff", &base, &additive])),
        0,
        "info is below breaking"
    );
    assert_eq!(
        code(&xtask(&["diff", &base, &additive, "--fail-on", "info"])),
        1
    );
    let text = xtask(&["diff", &base, &additive]);
    let shown = String::from_utf8_lossy(&text.stdout);
    assert!(
        shown.contains("response-optional-property-added"),
        "{shown}"
    );
    assert!(
        !shown.contains('\u{1b}'),
        "no colour when not on a terminal"
    );

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        code(&xtask(&["diff", &base, &garbage.display().to_string()])),
        2
    );
    assert_eq!(code(&xtask(&["diff", &base, "/no/such/file.json"])), 2);
}

#[test]
fn drift_is_clean_on_main_and_fails_on_unexplained_drift() {
    assert_eq!(code(&xtask(&["drift"])), 0, "main is clean");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // A server that stopped sending job_id: breaking drift.
    let emitted = xtask_emitted();
    let mut broken = emitted.clone();
    let schema = &mut broken["components"]["schemas"]["SyncTriggerResponse"];
    if let Some(props) = schema["properties"].as_object_mut() {
        props.remove("job_id");
    }
    schema["required"] = json!(["message", "status"]);
    let broken = write_json(dir.path(), "emitted.json", &broken);
    assert_eq!(code(&xtask(&["drift", "--emitted", &broken])), 1);

    let pointer = "/components/schemas/SyncTriggerResponse/properties/job_id";
    let entry = |reason: &str| {
        format!(
            "[[allow]]\nrule = \"response-required-property-removed\"\noperation = \"POST /v1/knowledge-base/knowledge-bases/{{kb_id}}/sources/{{source_id}}/sync\"\npointer = \"{pointer}\"\nreason = \"{reason}\"\n"
        )
    };
    let allow = dir.path().join("allow.toml");
    std::fs::write(&allow, entry("test: pretend it was reviewed"))
        .unwrap_or_else(|e| panic!("{e}"));
    let allow = allow.display().to_string();
    assert_eq!(
        code(&xtask(&[
            "drift",
            "--emitted",
            &broken,
            "--allowlist",
            &allow
        ])),
        0
    );
    // Without a reason the allowlist is unreadable.
    let bare = dir.path().join("bare.toml");
    std::fs::write(&bare, entry(" ")).unwrap_or_else(|e| panic!("{e}"));
    let bare = bare.display().to_string();
    assert_eq!(
        code(&xtask(&[
            "drift",
            "--emitted",
            &broken,
            "--allowlist",
            &bare
        ])),
        2
    );
    // Once fixed, the entry is stale and fails the check.
    assert_eq!(code(&xtask(&["drift", "--allowlist", &allow])), 1);
}

fn xtask_emitted() -> Value {
    let text =
        std::fs::read_to_string(root().join("crates/feather-api/feather-server.openapi.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn regen_check_finds_nothing_stale_on_main() {
    let full = root().join("../shared/upstream/feather-api-1.21.0.openapi.json");
    let out = if full.exists() {
        xtask(&[
            "regen",
            "--check",
            "--upstream",
            &full.display().to_string(),
        ])
    } else {
        println!("the full upstream document is absent: checking the emitted spec only");
        xtask(&["regen", "--check"])
    };
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("up to date: crates/feather-api/feather-server.openapi.json"),
        "{said}"
    );
}

/// Runs git in `dir`, failing the test on error.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap_or_else(|e| panic!("git: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn xtask_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(XTASK)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run xtask: {e}"))
}

#[test]
fn diff_against_a_git_revision_needs_no_checkout() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(repo.join("api")).unwrap_or_else(|e| panic!("{e}"));
    write_json(&repo.join("api"), "spec.json", &upstream());
    write_json(repo, "other.json", &upstream());
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "v1"]);
    git(repo, &["checkout", "-q", "-b", "change"]);
    write_json(&repo.join("api"), "spec.json", &without_job_id());
    git(repo, &["commit", "-q", "-am", "drop job_id"]);
    // Unstaged work counts too: the working tree is compared.
    let mut additive = upstream();
    additive["info"]["title"] = json!("retitled");
    write_json(repo, "other.json", &additive);

    // Default revision: the merge base with main (v1).
    let out = xtask_in(
        repo,
        &["diff", "--base", "--format", "json", "api/spec.json"],
    );
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["counts"]["breaking"], json!(1), "{report:#}");
    // From inside the directory, with an explicit revision.
    assert_eq!(
        code(&xtask_in(
            &repo.join("api"),
            &["diff", "--base", "main", "spec.json"]
        )),
        1
    );
    // Against the branch's own commit nothing changed.
    assert_eq!(
        code(&xtask_in(
            repo,
            &["diff", "--base", "HEAD", "api/spec.json"]
        )),
        0
    );
    // The retitled file is not breaking; several files: the worst decides.
    assert_eq!(
        code(&xtask_in(repo, &["diff", "--base", "main", "other.json"])),
        0
    );
    assert_eq!(
        code(&xtask_in(
            repo,
            &["diff", "--base", "main", "other.json", "api/spec.json"]
        )),
        1
    );
    // A file the revision does not have, or a revision that does not
    // exist: unreadable input, named.
    write_json(repo, "new.json", &upstream());
    let out = xtask_in(repo, &["diff", "--base", "main", "new.json"]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("new.json at main"));
    assert_eq!(
        code(&xtask_in(
            repo,
            &["diff", "--base", "no-such-rev", "other.json"]
        )),
        2
    );
}

#[test]
fn severity_levels_raise_lower_or_turn_off_a_rule_with_a_reason() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = root().join("openapi.json").display().to_string();
    let broken = write_json(dir.path(), "broken.json", &without_job_id());
    let levels = |body: &str| {
        let path = dir.path().join("levels.toml");
        std::fs::write(&path, body).unwrap_or_else(|e| panic!("{e}"));
        path.display().to_string()
    };
    let lowered = levels(
        "[[severity]]\nrule = \"response-required-property-removed\"\nlevel = \"info\"\nreason = \"job_id is read by nobody\"\n",
    );
    let out = xtask(&[
        "diff",
        &base,
        &broken,
        "--severity-levels",
        &lowered,
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let message = report["findings"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| f["rule"] == "response-required-property-removed")
        })
        .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert!(message.contains("job_id is read by nobody"), "{message}");

    let off = levels(
        "[[severity]]\nrule = \"response-required-property-removed\"\nlevel = \"off\"\nreason = \"r\"\n",
    );
    let out = xtask(&[
        "diff",
        &base,
        &broken,
        "--severity-levels",
        &off,
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["counts"]["breaking"], Value::Null, "{report:#}");

    let raised = levels(
        "[[severity]]\nrule = \"response-optional-property-added\"\nlevel = \"breaking\"\nreason = \"strict consumers\"\n",
    );
    let mut added = upstream();
    added["components"]["schemas"]["SyncTriggerResponse"]["properties"]["eta"] =
        json!({"type": "integer"});
    let added = write_json(dir.path(), "added.json", &added);
    assert_eq!(
        code(&xtask(&[
            "diff",
            &base,
            &added,
            "--severity-levels",
            &raised
        ])),
        1
    );

    for bad in [
        "[[severity]]\nrule = \"no-such-rule\"\nlevel = \"info\"\nreason = \"r\"\n",
        "[[severity]]\nrule = \"response-required-property-removed\"\nlevel = \"info\"\nreason = \" \"\n",
        "[[severity]]\nrule = \"response-required-property-removed\"\nlevel = \"loud\"\nreason = \"r\"\n",
    ] {
        let path = levels(bad);
        let out = xtask(&["diff", &base, &broken, "--severity-levels", &path]);
        assert_eq!(code(&out), 2, "{bad}");
    }
}

#[test]
fn drift_against_head_finds_no_server_api_change() {
    // The checked-in emitted document at HEAD is what the code emits (regen
    // --check guards that), so nothing changed since HEAD.
    let out = xtask(&["drift", "--base", "HEAD", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["findings"], json!([]));
}
