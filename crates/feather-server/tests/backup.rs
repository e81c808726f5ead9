//! `feather-server admin backup`: a consistent copy of a live SQLite
//! database, taken while a server keeps acknowledging triggers.

mod common;

use std::path::Path;

use feather_test_support::poll;
use serde_json::json;
use sqlx::Connection as _;
use uuid::Uuid;

use common::{TestDb, admin, spawn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_traffic_holds_every_job_acknowledged_before_it() -> anyhow::Result<()>
{
    let db = TestDb::sqlite()?;
    let demo = admin(&db.url, &["seed-demo"])?;
    let key = demo["api_key"].as_str().unwrap_or_default().to_owned();
    let kb: Uuid = demo["kb_id"].as_str().unwrap_or_default().parse()?;
    let store = feather_server::store::open(&db.url).await?;
    let mut sources = Vec::new();
    for i in 0..60 {
        let config = json!({"items": 1});
        sources.push(
            store
                .create_source(kb, &format!("b{i}"), "synthetic", &config)
                .await?
                .id,
        );
    }
    store.close().await;

    let server = spawn(&db.url, &["--workers", "0"])?;
    let client = feather_client::Client::with_api_key(&server.base_url, &key)?;
    let (before, during) = sources.split_at(30);
    let mut acknowledged = Vec::new();
    for &source in before {
        acknowledged.push(poll::trigger(&client, kb, source).await?);
    }

    // Triggers keep coming while the backup runs.
    let traffic = {
        let client = client.clone();
        let during = during.to_vec();
        tokio::spawn(async move {
            for source in during {
                poll::trigger(&client, kb, source).await?;
            }
            anyhow::Ok(())
        })
    };
    let copy = db.dir().join("backup.db");
    let url = db.url.clone();
    let copy_arg = copy.display().to_string();
    let report = tokio::task::spawn_blocking(move || admin(&url, &["backup", &copy_arg])).await??;
    traffic.await??;
    assert_eq!(report["backup"], copy.display().to_string());
    assert!(report["bytes"].as_u64().unwrap_or(0) > 0, "{report}");
    drop(server);

    // The copy, served on its own.
    let copy_url = format!("sqlite:{}", copy.display());
    let restored = spawn(&copy_url, &["--workers", "0"])?;
    let client = feather_client::Client::with_api_key(&restored.base_url, &key)?;
    for (&source, job) in before.iter().zip(&acknowledged) {
        let status = poll::status(&client, kb, source).await?;
        assert_eq!(status.last_sync_job_id, Some(*job), "{source}");
    }
    assert_eq!(integrity(&copy).await?, "ok");
    Ok(())
}

async fn integrity(path: &Path) -> anyhow::Result<String> {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display())).await?;
    let (result,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    Ok(result)
}

#[test]
fn a_backup_never_overwrites_an_existing_file() -> anyhow::Result<()> {
    let db = TestDb::sqlite()?;
    admin(&db.url, &["seed-demo"])?;
    let existing = db.dir().join("existing.db");
    std::fs::write(&existing, b"keep me")?;
    let refused = admin(&db.url, &["backup", &existing.display().to_string()]);
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("exists already"), "{message}");
    assert_eq!(std::fs::read(&existing)?, b"keep me");
    Ok(())
}
