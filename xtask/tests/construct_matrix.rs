//! The construct matrix, live: every construct FastAPI emits, called
//! through a generated client and checked against what FastAPI received.
//!
//! `tests/fastapi/matrix_app.py` holds the table. Its cells are one
//! FastAPI app (one operation per cell) and a manifest: per cell the
//! builder chain the client is called with, how the answer is read and
//! what FastAPI must have answered. This test serves the app, generates a
//! client from its `/openapi.json` with the `build.rs` pipeline, writes a
//! driver from the manifest (one function per call), compiles both, runs
//! the driver against the app and prints the matrix: per cell `ok`, `left
//! out` (the pipeline's reason), `driver` (the call does not compile
//! against the generated client: rustc's message) or `wrong` (the answer
//! differs). It fails on anything but `ok`. The matrix also goes to
//! `target/generated-clients/construct-matrix.md`, which `.ci/run` prints.
//!
//! Needs the FastAPI virtualenv of `tests/live_fastapi.rs`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

use common::live::{apps_dir, fetch_document, python, run_driver, start};
use common::{Target, build, workspace_root, write_crate};

/// One cell of the manifest (see `matrix_app.py`).
#[derive(Debug, Deserialize)]
struct Cell {
    group: String,
    row: String,
    column: String,
    operation_id: String,
    method: String,
    path: String,
    fastapi_limit: Option<String>,
    cases: Vec<Case>,
}

/// One call of a cell.
#[derive(Debug, Deserialize)]
struct Case {
    label: String,
    chain: String,
    expected: Value,
    read: String,
}

/// What became of a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    LeftOut(String),
    Driver(String),
    Wrong(String),
}

impl Outcome {
    fn short(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::LeftOut(_) => "left out",
            Outcome::Driver(_) => "driver",
            Outcome::Wrong(_) => "wrong",
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Outcome::Ok => None,
            Outcome::LeftOut(why) | Outcome::Driver(why) | Outcome::Wrong(why) => Some(why),
        }
    }
}

#[test]
fn every_construct_of_the_matrix_is_callable_and_echoed() {
    let Some(python) = python() else {
        return;
    };
    let cells = manifest(&python);
    let running = start(&python, "matrix_app");
    let document = fetch_document(&running.base_url);

    let generated = match feather_codegen::generate_from_value(document) {
        Ok(generated) => generated,
        Err(error) => panic!("generation failed: {error}"),
    };
    let left_out: BTreeMap<String, String> = generated
        .left_out
        .iter()
        .map(|op| {
            (
                feather_codegen::operation_label(&op.method, &op.path),
                op.reason.clone(),
            )
        })
        .collect();

    let mut outcomes: Vec<Option<Outcome>> = cells
        .iter()
        .map(|cell| {
            left_out
                .get(&format!("{} {}", cell.method, cell.path))
                .map(|reason| Outcome::LeftOut(reason.clone()))
        })
        .collect();

    // Build the driver; a call that does not compile is that cell's
    // failure, and the driver is built again without it.
    let binary = loop {
        let driver = Driver::write(&cells, &outcomes);
        let crate_dir = write_crate(
            "construct-matrix",
            &generated.source,
            Target::Binary {
                main: &driver.source,
            },
            &[
                ("tokio", &["rt", "macros"]),
                ("futures-util", &[]),
                ("bytes", &[]),
            ],
        );
        let built = build(&crate_dir);
        let client_problems: Vec<&str> = built
            .problems()
            .into_iter()
            .filter(|line| line.contains("generated.rs"))
            .collect();
        assert!(
            client_problems.is_empty(),
            "the generated client has errors or warnings:\n{}",
            client_problems.join("\n")
        );
        let failing = driver.failing_cells(&built.stderr);
        if built.success && failing.is_empty() {
            let problems = built.problems();
            assert!(
                problems.is_empty(),
                "driver warnings:\n{}",
                problems.join("\n")
            );
            break common::target_dir()
                .join("debug")
                .join("generated-construct-matrix");
        }
        assert!(
            !failing.is_empty(),
            "the driver does not compile, and no error is in a cell's call:\n{}",
            built.stderr
        );
        for (cell, message) in failing {
            outcomes[cell] = Some(Outcome::Driver(message));
        }
    };

    let stdout = run_driver(&binary, &running.base_url, "construct matrix");
    let mut answered = BTreeSet::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("case ") else {
            continue;
        };
        let Some((id, verdict)) = rest.split_once(' ') else {
            continue;
        };
        let Some((cell, case)) = id.split_once('.').and_then(|(cell, case)| {
            Some((cell.parse::<usize>().ok()?, case.parse::<usize>().ok()?))
        }) else {
            continue;
        };
        answered.insert((cell, case));
        if verdict != "ok" && outcomes[cell].is_none() {
            let label = &cells[cell].cases[case].label;
            outcomes[cell] = Some(Outcome::Wrong(format!("{label}: {verdict}")));
        }
    }
    for (index, cell) in cells.iter().enumerate() {
        if outcomes[index].is_some() {
            continue;
        }
        let all_answered = (0..cell.cases.len()).all(|case| answered.contains(&(index, case)));
        outcomes[index] = Some(if all_answered {
            Outcome::Ok
        } else {
            Outcome::Wrong("the driver did not report every call".into())
        });
    }
    let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();

    let report = report(&cells, &outcomes, &generated);
    eprintln!("{report}");
    common::write(
        &workspace_root().join("target/generated-clients/construct-matrix.md"),
        &report,
    );
    let failed = outcomes.iter().filter(|o| **o != Outcome::Ok).count();
    assert_eq!(
        failed,
        0,
        "{failed} of {} cells are not ok (above)",
        cells.len()
    );
}

