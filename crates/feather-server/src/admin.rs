//! Operator commands (`feather-server admin ...`): create and list tenants,
//! keys, knowledge bases and sources directly in the database.
//!
//! Each command returns a serializable value; the CLI prints it as JSON with
//! `--json` or as text otherwise.

use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::issue_key;
use crate::demo::{DemoData, seed_demo};
use crate::store::{Store, StoreError};

/// An admin command.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Seed the demo organizations, keys, knowledge bases and sources.
    SeedDemo,
    /// Write a consistent copy of a SQLite database to a new file, while
    /// servers keep using it (PostgreSQL: use pg_dump).
    Backup {
        /// The new file.
        path: std::path::PathBuf,
    },
    /// Create an organization.
    CreateOrg {
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// Create an API key for an organization; the key is printed once.
    CreateKey {
        /// The organization.
        #[arg(long)]
        org: Uuid,
        /// Display name of the key.
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// Revoke an API key by its id (see `list keys`); takes effect within a second.
    RevokeKey {
        /// Key id (the 8 characters after `fth_`).
        id: String,
    },
    /// Create a knowledge base.
    CreateKb {
        /// The owning organization.
        #[arg(long)]
        org: Uuid,
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// Create a connector source.
    CreateSource {
        /// The knowledge base.
        #[arg(long)]
        kb: Uuid,
        /// Display name.
        #[arg(long)]
        name: String,
        /// notion, google_drive, s3, url, local or synthetic.
        #[arg(long)]
        provider: String,
        /// Provider configuration, a JSON object.
        #[arg(long, default_value = "{}")]
        config: String,
    },
    /// Bulk-load synthetic sources with completed-job history (capacity
    /// tests, benchmarks).
    SeedHistory {
        /// The knowledge base.
        #[arg(long)]
        kb: Uuid,
        /// How many sources to create.
        #[arg(long)]
        sources: u64,
        /// Completed jobs per source.
        #[arg(long, default_value_t = 10)]
        jobs_per_source: u64,
        /// Source names are `PREFIX #N`.
        #[arg(long, default_value = "history")]
        prefix: String,
    },
    /// List rows of one kind.
    List {
        /// What to list.
        what: ListKind,
        /// Only this organization's (keys, kbs).
        #[arg(long)]
        org: Option<Uuid>,
        /// Only this knowledge base's (sources).
        #[arg(long)]
        kb: Option<Uuid>,
        /// The source whose jobs to list (jobs).
        #[arg(long)]
        source: Option<Uuid>,
    },
}

/// Row kinds for `admin list`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ListKind {
    /// Organizations.
    Orgs,
    /// API keys (never the keys themselves).
    Keys,
    /// Knowledge bases.
    Kbs,
    /// Connector sources.
    Sources,
    /// Sync jobs of one source.
    Jobs,
}

/// What a command produced.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AdminOutput {
    /// The demo.
    Demo(DemoData),
    /// A new key, with its record.
    NewKey {
        /// The key: shown now, never again.
        api_key: String,
        /// Its lookup id.
        id: String,
        /// Its organization.
        org_id: Uuid,
    },
    /// Revocation result.
    Revoked {
        /// The key id.
        id: String,
        /// Whether a live key was revoked.
        revoked: bool,
    },
    /// Any row or list of rows.
    Rows(Value),
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command's arguments are not usable.
    #[error("{0}")]
    Usage(String),
    /// The result could not be rendered as JSON.
    #[error("cannot render the result as JSON")]
    Render(#[source] serde_json::Error),
}

fn rows<T: Serialize>(value: T) -> Result<AdminOutput, AdminError> {
    serde_json::to_value(value)
        .map(AdminOutput::Rows)
        .map_err(AdminError::Render)
}

/// Runs `command` against `store`.
pub async fn run(store: &dyn Store, command: AdminCommand) -> Result<AdminOutput, AdminError> {
    match command {
        AdminCommand::SeedDemo => Ok(AdminOutput::Demo(seed_demo(store).await?)),
        AdminCommand::Backup { path } => {
            let bytes = store.backup(&path).await?;
            rows(serde_json::json!({ "backup": path, "bytes": bytes }))
        }
        AdminCommand::CreateOrg { name } => rows(store.create_organization(&name).await?),
        AdminCommand::CreateKey { org, name } => {
            let (api_key, record) = issue_key(store, org, &name).await?;
            Ok(AdminOutput::NewKey {
                api_key,
                id: record.id,
                org_id: record.org_id,
            })
        }
        AdminCommand::RevokeKey { id } => {
            let revoked = store.revoke_api_key(&id).await?;
            Ok(AdminOutput::Revoked { id, revoked })
        }
        AdminCommand::CreateKb { org, name } => {
            rows(store.create_knowledge_base(org, &name).await?)
        }
        AdminCommand::CreateSource {
            kb,
            name,
            provider,
            config,
        } => {
            let config: Value = serde_json::from_str(&config)
                .map_err(|e| AdminError::Usage(format!("--config is not valid JSON: {e}")))?;
            rows(store.create_source(kb, &name, &provider, &config).await?)
        }
        AdminCommand::SeedHistory {
            kb,
            sources,
            jobs_per_source,
            prefix,
        } => {
            let ids = store
                .seed_history(kb, &prefix, sources, jobs_per_source)
                .await?;
            rows(serde_json::json!({
                "kb_id": kb,
                "sources": ids.len(),
                "jobs": ids.len() as u64 * jobs_per_source,
            }))
        }
        AdminCommand::List {
            what,
            org,
            kb,
            source,
        } => match what {
            ListKind::Orgs => rows(store.list_organizations().await?),
            ListKind::Keys => rows(store.list_api_keys(org).await?),
            ListKind::Kbs => rows(store.list_knowledge_bases(org).await?),
            ListKind::Sources => rows(store.list_sources(kb).await?),
            ListKind::Jobs => {
                let source = source
                    .ok_or_else(|| AdminError::Usage("`list jobs` needs --source ID".into()))?;
                rows(store.list_jobs(source).await?)
            }
        },
    }
}

/// Human-readable rendering of an output.
pub fn render_text(output: &AdminOutput) -> String {
    match output {
        AdminOutput::Demo(demo) => {
            let mut out = format!(
                "org {}\nkb {}\napi key (shown once): {}\nother tenant's key: {}\n",
                demo.org_id, demo.kb_id, demo.api_key, demo.other_api_key
            );
            for s in &demo.sources {
                out.push_str(&format!("source {} {} ({})\n", s.id, s.name, s.provider));
            }
            out
        }
        AdminOutput::NewKey {
            api_key,
            id,
            org_id,
        } => {
            format!("key id {id} for org {org_id}\napi key (shown once, store it now): {api_key}\n")
        }
        AdminOutput::Revoked { id, revoked: true } => format!("revoked key {id}\n"),
        AdminOutput::Revoked { id, revoked: false } => {
            format!("no live key with id {id} (unknown or already revoked)\n")
        }
        AdminOutput::Rows(Value::Array(items)) if items.is_empty() => "(none)\n".into(),
        AdminOutput::Rows(Value::Array(items)) => items.iter().map(render_row).collect(),
        AdminOutput::Rows(row) => render_row(row),
    }
}

/// One row as `key=value` pairs on a line.
fn render_row(row: &Value) -> String {
    match row {
        Value::Object(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect();
            format!("{}\n", parts.join("  "))
        }
        other => format!("{other}\n"),
    }
}
