//! The server's behaviour, driven through the generated client (and raw HTTP
//! where the typed client cannot express the request) on a loopback port.

mod common;

use std::collections::HashSet;
use std::fmt::Debug;

use common::{Backend, TestServer};
use feather_client::{ApiError, Error, ResponseValue, types};
use feather_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

type Outcome<T> = Result<ResponseValue<T>, Error<ApiError>>;

/// The status and typed body of an error answer; panics on anything else.
fn error_of<T: Debug>(outcome: Outcome<T>) -> (u16, ApiError) {
    match outcome {
        Err(Error::ErrorResponse(answer)) => (answer.status().as_u16(), answer.into_inner()),
        other => panic!("expected a documented error answer, got {other:?}"),
    }
}

/// The `ErrorResponse` of an error answer, with its status.
fn error_response<T: Debug>(outcome: Outcome<T>) -> (u16, types::ErrorResponse) {
    match error_of(outcome) {
        (status, ApiError::ErrorResponse(body)) => (status, body),
        (status, other) => panic!("expected an ErrorResponse body, got {status} {other:?}"),
    }
}

async fn status(
    server: &TestServer,
    client: &feather_client::Client,
    source: Uuid,
) -> Outcome<types::SyncStatusResponse> {
    client
        .get_sync_status()
        .kb_id(server.demo.kb_id)
        .source_id(source)
        .send()
        .await
}

async fn trigger(
    server: &TestServer,
    client: &feather_client::Client,
    source: Uuid,
) -> Outcome<types::SyncTriggerResponse> {
    client
        .trigger_sync()
        .kb_id(server.demo.kb_id)
        .source_id(source)
        .send()
        .await
}

async fn status_before_any_sync_has_nulls_then_trigger_shows_the_job(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let client = server.client()?;
    let source = server.source("slow");

    let before = status(&server, &client, source).await?.into_inner();
    assert_eq!(before.source_id, source);
    assert_eq!(before.source_status, "active");
    assert_eq!(before.last_sync_job_id, None);
    assert_eq!(before.last_sync_status, None);
    assert_eq!(before.last_sync_started_at, None);
    assert_eq!(before.last_sync_completed_at, None);
    assert_eq!(before.total_items, None);
    assert_eq!(before.processed_count, None);
    assert_eq!(before.error_message, None);

    let queued = trigger(&server, &client, source).await?.into_inner();
    assert_eq!(queued.status, "queued");
    assert_eq!(queued.message, "Sync has been queued");

    let after = status(&server, &client, source).await?.into_inner();
    assert_eq!(after.source_status, "syncing");
    assert_eq!(after.last_sync_job_id, Some(queued.job_id));
    // A worker may have claimed it already.
    let job_status = after.last_sync_status.unwrap_or_default();
    assert!(
        ["queued", "processing"].contains(&job_status.as_str()),
        "{job_status}"
    );

    let jobs = server.store.list_jobs(source).await?;
    assert_eq!(
        jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        [queued.job_id]
    );
    Ok(server.server.shutdown().await?)
}

async fn a_second_trigger_is_409_naming_the_running_job(backend: Backend) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let client = server.client()?;
    let source = server.source("slow");
    let first = trigger(&server, &client, source).await?.into_inner();
    let (code, body) = error_response(trigger(&server, &client, source).await);
    assert_eq!(code, 409);
    assert_eq!(body.error, "sync_in_progress");
    assert!(
        body.message.contains(&first.job_id.to_string()),
        "{}",
        body.message
    );
    Ok(server.server.shutdown().await?)
}

