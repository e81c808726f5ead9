//! `url`: a same-origin web crawl from root URLs.
//!
//! Config: `{"roots": ["https://docs.example.com/"], "max_pages": 100, "max_depth": 3,
//! "include": ["/docs/**"], "exclude": ["/docs/private/**"], "timeout_ms": 10000,
//! "max_page_bytes": 5242880}`.
//!
//! Breadth-first from the roots; a link is followed when it is http(s), has
//! the origin of one of the roots, and its path matches `include` (if given)
//! and not `exclude`. Redirects are followed within the origin (up to 5 hops);
//! an off-site redirect, an HTTP error status, a non-HTML answer, an
//! oversized page and a timeout each fail that page only. When `max_pages`
//! stops the crawl from following a link, the run is incomplete and the
//! engine keeps documents it did not see.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::redirect::{Attempt, Policy};
use serde::Deserialize;
use url::Url;

use crate::{
    Completion, Connector, ConnectorError, Event, Events, Item, ItemFailure, emit, glob_set,
};

/// Redirect hops followed per page.
const MAX_REDIRECTS: usize = 5;

/// The `url` provider's config.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Where the crawl starts; each root's origin may be crawled.
    pub roots: Vec<String>,
    /// Most pages (including roots) one run visits.
    #[serde(default = "default_max_pages")]
    pub max_pages: usize,
    /// Link hops from a root.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// Path globs a link must match (all paths if empty).
    #[serde(default)]
    pub include: Vec<String>,
    /// Path globs a link must not match.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Per-page time limit, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Larger pages fail as items.
    #[serde(default = "default_max_page_bytes")]
    pub max_page_bytes: usize,
}

fn default_max_pages() -> usize {
    100
}
fn default_max_depth() -> usize {
    3
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_max_page_bytes() -> usize {
    5 << 20
}

/// The `url` connector.
#[derive(Debug)]
pub struct Crawler {
    config: WebConfig,
    roots: Vec<Url>,
    include: Option<globset::GlobSet>,
    exclude: globset::GlobSet,
    client: reqwest::Client,
}

/// Follows a redirect only within the origin it started from.
fn same_origin_redirects(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let same_origin = attempt
        .previous()
        .first()
        .is_some_and(|first| first.origin() == attempt.url().origin());
    if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error("too many redirects")
    } else if same_origin {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

impl Crawler {
    /// Validates `config` and builds the HTTP client.
    pub fn from_config(config: &serde_json::Value) -> Result<Self, ConnectorError> {
        let config: WebConfig = crate::parse_config("url", config)?;
        let invalid = |message: String| ConnectorError::Config {
            provider: "url".into(),
            message,
        };
        if config.roots.is_empty() {
            return Err(invalid("roots must list at least one URL".into()));
        }
        let mut roots = Vec::new();
        for root in &config.roots {
            let url = Url::parse(root).map_err(|e| invalid(format!("root {root:?}: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(format!("root {root:?} is not an http(s) URL")));
            }
            roots.push(normalize(url));
        }
        if config.max_pages == 0 {
            return Err(invalid("max_pages must be at least 1".into()));
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("feather-sync/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(Policy::custom(same_origin_redirects))
            .build()
            .map_err(|e| ConnectorError::Failed(format!("cannot build an HTTP client: {e}")))?;
        Ok(Crawler {
            include: if config.include.is_empty() {
                None
            } else {
                Some(glob_set("url", &config.include)?)
            },
            exclude: glob_set("url", &config.exclude)?,
            roots,
            config,
            client,
        })
    }

    /// Whether a link (already absolute) is part of this crawl.
    fn in_scope(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https")
            && self.roots.iter().any(|r| r.origin() == url.origin())
            && self.include.as_ref().is_none_or(|g| g.is_match(url.path()))
            && !self.exclude.is_match(url.path())
    }

    /// Fetches one page: its item and its links, or why it failed.
    async fn fetch(&self, url: &Url) -> Result<(Item, Vec<String>, Url), String> {
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.describe(e))?;
        let status = response.status();
        if status.is_redirection() {
            let target = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            return Err(format!("redirected off-site to {target}"));
        }
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !(content_type.starts_with("text/html")
            || content_type.starts_with("application/xhtml+xml"))
        {
            let shown = if content_type.is_empty() {
                "none"
            } else {
                &content_type
            };
            return Err(format!("not HTML (content-type {shown})"));
        }
        let limit = self.config.max_page_bytes;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.describe(e))? {
            if body.len() + chunk.len() > limit {
                return Err(format!("page is over the {limit}-byte limit"));
            }
            body.extend_from_slice(&chunk);
        }
        let final_url = normalize(response.url().clone());
        let page = crate::html::extract(&String::from_utf8_lossy(&body));
        let item = Item::new(url.to_string(), page.title, page.text, body.len() as u64);
        Ok((item, page.links, final_url))
    }

    fn describe(&self, e: reqwest::Error) -> String {
        if e.is_timeout() {
            format!("timed out after {} ms", self.config.timeout_ms)
        } else if e.is_redirect() {
            "too many redirects".into()
        } else if e.is_connect() {
            "could not connect".into()
        } else {
            e.without_url().to_string()
        }
    }
}

/// A URL without its fragment (the same page).
fn normalize(mut url: Url) -> Url {
    url.set_fragment(None);
    url
}

#[async_trait]
impl Connector for Crawler {
    async fn run(&self, events: Events) -> Result<Completion, ConnectorError> {
        // Items: URLs queued or fetched. `landed`: where fetches ended up
        // after redirects, so a redirect target is not crawled twice.
        let mut seen: HashSet<Url> = HashSet::new();
        let mut landed: HashSet<Url> = HashSet::new();
        let mut queue = VecDeque::new();
        let mut complete = true;
        for root in &self.roots {
            if seen.contains(root) {
                continue;
            }
            if seen.len() >= self.config.max_pages {
                complete = false;
                continue;
            }
            seen.insert(root.clone());
            queue.push_back((root.clone(), 0usize));
        }
        emit(&events, Event::Total(seen.len() as u64)).await?;
        while let Some((url, depth)) = queue.pop_front() {
            let event = match self.fetch(&url).await {
                Ok((item, links, final_url)) => {
                    let before = seen.len();
                    if depth < self.config.max_depth {
                        for link in links {
                            let Ok(link) = final_url.join(&link).map(normalize) else {
                                continue;
                            };
                            if !self.in_scope(&link)
                                || seen.contains(&link)
                                || landed.contains(&link)
                            {
                                continue;
                            }
                            if seen.len() >= self.config.max_pages {
                                complete = false;
                                continue;
                            }
                            seen.insert(link.clone());
                            queue.push_back((link, depth + 1));
                        }
                    }
                    landed.insert(final_url);
                    if seen.len() != before {
                        emit(&events, Event::Total(seen.len() as u64)).await?;
                    }
                    Event::Item(item)
                }
                Err(reason) => Event::Failed(ItemFailure {
                    external_id: url.to_string(),
                    reason,
                }),
            };
            emit(&events, event).await?;
        }
        Ok(Completion { complete })
    }
}
