//! The database ceilings run the server's own statements correctly: the
//! status query finds the row, and every counted trigger flipped its source
//! and inserted its job (checked through the server's store afterwards).

use std::time::Duration;

use feather_bench::ceilings::{self, PgTrigger, StatusTarget, TriggerTargets};
use feather_server::store;
use feather_test_support::{Backend, TestDb, on_both_backends};

async fn ceilings_run_the_servers_statements(backend: Backend) -> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(backend).await? else {
        return Ok(());
    };
    let store = store::open(&db.url).await?;
    let org = store.create_organization("ceiling").await?.id;
    let kb = store.create_knowledge_base(org, "ceiling").await?.id;
    let status_source = store.seed_history(kb, "status", 1, 3).await?[0];
    let target = StatusTarget {
        org_id: org,
        kb_id: kb,
        source_id: status_source,
    };
    let sources = store.seed_history(kb, "trigger", 40, 0).await?;
    let targets = TriggerTargets {
        org_id: org,
        kb_id: kb,
        sources: sources.clone(),
    };
    let short = Duration::from_millis(200);
    let (status, triggers) = match db.url.strip_prefix("sqlite:") {
        Some(path) => {
            let path = std::path::PathBuf::from(path);
            let status = ceilings::sqlite_status(&path, target, 2, short)?;
            let triggers = vec![ceilings::sqlite_trigger(&path, &targets, 2, short, "FULL")?];
            (status, triggers)
        }
        None => {
            let status = ceilings::postgres_status(&db.url, target, 2, short).await?;
            let first = TriggerTargets {
                sources: sources[..20].to_vec(),
                ..targets.clone()
            };
            let second = TriggerTargets {
                sources: sources[20..].to_vec(),
                ..targets.clone()
            };
            let triggers = vec![
                ceilings::postgres_trigger(&db.url, &first, 2, short, PgTrigger::ServerStatements)
                    .await?,
                ceilings::postgres_trigger(&db.url, &second, 2, short, PgTrigger::OneStatement)
                    .await?,
            ];
            (status, triggers)
        }
    };
    assert!(status.operations > 0, "{status:?}");
    let counted: u64 = triggers.iter().map(|c| c.operations).sum();
    assert!(counted > 0, "{triggers:?}");
    let mut flipped = 0;
    for source in &sources {
        let jobs = store.list_jobs(*source).await?;
        let state = store.sync_state(org, kb, *source).await?;
        let syncing = state.is_some_and(|s| s.source_status.as_str() == "syncing");
        assert_eq!(jobs.len() == 1, syncing, "source {source}: jobs {jobs:?}");
        flipped += u64::from(syncing);
    }
    assert_eq!(flipped, counted, "every counted trigger queued one job");
    store.close().await;
    Ok(())
}

on_both_backends!(ceilings_run_the_servers_statements);