async fn sixty_four_concurrent_triggers_have_exactly_one_winner(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let source = server.source("slow");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..64 {
        // One client (one connection pool) per caller, as separate processes would.
        let client = server.client()?;
        let kb = server.demo.kb_id;
        tasks.spawn(async move {
            client
                .trigger_sync()
                .kb_id(kb)
                .source_id(source)
                .send()
                .await
        });
    }
    let mut winners = Vec::new();
    let mut conflicts = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok(answer) => winners.push(answer.into_inner().job_id),
            outcome => {
                let (code, body) = error_response(outcome);
                assert_eq!((code, body.error.as_str()), (409, "sync_in_progress"));
                conflicts += 1;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one trigger wins");
    assert_eq!(conflicts, 63);
    let jobs = server.store.list_jobs(source).await?;
    assert_eq!(
        jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        winners,
        "one job row"
    );
    Ok(server.server.shutdown().await?)
}

async fn triggers_on_a_hundred_sources_in_parallel_all_succeed(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let mut sources = Vec::new();
    for i in 0..100 {
        let source = server
            .store
            .create_source(
                server.demo.kb_id,
                &format!("bulk-{i}"),
                "synthetic",
                &json!({"items": 1}),
            )
            .await?;
        sources.push(source.id);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for source in sources.iter().copied() {
        let client = server.client()?;
        let kb = server.demo.kb_id;
        tasks.spawn(async move {
            client
                .trigger_sync()
                .kb_id(kb)
                .source_id(source)
                .send()
                .await
        });
    }
    let mut jobs = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        jobs.insert(joined??.into_inner().job_id);
    }
    assert_eq!(jobs.len(), 100, "100 distinct jobs");
    for source in sources {
        let state = server
            .store
            .sync_state(server.demo.org_id, server.demo.kb_id, source)
            .await?;
        let last = state.and_then(|s| s.last_job).map(|j| j.id);
        assert!(last.is_some_and(|id| jobs.contains(&id)), "{source}");
        assert_eq!(server.store.list_jobs(source).await?.len(), 1);
    }
    Ok(server.server.shutdown().await?)
}

async fn keys_missing_wrong_or_revoked_are_401(backend: Backend) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let source = server.source("fast");
    let well_formed_unknown = format!("fth_{}", "A".repeat(40));
    for key in ["", "not-a-key", "fth_short", well_formed_unknown.as_str()] {
        let client = server.client_with(key)?;
        for outcome in [
            error_response(status(&server, &client, source).await),
            error_response(trigger(&server, &client, source).await),
        ] {
            let (code, body) = outcome;
            assert_eq!(code, 401, "key {key:?}");
            assert_eq!(body.error, "authentication_required");
            assert_eq!(
                body.message,
                "No valid API key was provided. Pass your key in the x-api-key header."
            );
        }
    }

    // A revoked key stops working within a second.
    let org = server.demo.org_id;
    let (key, record) = feather_server::auth::issue_key(server.store.as_ref(), org, "ci").await?;
    let client = server.client_with(&key)?;
    status(&server, &client, source).await?;
    assert!(server.store.revoke_api_key(&record.id).await?);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (code, _) = error_response(status(&server, &client, source).await);
    assert_eq!(code, 401);

    // No header at all (raw HTTP: the generated client always sends one).
    let raw = reqwest::get(format!(
        "{}/status",
        server.sync_url(&org.to_string(), &source.to_string())
    ))
    .await?;
    assert_eq!(raw.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        raw.json::<Value>().await?["error"],
        json!("authentication_required")
    );
    Ok(server.server.shutdown().await?)
}

async fn other_tenants_and_unknown_ids_are_404(backend: Backend) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let source = server.source("fast");
    let other = server.client_with(&server.demo.other_api_key)?;
    for (code, body) in [
        error_response(status(&server, &other, source).await),
        error_response(trigger(&server, &other, source).await),
    ] {
        assert_eq!((code, body.error.as_str()), (404, "not_found"));
    }
    // The other tenant's trigger changed nothing.
    let client = server.client()?;
    let state = status(&server, &client, source).await?.into_inner();
    assert_eq!(state.source_status, "active");

    // Unknown source, unknown KB, and a real source under the wrong KB.
    let other_kb = server
        .store
        .create_knowledge_base(server.demo.org_id, "second")
        .await?;
    for (kb, src) in [
        (server.demo.kb_id, Uuid::new_v4()),
        (Uuid::new_v4(), source),
        (other_kb.id, source),
    ] {
        let outcome = client
            .get_sync_status()
            .kb_id(kb)
            .source_id(src)
            .send()
            .await;
        let (code, body) = error_response(outcome);
        assert_eq!(code, 404);
        assert!(body.message.contains(&src.to_string()), "{}", body.message);
        let outcome = client.trigger_sync().kb_id(kb).source_id(src).send().await;
        assert_eq!(error_response(outcome).0, 404);
    }
    Ok(server.server.shutdown().await?)
}

