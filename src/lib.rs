//! A typed Rust client for the Feather API knowledge-base sync operations.
//!
//! The client is generated at build time by progenitor from the checked-in
//! upstream contract `openapi.json` (see `build.rs` and
//! `crates/feather-codegen`); the hand-written part is a [`ClientBuilder`]
//! (API key on every request, timeouts, retry and polling settings),
//! environment configuration, error helpers and, in [`wait`], what every
//! integration writes otherwise: trigger a sync and wait for its end
//! ([`Client::trigger_and_wait`]), follow one as a stream
//! ([`Client::watch_sync`]), with retries across restarts and `503`s. With
//! the `mock` feature, [`mock`] has progenitor's typed `httpmock` helpers
//! for users' own tests.
//!
//! Every operation is a builder; `send()` returns the typed body, or an
//! [`Error`] whose `ErrorResponse` variant carries the HTTP status and the
//! parsed body for *every* 4xx/5xx status: the upstream `ErrorResponse`
//! (`error`, `message`) for 401, 404, 409 and the like, and the typed
//! [`types::HttpValidationError`] for 422.
//!
//! ```no_run
//! use feather_client::{ApiError, Client, Error};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::with_api_key("http://localhost:8000", "fth_...")?;
//! let kb_id = uuid::Uuid::new_v4();
//! let source_id = uuid::Uuid::new_v4();
//! match client.get_sync_status().kb_id(kb_id).source_id(source_id).send().await {
//!     Ok(status) => println!("{} of {:?}", status.source_status, status.total_items),
//!     Err(Error::ErrorResponse(response)) => {
//!         let status = response.status();
//!         match response.into_inner() {
//!             ApiError::ErrorResponse(body) => println!("{status}: {}", body.message),
//!             ApiError::HttpValidationError(body) => println!("{status}: {body:?}"),
//!         }
//!     }
//!     Err(other) => return Err(other.into()),
//! }
//! # Ok(())
//! # }
//! ```

mod generated {
    include!(concat!(env!("OUT_DIR"), "/feather_client.rs"));
}

#[cfg(feature = "mock")]
pub mod mock;
pub mod wait;

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

pub use generated::{
    ByteStream, Client, ClientInfo, Error, ResponseValue, builder, prelude, types,
};

/// The body of any error response of the Feather API: the platform's
/// `ErrorResponse` or, for 422, FastAPI's validation error.
pub type ApiError = types::ErrorResponseOrHttpValidationError;

/// The header that carries the API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Environment variable with the server's base URL.
pub const BASE_URL_ENV: &str = "FEATHER_BASE_URL";

/// Environment variable with the API key.
pub const API_KEY_ENV: &str = "FEATHER_API_KEY";

/// The base URL [`Client::from_env`] uses when [`BASE_URL_ENV`] is unset.
pub const DEFAULT_BASE_URL: &str = "http://localhost:8000";

/// How long a request may take, connection included (the default).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// How long connecting may take (the default).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub use wait::{PollPolicy, RetryPolicy, SyncOutcome, Triggered, WaitError};

/// What a [`Client`] carries beyond its HTTP client: how the library's
/// waiting calls retry and poll (progenitor's inner type; `client.inner()`).
#[derive(Clone, Debug, Default)]
pub struct ClientState {
    /// Retries of status reads and of triggers (see [`wait`]).
    pub retry: RetryPolicy,
    /// Polling while a sync runs.
    pub poll: PollPolicy,
}

/// Builds a [`Client`]: base URL, API key, timeouts, retries, polling.
///
/// ```
/// use std::time::Duration;
/// use feather_client::{Client, RetryPolicy};
///
/// let client = Client::builder("http://localhost:8000")
///     .api_key("fth_...")
///     .connect_timeout(Duration::from_secs(2))
///     .request_timeout(Duration::from_secs(10))
///     .retry(RetryPolicy::default().max_retries(10))
///     .build()?;
/// # let _ = client;
/// # Ok::<(), feather_client::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    base_url: String,
    api_key: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
    state: ClientState,
}