/// The cells of `matrix_app.py`.
#[track_caller]
fn manifest(python: &std::path::Path) -> Vec<Cell> {
    let output = Command::new(python)
        .arg(apps_dir().join("matrix_app.py"))
        .arg("manifest")
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => panic!(
            "matrix_app.py manifest failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!("cannot run matrix_app.py: {error}"),
    };
    match serde_json::from_slice(&output.stdout) {
        Ok(cells) => cells,
        Err(error) => panic!("matrix_app.py printed an unreadable manifest: {error}"),
    }
}

/// The driver's source and which lines belong to which cell.
struct Driver {
    source: String,
    /// (first line, last line, cell), 1-based as rustc reports them.
    spans: Vec<(usize, usize, usize)>,
}

impl Driver {
    /// A driver calling every case of the cells that have no outcome yet.
    fn write(cells: &[Cell], outcomes: &[Option<Outcome>]) -> Driver {
        let mut source = String::from(PRELUDE);
        let mut spans = Vec::new();
        let mut calls = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if outcomes[index].is_some() {
                continue;
            }
            let first = source.lines().count() + 1;
            for (case_index, case) in cell.cases.iter().enumerate() {
                let _ = write!(
                    source,
                    "\n/// {} {} {} ({})\nasync fn case_{index}_{case_index}(client: &Client) -> Answer {{\n    \
                     let response = client.{}(){}.send().await;\n    {}\n}}\n",
                    cell.group,
                    cell.row,
                    cell.column,
                    case.label,
                    cell.operation_id,
                    case.chain,
                    case.read
                );
                let expected = serde_json::to_string(&case.expected).unwrap_or_default();
                let _ = writeln!(
                    calls,
                    "    report(\"{index}.{case_index}\", case_{index}_{case_index}(&client).await, r#\"{expected}\"#);"
                );
            }
            let last = source.lines().count();
            spans.push((first, last, index));
        }
        let _ = write!(
            source,
            "\n#[tokio::main(flavor = \"current_thread\")]\nasync fn main() {{\n    \
             let Some(base_url) = std::env::args().nth(1) else {{\n        \
             eprintln!(\"usage: driver BASE_URL\");\n        std::process::exit(2);\n    }};\n    \
             let client = Client::new(&base_url);\n{calls}}}\n"
        );
        Driver { source, spans }
    }

    /// The cells whose lines rustc reports an error on, with the first
    /// message of each.
    fn failing_cells(&self, stderr: &str) -> BTreeMap<usize, String> {
        let mut out = BTreeMap::new();
        for line in stderr.lines() {
            // src/main.rs:LINE:COL: error[E0599]: ...
            let Some(rest) = line.strip_prefix("src/main.rs:") else {
                continue;
            };
            let mut parts = rest.splitn(3, ':');
            let (Some(number), Some(_), Some(message)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if !message.trim_start().starts_with("error") {
                continue;
            }
            let Ok(number) = number.parse::<usize>() else {
                continue;
            };
            if let Some((_, _, cell)) = self
                .spans
                .iter()
                .find(|(first, last, _)| (*first..=*last).contains(&number))
            {
                out.entry(*cell)
                    .or_insert_with(|| message.trim().to_owned());
            }
        }
        out
    }
}

