//! `cargo xtask conformance`: the real server against the upstream schemas.
//!
//! Builds `feather-server`, seeds the demo into a temporary SQLite database,
//! starts the binary on a loopback port and runs every case twice:
//! - over raw HTTP, where the body is validated (JSON Schema 2020-12)
//!   against upstream's schema for that status (`openapi.json`; upstream's
//!   `ErrorResponse` from the full document for errors other than 422) and
//!   decoded into the generated client's type for that status;
//! - through the generated client (`feather_client`), when the typed client
//!   can express the request (a malformed UUID it cannot), checking it sees
//!   the same status.
//!
//! Stateful cases (a trigger, then the conflict) use different sources in
//! the two passes so each pass sees the same state.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use feather_client::{ApiError, Client, Error, types};
use feather_test_support::process::{ServerProcess, admin, server_binary};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::spec::{UPSTREAM_SPEC, root};

/// Builds the `feather-server` binary (debug) that [`server_binary`] finds.
pub fn build_server() -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--package", "feather-server"])
        .current_dir(root())
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build -p feather-server failed");
    }
    Ok(())
}

/// Starts the server on `url`: no demo (the caller seeded it), no engine.
fn start(binary: &Path, url: &str) -> Result<ServerProcess> {
    let mut command = Command::new(binary);
    command
        .args(["--bind", "127.0.0.1:0", "--database-url", url, "--no-demo"])
        .args(["--log-level", "error", "--workers", "0"])
        .stderr(Stdio::inherit());
    ServerProcess::spawn(command).context("cannot start feather-server")
}

/// Upstream's schemas, with `ErrorResponse` from the full document.
struct Contract {
    upstream: Value,
    components: Value,
}

impl Contract {
    fn load(full: &Path) -> Result<Contract> {
        let read = |path: &Path| -> Result<Value> {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(serde_json::from_str(&text)?)
        };
        let upstream = read(&root().join(UPSTREAM_SPEC))?;
        let full = read(full)?;
        let error_response = full
            .pointer("/components/schemas/ErrorResponse")
            .cloned()
            .ok_or_else(|| anyhow!("the full upstream document has no ErrorResponse schema"))?;
        let mut components = upstream["components"].clone();
        components["schemas"]["ErrorResponse"] = error_response;
        Ok(Contract {
            upstream,
            components,
        })
    }

    /// The schema a body of `status` from `method path` must satisfy, and its name.
    fn schema_for(&self, method: &str, path: &str, status: u16) -> (Value, String) {
        let responses = &self.upstream["paths"][path][method]["responses"];
        let documented = responses
            .get(status.to_string())
            .and_then(|r| r.pointer("/content/application~1json/schema"));
        let schema = match documented {
            Some(schema) => schema.clone(),
            None => json!({"$ref": "#/components/schemas/ErrorResponse"}),
        };
        let name = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
            .unwrap_or("(inline)")
            .to_owned();
        let mut root = schema;
        if let Some(obj) = root.as_object_mut() {
            obj.insert("components".into(), self.components.clone());
        }
        (root, name)
    }

    /// Schema violations of `body` (empty when it conforms).
    fn violations(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(String, Vec<String>)> {
        let (schema, name) = self.schema_for(method, path, status);
        let validator = jsonschema::draft202012::new(&schema)
            .map_err(|e| anyhow!("upstream schema {name} does not compile: {e}"))?;
        let errors = validator
            .iter_errors(body)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        Ok((name, errors))
    }
}

const STATUS_PATH: &str =
    "/v1/knowledge-base/knowledge-bases/{kb_id}/sources/{source_id}/sync/status";
const TRIGGER_PATH: &str = "/v1/knowledge-base/knowledge-bases/{kb_id}/sources/{source_id}/sync";

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Status,
    Trigger,
}

