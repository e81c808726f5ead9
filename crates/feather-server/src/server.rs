//! Starting and stopping the HTTP server.
//!
//! The API description comes from `feather-api`'s trait, implemented by
//! [`FeatherServerImpl`]; `/healthz`, `/readyz`, `/openapi.json` and
//! `/metrics` are added here, unpublished (operator endpoints, not part of
//! the Feather API). `/metrics` can move to a listener of its own
//! ([`MetricsMode::Separate`]) to stay private.

use std::net::SocketAddr;
use std::sync::Arc;

use dropshot::{
    ConfigDropshot, HandlerTaskMode, HttpResponseOk, HttpServer, RequestContext, ServerBuilder,
    endpoint,
};
use feather_api::ApiError;
use schemars::JsonSchema;
use serde::Serialize;

use tokio::sync::Notify;

use crate::api::{FeatherServerImpl, ServerState};
use crate::engine::{Engine, EngineConfig};
use crate::metrics::{Metrics, MetricsError};
use crate::store::Store;

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The logger could not be set up.
    #[error("cannot set up logging: {0}")]
    Logging(String),
    /// The API description (or an endpoint added to it) is invalid.
    #[error("invalid API description: {0}")]
    Api(String),
    /// Listening on the address failed.
    #[error("cannot listen on {bind}")]
    Listen {
        /// The address.
        bind: SocketAddr,
        /// Why.
        #[source]
        source: dropshot::BuildError,
    },
    /// Closing the HTTP server failed.
    #[error("server shutdown failed: {0}")]
    Shutdown(String),
    /// The metrics registry could not be set up.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// Raises this process's soft limit on open files to its hard limit and logs
/// both. Every connection is a file: with the common soft default of 1,024
/// (or less), a few hundred slow clients used to exhaust it, and the
/// accept loop then failed ("Too many open files") for everyone. Go's
/// runtime does the same at start; nginx has `worker_rlimit_nofile`.
pub fn raise_open_files_limit(log: &slog::Logger) {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => {
            let (soft_before, hard) = before.unwrap_or((soft, soft));
            slog::info!(log, "open files limit"; "soft_before" => soft_before,
                "soft" => soft, "hard" => hard);
        }
        Err(e) => {
            slog::warn!(log, "cannot raise the open files limit"; "error" => %e);
        }
    }
}

/// Body of `/healthz` and `/readyz`.
#[derive(Serialize, JsonSchema)]
struct Health {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    status: &'static str,
}

/// Liveness: the process serves requests. No database call, so an
/// orchestrator does not restart replicas during a database outage (that is
/// what `/readyz` is for).
#[endpoint {
    method = GET,
    path = "/healthz",
    unpublished = true,
}]
async fn healthz(rqctx: RequestContext<ServerState>) -> Result<HttpResponseOk<Health>, ApiError> {
    let alive = async { Ok(HttpResponseOk(Health { status: "ok" })) };
    rqctx.context().metrics.observe("healthz", alive).await
}

/// Readiness: 200 when the database answers and holds every migration this
/// server carries; 503 otherwise (take the replica out of rotation).
#[endpoint {
    method = GET,
    path = "/readyz",
    unpublished = true,
}]
async fn readyz(rqctx: RequestContext<ServerState>) -> Result<HttpResponseOk<Health>, ApiError> {
    let state = rqctx.context();
    let ready = async {
        state
            .store
            .ready()
            .await
            .map_err(|e| state.store_error(e))?;
        Ok(HttpResponseOk(Health { status: "ready" }))
    };
    state.metrics.observe("readyz", ready).await
}

/// The server's OpenAPI document, as FastAPI services serve theirs: the
/// bytes of `crates/feather-api/feather-server.openapi.json`. No key.
#[endpoint {
    method = GET,
    path = "/openapi.json",
    unpublished = true,
}]
async fn openapi_json(
    rqctx: RequestContext<ServerState>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    let document = async {
        body_response(
            dropshot::CONTENT_TYPE_JSON,
            feather_api::EMITTED_DOCUMENT.into(),
        )
    };
    rqctx
        .context()
        .metrics
        .observe("openapi_json", document)
        .await
}

/// Content type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics in Prometheus' text format. No key: serve it on a private
/// listener (`--metrics-bind`) where the API is public.
#[endpoint {
    method = GET,
    path = "/metrics",
    unpublished = true,
}]
async fn metrics_text(
    rqctx: RequestContext<ServerState>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    let state = rqctx.context();
    let scrape = async {
        match state.metrics.render(state.store.as_ref()).await {
            Some(Ok(text)) => body_response(PROMETHEUS_TEXT, text.into()),
            Some(Err(e)) => Err(ApiError::internal(e.to_string())),
            None => Err(ApiError::not_found("Metrics are disabled on this server.")),
        }
    };
    state.metrics.observe("metrics", scrape).await
}

/// A 200 response with `body` of `content_type`.
fn body_response(
    content_type: &str,
    body: dropshot::Body,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body)
        .map_err(|e| ApiError::internal(format!("cannot build the response: {e}")))
}

/// A running server (and its sync engine, if started with one).
pub struct RunningServer {
    server: HttpServer<ServerState>,
    metrics_server: Option<HttpServer<ServerState>>,
    engine: Option<Engine>,
}