/// The matrix as Markdown: parameters as kind x location, the other groups
/// as lists, then every cell that is not ok with its reason.
fn report(cells: &[Cell], outcomes: &[Outcome], generated: &feather_codegen::Generated) -> String {
    let mut out = String::new();
    let operations: BTreeSet<&str> = cells.iter().map(|c| c.operation_id.as_str()).collect();
    let calls: usize = cells.iter().map(|c| c.cases.len()).sum();
    let ok = outcomes.iter().filter(|o| **o == Outcome::Ok).count();
    let _ = writeln!(
        out,
        "# Construct matrix: {ok} of {} cells ok ({} operations, {calls} calls; client: {})\n",
        cells.len(),
        operations.len(),
        generated.summary()
    );
    let columns = ["path", "query", "header", "cookie"];
    let mut rows: Vec<&str> = Vec::new();
    let mut grid: BTreeMap<(&str, &str), &Outcome> = BTreeMap::new();
    for (cell, outcome) in cells.iter().zip(outcomes) {
        if cell.group != "parameters" {
            continue;
        }
        if !rows.contains(&cell.row.as_str()) {
            rows.push(&cell.row);
        }
        grid.insert((cell.row.as_str(), cell.column.as_str()), outcome);
    }
    let _ = writeln!(out, "## Parameters\n\n| kind | {} |", columns.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(columns.len()));
    for row in &rows {
        let entries: Vec<&str> = columns
            .iter()
            .map(|column| grid.get(&(*row, *column)).map_or("·", |o| o.short()))
            .collect();
        let _ = writeln!(out, "| {row} | {} |", entries.join(" | "));
    }
    for group in ["bodies", "responses", "methods"] {
        let _ = writeln!(out, "\n## {}{}\n", group[..1].to_uppercase(), &group[1..]);
        let _ = writeln!(out, "| cell | result |\n|---|---|");
        for (cell, outcome) in cells.iter().zip(outcomes) {
            if cell.group == group {
                let _ = writeln!(out, "| {} | {} |", cell.row, outcome.short());
            }
        }
    }
    let limits: Vec<&Cell> = cells.iter().filter(|c| c.fastapi_limit.is_some()).collect();
    if !limits.is_empty() {
        let _ = writeln!(
            out,
            "\nChecked FastAPI limits (ok means FastAPI still answers as noted):"
        );
        for cell in limits {
            let _ = writeln!(
                out,
                "- {} {}: {}",
                cell.column,
                cell.row,
                cell.fastapi_limit.as_deref().unwrap_or_default()
            );
        }
    }
    let failures: Vec<String> = cells
        .iter()
        .zip(outcomes)
        .filter_map(|(cell, outcome)| {
            outcome.detail().map(|detail| {
                format!(
                    "- {} {} {} ({} {}): {}: {detail}",
                    cell.group,
                    cell.row,
                    cell.column,
                    cell.method,
                    cell.path,
                    outcome.short()
                )
            })
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\nNot ok:\n{}", failures.join("\n"));
    }
    out
}

/// The top of every driver: the client and the readers the manifest's
/// `read` expressions call. Each reader turns a response into the JSON the
/// manifest expects.
const PRELUDE: &str = r##"//! Generated by xtask/tests/construct_matrix.rs from matrix_app.py.
// Readers stay when the cells that use them are left out; deprecated
// parameters are called on purpose.
#![allow(dead_code, deprecated)]

#[allow(dead_code, unused_imports)]
mod client {
    include!("generated.rs");
}

use client::{ByteStream, Client, Error, ResponseValue, types};
use futures_util::TryStreamExt;
use serde_json::{Value, json};

type Answer = Result<Value, String>;

/// Object members that are null, dropped: the client's types leave out
/// `None` fields when serialized, which is the same value.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

fn report(id: &str, answer: Answer, expected: &str) {
    let expected = without_nulls(serde_json::from_str(expected).unwrap_or(Value::Null));
    match answer.map(without_nulls) {
        Ok(got) if got == expected => println!("case {id} ok"),
        Ok(got) => println!("case {id} answered {got}, expected {expected}"),
        Err(error) => println!("case {id} failed: {}", error.replace('\n', " ")),
    }
}

fn as_type<T: serde::de::DeserializeOwned>(value: Value) -> T {
    match serde_json::from_value(value) {
        Ok(value) => value,
        Err(error) => panic!("a sample does not fit its type: {error}"),
    }
}

fn date(year: i32, month: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

fn datetime(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().unwrap_or_default()
}

fn nonzero(n: u64) -> std::num::NonZeroU64 {
    std::num::NonZeroU64::new(n).unwrap_or(std::num::NonZeroU64::MIN)
}

fn uuid(text: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(text).unwrap_or_default()
}

fn blob() -> Vec<u8> {
    (0..=255u8).chain(*b"\r\n--x").collect()
}

fn file_part(name: &str, content_type: &str) -> types::FilePart {
    types::FilePart {
        content: blob(),
        content_type: Some(content_type.to_owned()),
        file_name: Some(name.to_owned()),
    }
}

fn failed<E: std::fmt::Debug>(error: Error<E>) -> String {
    format!("{error:?}")
}

fn to_json<T: serde::Serialize>(value: T) -> Answer {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

fn json<T: serde::Serialize, E: std::fmt::Debug>(response: Result<ResponseValue<T>, Error<E>>) -> Answer {
    to_json(response.map_err(failed)?.into_inner())
}

fn status_and_json<T: serde::Serialize, E: std::fmt::Debug>(
    response: Result<ResponseValue<T>, Error<E>>,
) -> Answer {
    let response = response.map_err(failed)?;
    let status = response.status().as_u16();
    Ok(json!({"status": status, "body": to_json(response.into_inner())?}))
}

fn status_only<E: std::fmt::Debug>(response: Result<ResponseValue<()>, Error<E>>) -> Answer {
    Ok(json!({"status": response.map_err(failed)?.status().as_u16()}))
}

fn status_and_optional<T: serde::Serialize, E: std::fmt::Debug>(
    response: Result<ResponseValue<Option<T>>, Error<E>>,
) -> Answer {
    status_and_json(response)
}

fn status_and_echo_header<E: std::fmt::Debug>(response: Result<ResponseValue<()>, Error<E>>) -> Answer {
    let response = response.map_err(failed)?;
    let echo = response
        .headers()
        .get("x-echo")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(json!({"status": response.status().as_u16(), "x_echo": echo}))
}

fn error_json<T: std::fmt::Debug, E: serde::Serialize + std::fmt::Debug>(
    response: Result<ResponseValue<T>, Error<E>>,
) -> Answer {
    match response {
        Err(Error::ErrorResponse(error)) => {
            let status = error.status().as_u16();
            Ok(json!({"status": status, "body": to_json(error.into_inner())?}))
        }
        other => Err(format!("expected an error response, got {other:?}")),
    }
}

fn validation_error<T: std::fmt::Debug, E: serde::Serialize + std::fmt::Debug>(
    response: Result<ResponseValue<T>, Error<E>>,
) -> Answer {
    let answer = error_json(response)?;
    Ok(json!({"status": answer["status"], "type": answer["body"]["detail"][0]["type"]}))
}

/// An error status the document does not type: its status and JSON body.
async fn unexpected<T: std::fmt::Debug, E: std::fmt::Debug>(
    response: Result<ResponseValue<T>, Error<E>>,
) -> Answer {
    match response {
        Err(Error::UnexpectedResponse(response)) => {
            let status = response.status().as_u16();
            let body: Value = response.json().await.map_err(|e| e.to_string())?;
            Ok(json!({"status": status, "body": body}))
        }
        other => Err(format!("expected an unexpected response, got {other:?}")),
    }
}

async fn collect(stream: ByteStream) -> Result<Vec<u8>, String> {
    let chunks: Vec<bytes::Bytes> = stream
        .into_inner()
        .try_collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(chunks.concat())
}

fn content_type<T>(response: &ResponseValue<T>) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn text<E: std::fmt::Debug>(response: Result<ResponseValue<ByteStream>, Error<E>>) -> Answer {
    let response = response.map_err(failed)?;
    let content_type = content_type(&response);
    let bytes = collect(response.into_inner()).await?;
    Ok(json!({"content_type": content_type, "text": String::from_utf8_lossy(&bytes)}))
}

async fn bytes_hex<E: std::fmt::Debug>(response: Result<ResponseValue<ByteStream>, Error<E>>) -> Answer {
    let response = response.map_err(failed)?;
    let content_type = content_type(&response);
    let bytes = collect(response.into_inner()).await?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(json!({"content_type": content_type, "hex": hex}))
}

async fn mixed<T: serde::Serialize, E: std::fmt::Debug>(
    response: Result<ResponseValue<client::content::JsonOr<T>>, Error<E>>,
) -> Answer {
    let response = response.map_err(failed)?;
    let content_type = content_type(&response);
    match response.into_inner() {
        client::content::JsonOr::Json(body) => Ok(json!({"json": to_json(body)?})),
        client::content::JsonOr::Other(stream) => {
            let bytes = collect(stream).await?;
            Ok(json!({"content_type": content_type, "text": String::from_utf8_lossy(&bytes)}))
        }
    }
}
"##;
