//! The generated client against a real HTTP server on loopback (wiremock):
//! the key is sent, bodies parse, 422 is typed, and undocumented error
//! statuses come back with their status and the upstream `ErrorResponse`.

use feather_client::{ApiError, Client, Error, types};
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "fth_test_0123456789abcdef0123456789abcdef";

struct Fixture {
    server: MockServer,
    client: Client,
    kb_id: Uuid,
    source_id: Uuid,
}

impl Fixture {
    async fn new() -> Self {
        let server = MockServer::start().await;
        let client = match Client::with_api_key(&server.uri(), KEY) {
            Ok(client) => client,
            Err(error) => panic!("cannot build the client: {error}"),
        };
        Self {
            server,
            client,
            kb_id: Uuid::new_v4(),
            source_id: Uuid::new_v4(),
        }
    }

    fn sync_path(&self) -> String {
        format!(
            "/v1/knowledge-base/knowledge-bases/{}/sources/{}/sync",
            self.kb_id, self.source_id
        )
    }

    /// Answers the status operation, but only when the request carries the key.
    async fn answer_status(&self, status: u16, body: serde_json::Value) {
        let status_path = format!("{}/status", self.sync_path());
        self.answer("GET", status_path, status, body).await;
    }

    /// Answers the trigger operation, but only when the request carries the key.
    async fn answer_trigger(&self, status: u16, body: serde_json::Value) {
        self.answer("POST", self.sync_path(), status, body).await;
    }

    async fn answer(&self, verb: &str, path_: String, status: u16, body: serde_json::Value) {
        Mock::given(method(verb))
            .and(path(path_))
            .and(header("x-api-key", KEY))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .expect(1)
            .mount(&self.server)
            .await;
    }

    async fn status(&self) -> Result<types::SyncStatusResponse, Error<ApiError>> {
        self.client
            .get_sync_status()
            .kb_id(self.kb_id)
            .source_id(self.source_id)
            .send()
            .await
            .map(|response| response.into_inner())
    }

    async fn trigger(&self) -> Result<types::SyncTriggerResponse, Error<ApiError>> {
        self.client
            .trigger_sync()
            .kb_id(self.kb_id)
            .source_id(self.source_id)
            .send()
            .await
            .map(|response| response.into_inner())
    }
}

/// The status and body of an error, or a panic naming what came instead.
#[track_caller]
fn error_body<T: std::fmt::Debug>(result: Result<T, Error<ApiError>>) -> (u16, ApiError) {
    match result {
        Err(Error::ErrorResponse(response)) => (response.status().as_u16(), response.into_inner()),
        other => panic!("expected a typed error response, got {other:?}"),
    }
}

#[tokio::test]
async fn status_sends_the_key_and_parses_every_field() {
    let fixture = Fixture::new().await;
    let job_id = Uuid::new_v4();
    fixture
        .answer_status(
            200,
            json!({
                "source_id": fixture.source_id,
                "source_status": "syncing",
                "last_sync_job_id": job_id,
                "last_sync_status": "processing",
                "last_sync_started_at": "2026-11-23T10:00:00Z",
                "last_sync_completed_at": null,
                "total_items": 120,
                "processed_count": 45,
                "error_message": null
            }),
        )
        .await;
    let status = fixture.status().await;
    let Ok(status) = status else {
        panic!("status failed: {status:?}");
    };
    assert_eq!(status.source_id, fixture.source_id);
    assert_eq!(status.source_status, "syncing");
    assert_eq!(status.last_sync_job_id, Some(job_id));
    assert_eq!(status.last_sync_status.as_deref(), Some("processing"));
    assert_eq!(
        status.last_sync_started_at.map(|at| at.to_rfc3339()),
        Some("2026-11-23T10:00:00+00:00".to_owned())
    );
    assert_eq!(status.last_sync_completed_at, None);
    assert_eq!(
        (status.processed_count, status.total_items),
        (Some(45), Some(120))
    );
    assert_eq!(status.error_message, None);
}