async fn malformed_uuids_are_422_in_pydantic_shape(backend: Backend) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let http = reqwest::Client::new();
    let kb = server.demo.kb_id.to_string();
    let source = server.source("fast").to_string();
    let cases = [
        ("xx", source.as_str(), vec!["kb_id"]),
        (kb.as_str(), "not-a-uuid", vec!["source_id"]),
        ("1234", "zz", vec!["kb_id", "source_id"]),
    ];
    for (kb_text, source_text, bad) in cases {
        for (method, url) in [
            (
                reqwest::Method::GET,
                format!("{}/status", server.sync_url(kb_text, source_text)),
            ),
            (reqwest::Method::POST, server.sync_url(kb_text, source_text)),
        ] {
            let answer = http
                .request(method.clone(), &url)
                .header("x-api-key", &server.demo.api_key)
                .send()
                .await?;
            assert_eq!(
                answer.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{method} {url}"
            );
            let body: types::HttpValidationError = answer.json().await?;
            let locs: Vec<String> = body.detail.iter().map(|d| format!("{:?}", d.loc)).collect();
            assert_eq!(body.detail.len(), bad.len(), "{locs:?}");
            for (detail, param) in body.detail.iter().zip(&bad) {
                assert_eq!(detail.type_, "uuid_parsing");
                assert_eq!(serde_json::to_value(&detail.loc)?, json!(["path", param]),);
                assert!(
                    detail.msg.starts_with("Input should be a valid UUID, "),
                    "{}",
                    detail.msg
                );
                let expected_input = if *param == "kb_id" {
                    kb_text
                } else {
                    source_text
                };
                assert_eq!(detail.input, Some(json!(expected_input)));
            }
        }
    }
    Ok(server.server.shutdown().await?)
}

async fn hostile_requests_get_their_status_and_the_server_keeps_serving(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let http = reqwest::Client::new();
    let key = server.demo.api_key.clone();
    let kb = server.demo.kb_id.to_string();
    let source = server.source("fast").to_string();

    // Wrong method on each operation's path.
    let answer = http
        .put(server.sync_url(&kb, &source))
        .header("x-api-key", &key)
        .send()
        .await?;
    assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(answer.json::<Value>().await?["message"].is_string());
    let answer = http
        .post(format!("{}/status", server.sync_url(&kb, &source)))
        .header("x-api-key", &key)
        .send()
        .await?;
    assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Unknown route.
    let answer = http
        .get(format!("{}/v2/nothing", server.base_url()))
        .send()
        .await?;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert!(answer.json::<Value>().await?["message"].is_string());

    // A 5,000-character id: a validation error echoing the input, not a crash.
    let long = "a".repeat(5_000);
    let answer = http
        .get(format!("{}/status", server.sync_url(&long, &source)))
        .header("x-api-key", &key)
        .send()
        .await?;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = answer.json().await?;
    assert_eq!(body["detail"][0]["input"], json!(long));
    // ... and a 5,000-character unknown path.
    let answer = http
        .get(format!("{}/{}", server.base_url(), "x".repeat(5_000)))
        .send()
        .await?;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);

    // A 1 MiB header: hyper refuses it (431) or drops the connection.
    let huge = "h".repeat(1 << 20);
    match http
        .get(format!("{}/status", server.sync_url(&kb, &source)))
        .header("x-api-key", &key)
        .header("x-padding", huge)
        .send()
        .await
    {
        Ok(answer) => assert_eq!(answer.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
    }
    // A huge API key is just a wrong key.
    let answer = http
        .get(format!("{}/status", server.sync_url(&kb, &source)))
        .header("x-api-key", "k".repeat(64 << 10))
        .send()
        .await?;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    // Still serving, with the same state.
    let health = http
        .get(format!("{}/healthz", server.base_url()))
        .send()
        .await?;
    assert_eq!(health.status(), StatusCode::OK);
    let client = server.client()?;
    let state = status(&server, &client, server.source("fast"))
        .await?
        .into_inner();
    assert_eq!(state.source_status, "active");
    Ok(server.server.shutdown().await?)
}

