//! Demo data: two organizations, so that both a working setup and tenant
//! isolation can be tried right away.
//!
//! The first organization has a knowledge base with `synthetic` sources whose
//! names say how long a sync takes (`fast-…` about a second, `slow-…` about
//! 30 s) and one with failing items; the second has a knowledge base of its
//! own, and its key (`other_api_key`) must not see the first one's.

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::issue_key;
use crate::store::{Store, StoreResult};

/// One demo source.
#[derive(Clone, Debug, Serialize)]
pub struct DemoSource {
    /// Source id.
    pub id: Uuid,
    /// Name; contains `fast` or `slow` for the timed ones.
    pub name: String,
    /// Provider.
    pub provider: String,
}

/// What `admin seed-demo --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct DemoData {
    /// Key of the first organization (shown only now).
    pub api_key: String,
    /// The first organization.
    pub org_id: Uuid,
    /// Its knowledge base.
    pub kb_id: Uuid,
    /// Its sources.
    pub sources: Vec<DemoSource>,
    /// Key of the second organization, which owns a knowledge base of its own.
    pub other_api_key: String,
}

/// The first organization's sources: name and `synthetic` config.
fn demo_sources() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        // 20 items x 50 ms: about a second.
        ("fast-synthetic", json!({"items": 20, "item_delay_ms": 50})),
        // 300 items x 100 ms: about 30 s, to watch progress.
        (
            "slow-synthetic",
            json!({"items": 300, "item_delay_ms": 100}),
        ),
        // One item in five fails: ends in partial_failure.
        (
            "flaky-synthetic",
            json!({"items": 50, "item_delay_ms": 20, "failure_rate": 0.2}),
        ),
    ]
}

/// Seeds the demo into `store` (which may already hold other data).
pub async fn seed_demo(store: &dyn Store) -> StoreResult<DemoData> {
    let org = store.create_organization("Demo Org").await?;
    let (api_key, _) = issue_key(store, org.id, "demo").await?;
    let kb = store
        .create_knowledge_base(org.id, "Demo knowledge base")
        .await?;
    let mut sources = Vec::new();
    for (name, config) in demo_sources() {
        let source = store
            .create_source(kb.id, name, "synthetic", &config)
            .await?;
        sources.push(DemoSource {
            id: source.id,
            name: source.name,
            provider: source.provider,
        });
    }

    let other = store.create_organization("Other Org").await?;
    let (other_api_key, _) = issue_key(store, other.id, "demo").await?;
    let other_kb = store
        .create_knowledge_base(other.id, "Other knowledge base")
        .await?;
    store
        .create_source(
            other_kb.id,
            "other-fast-synthetic",
            "synthetic",
            &json!({"items": 20, "item_delay_ms": 50}),
        )
        .await?;

    Ok(DemoData {
        api_key,
        org_id: org.id,
        kb_id: kb.id,
        sources,
        other_api_key,
    })
}

/// How to call the demo with curl, for `base_url`.
pub fn curl_lines(demo: &DemoData, base_url: &str) -> String {
    let mut out = String::new();
    let base = base_url.trim_end_matches('/');
    out.push_str(&format!(
        "Demo data seeded. API key (shown once): {}\n",
        demo.api_key
    ));
    out.push_str(&format!(
        "Another tenant's key (sees none of this): {}\n\n",
        demo.other_api_key
    ));
    for source in &demo.sources {
        let path = format!(
            "{base}/v1/knowledge-base/knowledge-bases/{}/sources/{}/sync",
            demo.kb_id, source.id
        );
        out.push_str(&format!("# {} ({})\n", source.name, source.provider));
        out.push_str(&format!(
            "curl -s -X POST -H 'x-api-key: {}' {path}\n",
            demo.api_key
        ));
        out.push_str(&format!(
            "curl -s -H 'x-api-key: {}' {path}/status\n\n",
            demo.api_key
        ));
    }
    out
}