/// One request and what it must answer.
struct Case {
    name: &'static str,
    op: Op,
    kb: String,
    source: String,
    /// The raw-HTTP pass's key (`None`: no header).
    key: Option<String>,
    expected: u16,
    /// The client pass: (kb, source, key) with valid UUIDs, if expressible.
    client: Option<(Uuid, Uuid, String)>,
}

/// A row of the printed table.
struct Row {
    name: &'static str,
    request: String,
    expected: u16,
    raw: u16,
    schema: String,
    decoded: String,
    client: String,
    ok: bool,
}

async fn raw_pass(
    http: &reqwest::Client,
    base: &str,
    contract: &Contract,
    case: &Case,
) -> Result<(u16, String, String, bool)> {
    let (method, template) = match case.op {
        Op::Status => ("get", STATUS_PATH),
        Op::Trigger => ("post", TRIGGER_PATH),
    };
    let url = format!(
        "{base}{}",
        template
            .replace("{kb_id}", &case.kb)
            .replace("{source_id}", &case.source)
    );
    let mut request = match case.op {
        Op::Status => http.get(&url),
        Op::Trigger => http.post(&url),
    };
    if let Some(key) = &case.key {
        request = request.header(feather_client::API_KEY_HEADER, key);
    }
    let answer = request.send().await?;
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    let (name, errors) = contract.violations(method, template, status, &body)?;
    let schema = if errors.is_empty() {
        format!("{name} ok")
    } else {
        format!("{name}: {}", errors.join("; "))
    };
    let decoded = match (status, case.op) {
        (200, Op::Status) => serde_json::from_value::<types::SyncStatusResponse>(body).map(|_| ()),
        (200, Op::Trigger) => {
            serde_json::from_value::<types::SyncTriggerResponse>(body).map(|_| ())
        }
        _ => serde_json::from_value::<ApiError>(body).map(|_| ()),
    };
    let decoded_ok = decoded.is_ok();
    let decoded = match decoded {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("client type rejects it: {e}"),
    };
    Ok((status, schema, decoded, errors.is_empty() && decoded_ok))
}

async fn client_pass(base: &str, op: Op, kb: Uuid, source: Uuid, key: &str) -> Result<u16> {
    let client = Client::with_api_key(base, key)?;
    let status = |e: Error<ApiError>| -> Result<u16> {
        match e {
            Error::ErrorResponse(answer) => Ok(answer.status().as_u16()),
            Error::UnexpectedResponse(answer) => Ok(answer.status().as_u16()),
            other => Err(anyhow!("client error: {other}")),
        }
    };
    match op {
        Op::Status => match client
            .get_sync_status()
            .kb_id(kb)
            .source_id(source)
            .send()
            .await
        {
            Ok(answer) => Ok(answer.status().as_u16()),
            Err(e) => status(e),
        },
        Op::Trigger => match client
            .trigger_sync()
            .kb_id(kb)
            .source_id(source)
            .send()
            .await
        {
            Ok(answer) => Ok(answer.status().as_u16()),
            Err(e) => status(e),
        },
    }
}

fn source_named(demo: &Value, part: &str) -> Result<Uuid> {
    demo["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"].as_str().is_some_and(|n| n.contains(part)))
        .and_then(|s| s["id"].as_str())
        .ok_or_else(|| anyhow!("the demo has no {part} source"))?
        .parse()
        .map_err(Into::into)
}

