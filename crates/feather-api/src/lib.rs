//! The Feather knowledge-base sync API, as the server implements it.
//!
//! This crate owns the *shape* of the API and nothing else: the dropshot API
//! trait [`FeatherApi`] (upstream paths, operation ids, tags, summaries and
//! descriptions), the wire types, the error bodies, the extractors that read
//! the API key and the path parameters, and [`openapi_document`], which emits
//! the server's OpenAPI document from [`feather_api_mod::stub_api_description`]
//! without building the server.
//!
//! The server (`feather-server`) implements the trait; the drift check
//! (`cargo xtask drift`) compares the emitted document with the upstream
//! `openapi.json`.

mod error;
mod params;
mod spec;
mod types;

pub use error::{ApiError, ErrorResponse, HttpValidationError, LocItem, ValidationError};
pub use params::{API_KEY_HEADER, ApiKey, SourcePath, UuidParam};
pub use spec::{API_KEY_SCHEME, API_TITLE, API_VERSION, openapi_document};
pub use types::{JobStatus, SourceStatus, SyncStatusResponse, SyncTriggerResponse, UnknownStatus};

use dropshot::{HttpResponseOk, RequestContext};

/// The two knowledge-base connector sync operations of the Feather API.
///
/// Doc comments become the operations' summary (first paragraph) and
/// description (the rest), as upstream has them.
#[dropshot::api_description]
pub trait FeatherApi {
    /// Server state shared by every request.
    type Context;

    /// Trigger Sync
    ///
    /// Trigger a manual resync for a connector source.
    ///
    /// Uses a single session (svc.session) for both the parent job insert and the
    /// atomic source-status flip, so the writes commit together. The UPDATE is
    /// guarded by `status IN ('active','error')` so concurrent trigger_sync calls
    /// can't both flip the same source into SYNCING.
    #[endpoint {
        method = POST,
        path = "/v1/knowledge-base/knowledge-bases/{kb_id}/sources/{source_id}/sync",
        operation_id = "trigger_sync_v1_knowledge_base_knowledge_bases__kb_id__sources__source_id__sync_post",
        tags = ["knowledge-base-connectors"],
    }]
    async fn trigger_sync(
        rqctx: RequestContext<Self::Context>,
        api_key: ApiKey,
        path: dropshot::Path<SourcePath>,
    ) -> Result<HttpResponseOk<SyncTriggerResponse>, ApiError>;

    /// Get Sync Status
    ///
    /// Get current sync status for a connector source.
    #[endpoint {
        method = GET,
        path = "/v1/knowledge-base/knowledge-bases/{kb_id}/sources/{source_id}/sync/status",
        operation_id = "get_sync_status_v1_knowledge_base_knowledge_bases__kb_id__sources__source_id__sync_status_get",
        tags = ["knowledge-base-connectors"],
    }]
    async fn get_sync_status(
        rqctx: RequestContext<Self::Context>,
        api_key: ApiKey,
        path: dropshot::Path<SourcePath>,
    ) -> Result<HttpResponseOk<SyncStatusResponse>, ApiError>;
}

/// The emitted document as checked in (`cargo xtask regen` writes it from
/// [`openapi_document`]; a test fails when it is stale): what the server
/// serves at `GET /openapi.json`, byte for byte.
pub const EMITTED_DOCUMENT: &str = include_str!("../feather-server.openapi.json");
