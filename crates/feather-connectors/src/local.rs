//! `local`: text, Markdown and HTML files under a directory.
//!
//! Config: `{"root": "/srv/docs", "include": ["**/*.md"], "exclude": ["drafts/**"],
//! "max_file_bytes": 10485760}`. Patterns are globs on the path relative to
//! `root` (`/`-separated, `*` does not cross `/`); the relative path is the
//! item's id. HTML files are reduced to their text; other files must be UTF-8.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;

use crate::{
    Completion, Connector, ConnectorError, Event, Events, Item, ItemFailure, emit, glob_set,
};

/// The `local` provider's config.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// The directory to sync.
    pub root: PathBuf,
    /// Files to take (default: text, Markdown and HTML).
    #[serde(default = "default_include")]
    pub include: Vec<String>,
    /// Files to leave out, even when included.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Larger files fail as items.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
}

fn default_include() -> Vec<String> {
    [
        "**/*.txt",
        "**/*.md",
        "**/*.markdown",
        "**/*.html",
        "**/*.htm",
    ]
    .map(String::from)
    .to_vec()
}

fn default_max_file_bytes() -> u64 {
    10 << 20
}

/// The `local` connector.
#[derive(Debug)]
pub struct Local {
    config: LocalConfig,
    include: globset::GlobSet,
    exclude: globset::GlobSet,
}

impl Local {
    /// Validates `config` (patterns compile; the root is checked when run).
    pub fn from_config(config: &serde_json::Value) -> Result<Self, ConnectorError> {
        let config: LocalConfig = crate::parse_config("local", config)?;
        Ok(Local {
            include: glob_set("local", &config.include)?,
            exclude: glob_set("local", &config.exclude)?,
            config,
        })
    }

    async fn read(&self, id: &str) -> Result<Item, String> {
        let path = self.config.root.join(id);
        let metadata = tokio::fs::metadata(&path)
            .await
            .map_err(|e| format!("cannot read: {e}"))?;
        if metadata.len() > self.config.max_file_bytes {
            return Err(format!(
                "{} bytes is over the {}-byte limit",
                metadata.len(),
                self.config.max_file_bytes
            ));
        }
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| format!("cannot read: {e}"))?;
        let size = bytes.len() as u64;
        let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
        let is_html = id.ends_with(".html") || id.ends_with(".htm");
        Ok(if is_html {
            let page = crate::html::extract(&text);
            Item::new(id.to_owned(), page.title, page.text, size)
        } else {
            Item::new(id.to_owned(), None, text, size)
        })
    }
}

/// Relative ids of the files to sync under `root`, sorted (blocking I/O).
fn enumerate(
    root: &Path,
    include: &globset::GlobSet,
    exclude: &globset::GlobSet,
) -> Result<Vec<String>, ConnectorError> {
    if !root.is_dir() {
        return Err(ConnectorError::Failed(format!(
            "{} is not a readable directory",
            root.display()
        )));
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        // Unreadable subdirectories are skipped; their files are not
        // enumerated, so they cannot be reported per item.
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(relative) = relative_id(root, entry.path()) else {
            continue;
        };
        if include.is_match(&relative) && !exclude.is_match(&relative) {
            files.push(relative);
        }
    }
    Ok(files)
}

/// `path` relative to `root`, `/`-separated; `None` if not valid UTF-8.
fn relative_id(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

#[async_trait]
impl Connector for Local {
    async fn run(&self, events: Events) -> Result<Completion, ConnectorError> {
        let (root, include, exclude) = (
            self.config.root.clone(),
            self.include.clone(),
            self.exclude.clone(),
        );
        let files = tokio::task::spawn_blocking(move || enumerate(&root, &include, &exclude))
            .await
            .map_err(|e| ConnectorError::Failed(format!("directory walk failed: {e}")))??;
        emit(&events, Event::Total(files.len() as u64)).await?;
        for id in files {
            let event = match self.read(&id).await {
                Ok(item) => Event::Item(item),
                Err(reason) => Event::Failed(ItemFailure {
                    external_id: id,
                    reason,
                }),
            };
            emit(&events, event).await?;
        }
        Ok(Completion { complete: true })
    }
}