#[tokio::test]
async fn status_before_any_sync_has_nulls_and_absent_fields() {
    let fixture = Fixture::new().await;
    fixture
        .answer_status(
            200,
            json!({"source_id": fixture.source_id, "source_status": "active", "last_sync_job_id": null}),
        )
        .await;
    let status = fixture.status().await;
    assert_eq!(
        status.ok(),
        Some(types::SyncStatusResponse {
            source_id: fixture.source_id,
            source_status: "active".into(),
            last_sync_job_id: None,
            last_sync_status: None,
            last_sync_started_at: None,
            last_sync_completed_at: None,
            total_items: None,
            processed_count: None,
            error_message: None,
        })
    );
}

#[tokio::test]
async fn trigger_parses_the_queued_job() {
    let fixture = Fixture::new().await;
    let job_id = Uuid::new_v4();
    fixture
        .answer_trigger(
            200,
            json!({"job_id": job_id, "status": "queued", "message": "Sync has been queued"}),
        )
        .await;
    let triggered = fixture.trigger().await;
    assert_eq!(
        triggered.ok(),
        Some(types::SyncTriggerResponse {
            job_id,
            status: "queued".into(),
            message: "Sync has been queued".into(),
        })
    );
}

#[tokio::test]
async fn validation_errors_are_typed() {
    let fixture = Fixture::new().await;
    fixture
        .answer_trigger(
            422,
            json!({"detail": [{
                "type": "uuid_parsing",
                "loc": ["path", "kb_id"],
                "msg": "Input should be a valid UUID, invalid character: found `x` at 0",
                "input": "xx",
                "ctx": {"error": "invalid character: found `x` at 0"}
            }]}),
        )
        .await;
    let (status, body) = error_body(fixture.trigger().await);
    assert_eq!(status, 422);
    let ApiError::HttpValidationError(validation) = &body else {
        panic!("expected HttpValidationError, got {body:?}");
    };
    let first = &validation.detail[0];
    assert_eq!(first.type_, "uuid_parsing");
    assert_eq!(
        first.loc,
        [
            types::ValidationErrorLocItem::String("path".into()),
            types::ValidationErrorLocItem::String("kb_id".into())
        ]
    );
    assert_eq!(first.input, Some(json!("xx")));
    assert_eq!(
        body.message(),
        "path.kb_id: Input should be a valid UUID, invalid character: found `x` at 0"
    );
}

#[tokio::test]
async fn undocumented_error_statuses_carry_the_status_and_the_error_response() {
    for (status_code, code, message) in [
        (
            401,
            "authentication_required",
            "No valid API key was provided. Pass your key in the x-api-key header.",
        ),
        (404, "not_found", "source not found"),
        (
            409,
            "sync_in_progress",
            "a sync is already running (job 6f1c)",
        ),
        (503, "database_unavailable", "the database is unreachable"),
    ] {
        let fixture = Fixture::new().await;
        fixture
            .answer_trigger(status_code, json!({"error": code, "message": message}))
            .await;
        let (status, body) = error_body(fixture.trigger().await);
        assert_eq!(status, status_code);
        assert_eq!(
            body,
            ApiError::ErrorResponse(types::ErrorResponse {
                error: code.into(),
                message: message.into(),
            })
        );
        assert_eq!(body.message(), message);
    }
}

#[tokio::test]
async fn a_request_without_the_key_is_never_sent_by_this_client() {
    // The mock answers only requests that carry the key; anything else gets
    // wiremock's 404 with an empty body, which would fail to parse.
    let fixture = Fixture::new().await;
    fixture
        .answer_status(
            200,
            json!({"source_id": fixture.source_id, "source_status": "active"}),
        )
        .await;
    assert!(fixture.status().await.is_ok());
    let requests = fixture.server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].headers.get("x-api-key").map(|v| v.as_bytes()),
        Some(KEY.as_bytes())
    );
}

#[tokio::test]
async fn the_key_never_appears_in_debug_output() {
    let fixture = Fixture::new().await;
    let debug = format!("{:?}", fixture.client);
    assert!(!debug.contains(KEY), "{debug}");
    assert!(
        debug.contains("Sensitive"),
        "the header should be shown as redacted: {debug}"
    );
}
