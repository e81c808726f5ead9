//! Sync connectors: each enumerates one provider's items and turns them into
//! text documents, reporting per-item failures without stopping.
//!
//! A connector is built from a source's `provider` and JSON `config` by
//! [`for_source`] and run with [`Connector::run`], which sends [`Event`]s to
//! the sync engine: the number of items found so far (it may grow while a
//! crawl discovers more), then one [`Item`] or [`ItemFailure`] per item. The
//! engine owns storage, progress and retries; connectors own only I/O with
//! their provider.
//!
//! | provider | module | items |
//! | --- | --- | --- |
//! | `url` | [`web`] | same-origin pages crawled from root URLs |
//! | `local` | [`local`] | text, Markdown and HTML files under a directory |
//! | `synthetic` | [`synthetic`] | generated items, optional delay and failure rate |
//! | `notion`, `google_drive`, `s3` | — | accepted as sources; syncing fails fast |

pub mod html;
pub mod local;
pub mod synthetic;
pub mod web;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// One ingested item, as a text document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Stable id within the source (a URL, a relative path, ...).
    pub external_id: String,
    /// Title, when the item has one.
    pub title: Option<String>,
    /// Extracted text.
    pub text: String,
    /// Size of the raw item in bytes.
    pub size_bytes: u64,
    /// Hex SHA-256 of `text`: what incremental re-syncs compare.
    pub content_hash: String,
}

impl Item {
    /// An item whose hash is computed from `text`.
    pub fn new(external_id: String, title: Option<String>, text: String, size_bytes: u64) -> Self {
        let content_hash = content_hash(&text);
        Item {
            external_id,
            title,
            text,
            size_bytes,
            content_hash,
        }
    }
}

/// An item that could not be ingested; the sync goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemFailure {
    /// The item's id within the source.
    pub external_id: String,
    /// Why, in one line (no secrets).
    pub reason: String,
}

/// What a running connector reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Items found so far (never decreases).
    Total(u64),
    /// An item was read.
    Item(Item),
    /// An item failed.
    Failed(ItemFailure),
}

/// How a run ended when it did not fail as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Whether every item of the source was enumerated (false when a limit
    /// such as `max_pages` cut the run short). Only a complete run may
    /// delete documents that were not seen.
    pub complete: bool,
}

/// Why a connector could not run (as opposed to one item failing).
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The source's config is invalid for its provider.
    #[error("invalid {provider} config: {message}")]
    Config {
        /// The provider.
        provider: String,
        /// What is wrong.
        message: String,
    },
    /// This server cannot reach the provider at all.
    #[error("{0}")]
    Unsupported(String),
    /// The provider failed as a whole (e.g. the root directory is missing).
    #[error("{0}")]
    Failed(String),
    /// The receiver went away: the engine is stopping this run.
    #[error("the sync was cancelled")]
    Cancelled,
}

/// Channel end a connector reports to.
pub type Events = mpsc::Sender<Event>;

/// Sends `event`, turning a closed channel into [`ConnectorError::Cancelled`].
pub async fn emit(events: &Events, event: Event) -> Result<(), ConnectorError> {
    events
        .send(event)
        .await
        .map_err(|_| ConnectorError::Cancelled)
}

/// A provider's item enumeration.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Enumerates every item, sending events as it goes.
    async fn run(&self, events: Events) -> Result<Completion, ConnectorError>;
}

/// Builds the connector for a source; config errors are reported now, not
/// halfway through a sync.
pub fn for_source(
    provider: &str,
    config: &serde_json::Value,
) -> Result<Box<dyn Connector>, ConnectorError> {
    match provider {
        "synthetic" => Ok(Box::new(synthetic::Synthetic::from_config(config)?)),
        "local" => Ok(Box::new(local::Local::from_config(config)?)),
        "url" => Ok(Box::new(web::Crawler::from_config(config)?)),
        "notion" | "google_drive" | "s3" => Err(ConnectorError::Unsupported(format!(
            "this server cannot reach the {provider} provider; \
             sources of this kind sync only on the Feather platform"
        ))),
        other => Err(ConnectorError::Unsupported(format!(
            "unknown provider {other:?}"
        ))),
    }
}

/// Parses a provider config, naming the provider and the bad field.
pub(crate) fn parse_config<T: serde::de::DeserializeOwned>(
    provider: &str,
    config: &serde_json::Value,
) -> Result<T, ConnectorError> {
    serde_json::from_value(config.clone()).map_err(|e| ConnectorError::Config {
        provider: provider.to_owned(),
        message: e.to_string(),
    })
}

/// Hex SHA-256 of a document's text.
pub fn content_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compiles glob patterns into one set, naming a bad pattern.
pub(crate) fn glob_set(
    provider: &str,
    patterns: &[String],
) -> Result<globset::GlobSet, ConnectorError> {
    let mut builder = globset::GlobSetBuilder::new();
    for pattern in patterns {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| ConnectorError::Config {
                provider: provider.to_owned(),
                message: format!("bad pattern {pattern:?}: {e}"),
            })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| ConnectorError::Config {
        provider: provider.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_only_providers_fail_fast_with_a_clear_reason() {
        for provider in ["notion", "google_drive", "s3"] {
            let Err(e) = for_source(provider, &serde_json::json!({})) else {
                panic!("{provider} must not build a connector");
            };
            assert!(e.to_string().contains("cannot reach the"), "{e}");
        }
    }

    #[test]
    fn bad_configs_name_the_provider_and_field() {
        let Err(e) = for_source("synthetic", &serde_json::json!({"items": "many"})) else {
            panic!("a string item count must be rejected");
        };
        assert!(e.to_string().starts_with("invalid synthetic config"), "{e}");
        let Err(e) = for_source("url", &serde_json::json!({"roots": []})) else {
            panic!("no roots must be rejected");
        };
        assert!(e.to_string().contains("roots"), "{e}");
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            content_hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
