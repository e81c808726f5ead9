//! Running the FastAPI apps of `tests/fastapi/` for the live tests: the
//! Python to run them with, starting one on a free loopback port, fetching
//! its `/openapi.json`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::workspace_root;

/// The Python to run the apps with, or `None` (after saying why) locally.
pub fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("FEATHER_FASTAPI_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/fastapi-venv/bin/python"));
    let usable = Command::new(&candidate)
        .args(["-c", "import fastapi, uvicorn, multipart"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if usable {
        return Some(candidate);
    }
    let reason = format!(
        "{} cannot import fastapi, uvicorn and multipart; create it with \
         `python3 -m venv target/fastapi-venv && target/fastapi-venv/bin/pip install -r \
         xtask/tests/fastapi/requirements.txt` or set FEATHER_FASTAPI_PYTHON",
        candidate.display()
    );
    if let Err(e) = feather_test_support::skip("live FastAPI test", &reason) {
        panic!("{e}");
    }
    None
}

/// A running app; killed when dropped.
pub struct App {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `xtask/tests/fastapi`.
pub fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fastapi")
}

/// Starts `tests/fastapi/APP.py` (module `app`) with `serve.py`.
#[track_caller]
pub fn start(python: &Path, app: &str) -> App {
    let child = Command::new(python)
        .arg(apps_dir().join("serve.py"))
        .arg(app)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => panic!("cannot start {app}: {error}"),
    };
    let Some(stdout) = child.stdout.take() else {
        panic!("{app}: no stdout");
    };
    let mut line = String::new();
    if let Err(error) = BufReader::new(stdout).read_line(&mut line) {
        panic!("{app}: cannot read its port: {error}");
    }
    let Some(port) = line.trim().strip_prefix("listening on ") else {
        let _ = child.kill();
        panic!("{app}: unexpected first line {line:?}");
    };
    App {
        base_url: format!("http://127.0.0.1:{port}"),
        child,
    }
}

/// The app's `/openapi.json`, once it answers.
#[track_caller]
pub fn fetch_document(base_url: &str) -> serde_json::Value {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot start a runtime: {error}"),
    };
    let url = format!("{base_url}/openapi.json");
    let fetched = runtime.block_on(async {
        // uvicorn accepts on the socket before the app has started up.
        let mut last_error = String::new();
        for _ in 0..100 {
            match reqwest::get(&url).await {
                Ok(response) if response.status().is_success() => {
                    return response
                        .json::<serde_json::Value>()
                        .await
                        .map_err(|e| e.to_string());
                }
                Ok(response) => last_error = format!("status {}", response.status()),
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(last_error)
    });
    match fetched {
        Ok(document) => document,
        Err(error) => panic!("cannot fetch {url}: {error}"),
    }
}

/// Runs a driver binary against a running app (its base URL as the only
/// argument) and returns its standard output; panics when it fails.
#[track_caller]
pub fn run_driver(binary: &Path, base_url: &str, what: &str) -> String {
    let output = match Command::new(binary).arg(base_url).output() {
        Ok(output) => output,
        Err(error) => panic!("cannot run {}: {error}", binary.display()),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what}: the driver failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