async fn a_restart_on_the_same_database_keeps_every_row(backend: Backend) -> anyhow::Result<()> {
    let Some(first) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let client = first.client()?;
    let source = first.source("slow");
    let job = trigger(&first, &client, source).await?.into_inner().job_id;
    let orgs = first.store.list_organizations().await?;
    let keys = first.store.list_api_keys(None).await?;
    let kbs = first.store.list_knowledge_bases(None).await?;
    let TestServer {
        server,
        store,
        demo,
        db,
    } = first;
    server.shutdown().await?;
    drop(store);

    let store = feather_server::store::open(&db.url).await?;
    assert_eq!(store.list_organizations().await?, orgs);
    assert_eq!(store.list_api_keys(None).await?, keys);
    assert_eq!(store.list_knowledge_bases(None).await?, kbs);
    let jobs = store.list_jobs(source).await?;
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [job]);
    let second = TestServer::restart(store, demo, db).await?;
    let client = second.client()?;
    let state = status(&second, &client, source).await?.into_inner();
    assert_eq!(state.source_status, "syncing");
    assert_eq!(state.last_sync_job_id, Some(job));
    let (code, _) = error_response(trigger(&second, &client, source).await);
    assert_eq!(code, 409, "the guard survives the restart");
    Ok(second.server.shutdown().await?)
}

async fn healthz_checks_the_database(backend: Backend) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let answer = reqwest::get(format!("{}/healthz", server.base_url())).await?;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.json::<Value>().await?, json!({"status": "ok"}));
    Ok(server.server.shutdown().await?)
}

async fn request_logs_are_structured_and_never_contain_the_key(
    backend: Backend,
) -> anyhow::Result<()> {
    let (log, lines) = common::capturing();
    let Some(server) = TestServer::start_logging_to(backend, log).await? else {
        return Ok(());
    };
    let client = server.client()?;
    let source = server.source("fast");
    trigger(&server, &client, source).await?;
    status(&server, &client, source).await?;
    let _ = error_response(trigger(&server, &client, source).await);
    let stranger = format!("fth_{}", "Z".repeat(40));
    let _ = error_response(status(&server, &server.client_with(&stranger)?, source).await);
    let http = reqwest::Client::new();
    http.get(format!("{}/status", server.sync_url("xx", "yy")))
        .header("x-api-key", &server.demo.api_key)
        .send()
        .await?;
    server.server.shutdown().await?;

    let lines = lines.lock().map(|l| l.clone()).unwrap_or_default();
    let completed: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("request completed"))
        .collect();
    assert_eq!(completed.len(), 5, "one line per request: {lines:#?}");
    for line in &completed {
        for field in [
            "method=",
            "uri=",
            "response_code=",
            "latency_us=",
            "req_id=",
        ] {
            assert!(line.contains(field), "{field} missing in {line}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("sync queued") && l.contains("job_id="))
    );
    let secret = &server.demo.api_key["fth_".len()..];
    for line in &lines {
        assert!(!line.contains(secret), "the key leaked into: {line}");
        assert!(
            !line.contains(&stranger[4..]),
            "a presented key leaked into: {line}"
        );
    }
    Ok(())
}

on_both_backends!(
    status_before_any_sync_has_nulls_then_trigger_shows_the_job,
    a_second_trigger_is_409_naming_the_running_job,
    sixty_four_concurrent_triggers_have_exactly_one_winner,
    triggers_on_a_hundred_sources_in_parallel_all_succeed,
    keys_missing_wrong_or_revoked_are_401,
    other_tenants_and_unknown_ids_are_404,
    malformed_uuids_are_422_in_pydantic_shape,
    hostile_requests_get_their_status_and_the_server_keeps_serving,
    a_restart_on_the_same_database_keeps_every_row,
    healthz_checks_the_database,
    request_logs_are_structured_and_never_contain_the_key,
);
