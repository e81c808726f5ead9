//! A typed Rust client for the Feather API knowledge-base sync operations.
//!
//! The client is generated at build time by progenitor from the checked-in
//! upstream contract `openapi.json` (see `build.rs` and
//! `crates/feather-codegen`); this file adds the hand-written part: a
//! constructor that authenticates every request, environment configuration
//! and error helpers.
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

/// How long a request may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

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
    /// A client for the server at `base_url` (e.g. `http://localhost:8000`)
    /// that sends `api_key` in the `x-api-key` header of every request.
    ///
    /// The header value is marked sensitive, so it never appears in `Debug`
    /// output or in reqwest's logs.
    pub fn with_api_key(base_url: &str, api_key: &str) -> Result<Self, ConfigError> {
        let base_url = normalize_base_url(base_url)?;
        let mut key = HeaderValue::from_str(api_key).map_err(|_| ConfigError::InvalidApiKey)?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(API_KEY_HEADER, key);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(REQUEST_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(Self::new_with_client(&base_url, http))
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