fn cases(demo: &Value) -> Result<Vec<Case>> {
    let text = |field: &str| demo[field].as_str().unwrap_or_default().to_owned();
    let key = text("api_key");
    let other = text("other_api_key");
    let kb: Uuid = text("kb_id").parse()?;
    // The raw pass and the client pass each get a source of their own for
    // the stateful trigger cases.
    let (raw_source, client_source) = (source_named(demo, "fast")?, source_named(demo, "slow")?);
    let idle = source_named(demo, "flaky")?;
    let unknown = Uuid::new_v4();
    let wrong_key = format!("fth_{}", "x".repeat(40));
    let case = |name, op, source: Uuid, key: Option<&str>, expected, client: Option<Uuid>| Case {
        name,
        op,
        kb: kb.to_string(),
        source: source.to_string(),
        key: key.map(str::to_owned),
        expected,
        client: client.map(|s| (kb, s, key.unwrap_or("").to_owned())),
    };
    Ok(vec![
        case(
            "status before any sync",
            Op::Status,
            idle,
            Some(&key),
            200,
            Some(idle),
        ),
        case(
            "trigger",
            Op::Trigger,
            raw_source,
            Some(&key),
            200,
            Some(client_source),
        ),
        case(
            "trigger while syncing",
            Op::Trigger,
            raw_source,
            Some(&key),
            409,
            Some(client_source),
        ),
        case(
            "status while syncing",
            Op::Status,
            raw_source,
            Some(&key),
            200,
            Some(client_source),
        ),
        case(
            "unknown source",
            Op::Status,
            unknown,
            Some(&key),
            404,
            Some(unknown),
        ),
        case(
            "trigger unknown source",
            Op::Trigger,
            unknown,
            Some(&key),
            404,
            Some(unknown),
        ),
        case(
            "another tenant's source",
            Op::Status,
            idle,
            Some(&other),
            404,
            Some(idle),
        ),
        case(
            "another tenant's trigger",
            Op::Trigger,
            idle,
            Some(&other),
            404,
            Some(idle),
        ),
        case("no API key", Op::Status, idle, None, 401, None),
        case(
            "unknown API key",
            Op::Status,
            idle,
            Some(&wrong_key),
            401,
            Some(idle),
        ),
        case(
            "empty API key",
            Op::Trigger,
            idle,
            Some(""),
            401,
            Some(idle),
        ),
        Case {
            name: "malformed kb_id",
            op: Op::Status,
            kb: "not-a-uuid".into(),
            source: idle.to_string(),
            key: Some(key.clone()),
            expected: 422,
            client: None,
        },
        Case {
            name: "malformed ids (trigger)",
            op: Op::Trigger,
            kb: "x".into(),
            source: "y".repeat(5_000),
            key: Some(key.clone()),
            expected: 422,
            client: None,
        },
    ])
}

/// Runs the check; `full_upstream` supplies `ErrorResponse`.
pub fn run(full_upstream: &Path) -> Result<ExitCode> {
    let contract = Contract::load(full_upstream)?;
    build_server()?;
    let binary = server_binary(None);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("conformance.db").display());
    let demo = admin(&binary, &url, &["seed-demo"])?;
    let server = start(&binary, &url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = runtime.block_on(async {
        let http = reqwest::Client::new();
        let mut rows = Vec::new();
        for case in cases(&demo)? {
            let (raw, schema, decoded, body_ok) =
                raw_pass(&http, &server.base_url, &contract, &case).await?;
            let client = match &case.client {
                Some((kb, source, key)) => {
                    Some(client_pass(&server.base_url, case.op, *kb, *source, key).await?)
                }
                None => None,
            };
            let request = format!(
                "{} {}",
                if case.op == Op::Status { "GET" } else { "POST" },
                if case.op == Op::Status {
                    "…/sync/status"
                } else {
                    "…/sync"
                }
            );
            rows.push(Row {
                name: case.name,
                request,
                expected: case.expected,
                raw,
                schema,
                decoded,
                ok: body_ok && raw == case.expected && client.is_none_or(|c| c == case.expected),
                client: client.map_or_else(|| "n/a (not expressible)".into(), |c| c.to_string()),
            });
        }
        anyhow::Ok(rows)
    })?;
    drop(server);

    println!("| case | request | expected | got | schema | client type | generated client |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| {}{} | {} | {} | {} | {} | {} | {} |",
            if r.ok { "" } else { "FAIL " },
            r.name,
            r.request,
            r.expected,
            r.raw,
            r.schema,
            r.decoded,
            r.client
        );
    }
    let failed = rows.iter().filter(|r| !r.ok).count();
    println!("{} case(s), {failed} failed", rows.len());
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