impl ClientBuilder {
    /// The key sent in `x-api-key` with every request.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// How long connecting may take (default [`CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one request may take, connection included (default
    /// [`REQUEST_TIMEOUT`]).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How the waiting calls retry ([`RetryPolicy::default`]: on;
    /// [`RetryPolicy::none`]: off).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.state.retry = retry;
        self
    }

    /// How the waiting calls poll ([`PollPolicy::default`]: 200 ms to 2 s,
    /// no deadline).
    pub fn poll(mut self, poll: PollPolicy) -> Self {
        self.state.poll = poll;
        self
    }

    /// The client. The key header is marked sensitive, so it never appears
    /// in `Debug` output or in reqwest's logs.
    pub fn build(self) -> Result<Client, ConfigError> {
        let base_url = normalize_base_url(&self.base_url)?;
        let mut headers = HeaderMap::new();
        if let Some(api_key) = &self.api_key {
            let mut key = HeaderValue::from_str(api_key).map_err(|_| ConfigError::InvalidApiKey)?;
            key.set_sensitive(true);
            headers.insert(API_KEY_HEADER, key);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .build()?;
        Ok(Client::new_with_client(&base_url, http, self.state))
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The base URL is not an absolute http(s) URL.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key contains characters an HTTP header cannot carry.
    #[error("the API key is not a valid header value (it must be visible ASCII)")]
    InvalidApiKey,
    /// `FEATHER_API_KEY` is unset or empty.
    #[error("no API key: set {API_KEY_ENV}")]
    MissingApiKey,
    /// The HTTP client could not be built (e.g. no TLS backend).
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

impl Client {
    /// A [`ClientBuilder`] for the server at `base_url` (e.g.
    /// `http://localhost:8000`), with the default timeouts, retries and
    /// polling.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            api_key: None,
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            state: ClientState::default(),
        }
    }

    /// A client for the server at `base_url` that sends `api_key` in the
    /// `x-api-key` header of every request, with the defaults of
    /// [`Client::builder`].
    pub fn with_api_key(base_url: &str, api_key: &str) -> Result<Self, ConfigError> {
        Self::builder(base_url).api_key(api_key).build()
    }

    /// A client configured from `FEATHER_BASE_URL` (default
    /// `http://localhost:8000`) and `FEATHER_API_KEY` (required).
    pub fn from_env() -> Result<Self, ConfigError> {
        let base_url = std::env::var(BASE_URL_ENV).unwrap_or_else(|_| DEFAULT_BASE_URL.to_owned());
        let api_key = std::env::var(API_KEY_ENV)
            .ok()
            .filter(|key| !key.is_empty())
            .ok_or(ConfigError::MissingApiKey)?;
        Self::with_api_key(&base_url, &api_key)
    }
}

/// Checks that the URL is absolute http(s) and drops a trailing slash, which
/// would otherwise double the slash before every operation path.
fn normalize_base_url(base_url: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidBaseUrl {
        url: base_url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(base_url).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment"));
    }
    Ok(base_url.trim_end_matches('/').to_owned())
}

impl ApiError {
    /// The human-readable message: the `message` of an `ErrorResponse`, or
    /// the validation errors as `loc: msg` lines joined by `; `.
    pub fn message(&self) -> String {
        match self {
            Self::ErrorResponse(body) => body.message.clone(),
            Self::HttpValidationError(body) => body
                .detail
                .iter()
                .map(|error| {
                    let location: Vec<String> = error.loc.iter().map(ToString::to_string).collect();
                    format!("{}: {}", location.join("."), error.msg)
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalized() {
        assert_eq!(
            normalize_base_url("http://localhost:8000/").ok().as_deref(),
            Some("http://localhost:8000")
        );
        assert_eq!(
            normalize_base_url("https://api.example.com/feather")
                .ok()
                .as_deref(),
            Some("https://api.example.com/feather")
        );
        for bad in ["localhost:8000", "ftp://x", "", "http://x/?a=b"] {
            assert!(
                matches!(
                    normalize_base_url(bad),
                    Err(ConfigError::InvalidBaseUrl { .. })
                ),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn api_keys_must_be_header_values() {
        assert!(matches!(
            Client::with_api_key("http://localhost:8000", "fth_\nnewline"),
            Err(ConfigError::InvalidApiKey)
        ));
    }
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
