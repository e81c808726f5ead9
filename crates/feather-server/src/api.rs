//! The two operations, implemented over the [`Store`](crate::store::Store).
//!
//! Order of checks, as upstream's FastAPI app does it: the API key first (so
//! an unauthenticated caller learns nothing, not even that an id is
//! malformed), then the path parameters, then the tenant-scoped lookup.

use std::sync::Arc;

use dropshot::{HttpResponseOk, Path, RequestContext};
use feather_api::{
    ApiError, ApiKey, FeatherApi, SourcePath, SyncStatusResponse, SyncTriggerResponse,
};
use slog::info;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::auth::{AuthError, Authenticator};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError, TriggerOutcome};

/// State shared by every request.
#[derive(Debug)]
pub struct ServerState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// API key verification.
    pub auth: Authenticator,
    /// Wakes an idle sync worker when a job is queued.
    pub wake: Arc<Notify>,
    /// What requests and the engine record.
    pub metrics: Metrics,
}

impl ServerState {
    /// State over `store`; `wake` and `metrics` are shared with the sync
    /// engine.
    pub fn new(store: Arc<dyn Store>, wake: Arc<Notify>, metrics: Metrics) -> Self {
        ServerState {
            auth: Authenticator::new(store.clone()),
            store,
            wake,
            metrics,
        }
    }

    /// A store failure as the client sees it: 503 when retrying may help
    /// (counted in the metrics), 500 otherwise; the detail goes to the log
    /// only.
    pub fn store_error(&self, e: StoreError) -> ApiError {
        match e {
            StoreError::Unavailable { detail, .. } => {
                self.metrics.store_unavailable();
                ApiError::unavailable(detail)
            }
            other => ApiError::internal(other.to_string()),
        }
    }

    /// The organization the request's key acts for.
    async fn organization(&self, key: &ApiKey) -> Result<Uuid, ApiError> {
        self.auth
            .authenticate(key.presented())
            .await
            .map_err(|e| match e {
                AuthError::Unauthenticated => ApiError::authentication_required(),
                AuthError::Store(e) => self.store_error(e),
            })
    }
}

fn not_found(kb_id: Uuid, source_id: Uuid) -> ApiError {
    ApiError::not_found(format!(
        "Source {source_id} not found in knowledge base {kb_id}."
    ))
}

/// The server's implementation of [`FeatherApi`].
pub enum FeatherServerImpl {}

impl FeatherApi for FeatherServerImpl {
    type Context = ServerState;

    async fn trigger_sync(
        rqctx: RequestContext<ServerState>,
        api_key: ApiKey,
        path: Path<SourcePath>,
    ) -> Result<HttpResponseOk<SyncTriggerResponse>, ApiError> {
        let state = rqctx.context();
        state
            .metrics
            .observe("trigger_sync", trigger(&rqctx, api_key, path))
            .await
    }

    async fn get_sync_status(
        rqctx: RequestContext<ServerState>,
        api_key: ApiKey,
        path: Path<SourcePath>,
    ) -> Result<HttpResponseOk<SyncStatusResponse>, ApiError> {
        let state = rqctx.context();
        state
            .metrics
            .observe("get_sync_status", status(state, api_key, path))
            .await
    }
}

/// `trigger_sync`: the guarded flip, then a wake-up for an idle worker.
async fn trigger(
    rqctx: &RequestContext<ServerState>,
    api_key: ApiKey,
    path: Path<SourcePath>,
) -> Result<HttpResponseOk<SyncTriggerResponse>, ApiError> {
    let state = rqctx.context();
    let org_id = state.organization(&api_key).await?;
    let (kb_id, source_id) = path.into_inner().parse()?;
    match state
        .store
        .trigger_sync(org_id, kb_id, source_id)
        .await
        .map_err(|e| state.store_error(e))?
    {
        TriggerOutcome::Queued(job) => {
            state.wake.notify_one();
            info!(rqctx.log, "sync queued";
                    "org_id" => %org_id, "source_id" => %source_id, "job_id" => %job.id);
            Ok(HttpResponseOk(SyncTriggerResponse {
                job_id: job.id,
                status: job.status,
                message: "Sync has been queued".into(),
            }))
        }
        TriggerOutcome::NotFound => Err(not_found(kb_id, source_id)),
        TriggerOutcome::AlreadySyncing(job) => {
            let running = job.map(|id| format!(" (job {id})")).unwrap_or_default();
            info!(rqctx.log, "sync refused: already syncing";
                    "source_id" => %source_id, "running_job" => ?job);
            Err(ApiError::conflict(
                "sync_in_progress",
                format!(
                    "A sync is already running for source {source_id}{running}; \
                         wait for it to finish before triggering another."
                ),
            ))
        }
    }
}

/// `get_sync_status`: the source and its last job, in one read.
async fn status(
    state: &ServerState,
    api_key: ApiKey,
    path: Path<SourcePath>,
) -> Result<HttpResponseOk<SyncStatusResponse>, ApiError> {
    let org_id = state.organization(&api_key).await?;
    let (kb_id, source_id) = path.into_inner().parse()?;
    let sync = state
        .store
        .sync_state(org_id, kb_id, source_id)
        .await
        .map_err(|e| state.store_error(e))?
        .ok_or_else(|| not_found(kb_id, source_id))?;
    let job = sync.last_job;
    Ok(HttpResponseOk(SyncStatusResponse {
        source_id: sync.source_id,
        source_status: sync.source_status,
        last_sync_job_id: job.as_ref().map(|j| j.id),
        last_sync_status: job.as_ref().map(|j| j.status),
        last_sync_started_at: job.as_ref().and_then(|j| j.started_at),
        last_sync_completed_at: job.as_ref().and_then(|j| j.completed_at),
        total_items: job.as_ref().and_then(|j| j.total_items),
        processed_count: job.as_ref().map(|j| j.processed_count),
        error_message: job.and_then(|j| j.error_message),
    }))
}