impl RunningServer {
    /// The address it listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// `http://ADDR`, or `https://ADDR` when serving TLS.
    pub fn base_url(&self) -> String {
        let scheme = if self.server.using_tls() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.server.local_addr())
    }

    /// `http://ADDR` of the metrics listener, when `/metrics` has its own
    /// ([`MetricsMode::Separate`]).
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_server
            .as_ref()
            .map(|server| format!("http://{}", server.local_addr()))
    }

    /// Stops accepting connections, waits for in-flight requests, then
    /// stops the sync engine (running jobs go back to the queue).
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let mut closed = self.server.close().await.map_err(ServerError::Shutdown);
        if let Some(listener) = self.metrics_server {
            let metrics_closed = listener.close().await.map_err(ServerError::Shutdown);
            closed = closed.and(metrics_closed);
        }
        if let Some(engine) = self.engine {
            engine.shutdown().await;
        }
        closed
    }
}

/// A certificate chain and its private key, PEM files, for serving HTTPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, end-entity certificate first.
    pub cert: std::path::PathBuf,
    /// The PKCS #8 private key.
    pub key: std::path::PathBuf,
}

/// Where `/metrics` is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsMode {
    /// Nothing is recorded, `/metrics` answers 404.
    Off,
    /// On the API's own listener (and scheme).
    Main,
    /// On a separate plain-HTTP listener at this address (and not on the
    /// API's), so it can stay private.
    Separate(SocketAddr),
}

/// How [`start_with`] serves.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The API's address.
    pub bind: SocketAddr,
    /// The sync engine's settings; `None` runs no workers (jobs stay queued
    /// for another replica's).
    pub engine: Option<EngineConfig>,
    /// Serve HTTPS with these files.
    pub tls: Option<TlsFiles>,
    /// Where metrics are served.
    pub metrics: MetricsMode,
}

impl ServeOptions {
    /// Plain HTTP on `bind`, no engine, metrics on the API's listener.
    pub fn new(bind: SocketAddr) -> Self {
        ServeOptions {
            bind,
            engine: None,
            tls: None,
            metrics: MetricsMode::Main,
        }
    }
}

/// Starts serving the Feather API over `store` on `bind`, with a sync
/// engine unless `engine` is `None` (then jobs stay queued for another
/// server's workers), and metrics on the same listener.
pub fn start(
    store: Arc<dyn Store>,
    bind: SocketAddr,
    engine: Option<EngineConfig>,
    log: slog::Logger,
) -> Result<RunningServer, ServerError> {
    let options = ServeOptions {
        engine,
        ..ServeOptions::new(bind)
    };
    start_with(store, options, log)
}

/// Starts serving the Feather API over `store` as `options` say.
pub fn start_with(
    store: Arc<dyn Store>,
    options: ServeOptions,
    log: slog::Logger,
) -> Result<RunningServer, ServerError> {
    let wake = Arc::new(Notify::new());
    let recorded = match options.metrics {
        MetricsMode::Off => Metrics::disabled(),
        MetricsMode::Main | MetricsMode::Separate(_) => Metrics::new()?,
    };
    let mut api = feather_api::feather_api_mod::api_description::<FeatherServerImpl>()
        .map_err(|e| ServerError::Api(e.to_string()))?;
    for (path, registered) in [
        ("/healthz", api.register(healthz)),
        ("/readyz", api.register(readyz)),
        ("/openapi.json", api.register(openapi_json)),
    ] {
        registered.map_err(|e| ServerError::Api(format!("cannot register {path}: {e}")))?;
    }
    if options.metrics == MetricsMode::Main {
        api.register(metrics_text)
            .map_err(|e| ServerError::Api(format!("cannot register /metrics: {e}")))?;
    }
    let bind = options.bind;
    let config = ConfigDropshot {
        bind_address: bind,
        // Neither operation takes a body.
        default_request_body_max_bytes: 1024,
        // A trigger's transaction completes even if the client hangs up.
        default_handler_task_mode: HandlerTaskMode::Detached,
        log_headers: Vec::new(),
        ..Default::default()
    };
    let state = || ServerState::new(store.clone(), wake.clone(), recorded.clone());
    // Both listeners are bound before either serves: if the second address
    // is taken, nothing is left serving behind the error.
    let starter = ServerBuilder::new(api, state(), log.clone())
        .config(config.clone())
        .tls(options.tls.map(|files| dropshot::ConfigTls::AsFile {
            cert_file: files.cert,
            key_file: files.key,
        }))
        .build_starter()
        .map_err(|source| ServerError::Listen { bind, source })?;
    let metrics_starter = match options.metrics {
        MetricsMode::Separate(metrics_bind) => {
            let mut api = dropshot::ApiDescription::new();
            api.register(metrics_text)
                .map_err(|e| ServerError::Api(format!("cannot register /metrics: {e}")))?;
            let config = ConfigDropshot {
                bind_address: metrics_bind,
                ..config
            };
            let log = log.new(slog::o!("listener" => "metrics"));
            let starter = ServerBuilder::new(api, state(), log)
                .config(config)
                .build_starter()
                .map_err(|source| ServerError::Listen {
                    bind: metrics_bind,
                    source,
                })?;
            Some(starter)
        }
        MetricsMode::Off | MetricsMode::Main => None,
    };
    let server = starter.start();
    let metrics_server = metrics_starter.map(|starter| starter.start());
    let engine = options.engine.map(|config| {
        Engine::start(
            store,
            config,
            wake,
            recorded,
            log.new(slog::o!("component" => "sync")),
        )
    });
    Ok(RunningServer {
        server,
        metrics_server,
        engine,
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
