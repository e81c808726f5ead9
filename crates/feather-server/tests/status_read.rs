//! The status read on both backends, as GET status uses it: many reads at
//! once (on PostgreSQL they are answered together, several per statement),
//! each answered for its own tenant, knowledge base and source, seeing
//! every write before it; and on PostgreSQL, connections cut under it.

mod common;

use std::collections::HashMap;

use common::{Backend, TestDb};
use feather_server::store::{SourceSyncState, StoreError, TriggerOutcome};
use feather_test_support::on_both_backends;
use feather_test_support::proxy::TcpProxy;
use futures_util::future::join_all;
use serde_json::json;
use uuid::Uuid;

/// Where a read points.
#[derive(Clone, Copy, Debug)]
struct Read {
    org: Uuid,
    kb: Uuid,
    source: Uuid,
}

on_both_backends!(concurrent_reads_each_get_their_own_answer);
async fn concurrent_reads_each_get_their_own_answer(backend: Backend) -> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(backend).await? else {
        return Ok(());
    };
    let store = feather_server::store::open(&db.url).await?;
    // Two tenants with two sources each; one source of each has a job.
    let mut sources = Vec::new();
    for tenant in ["acme", "globex"] {
        let org = store.create_organization(tenant).await?.id;
        let kb = store.create_knowledge_base(org, "kb").await?.id;
        for name in ["a", "b"] {
            let source = store
                .create_source(kb, name, "synthetic", &json!({}))
                .await?
                .id;
            sources.push(Read { org, kb, source });
        }
    }
    let mut jobs = HashMap::new();
    for read in [sources[0], sources[2]] {
        let TriggerOutcome::Queued(job) =
            store.trigger_sync(read.org, read.kb, read.source).await?
        else {
            anyhow::bail!("the trigger was refused");
        };
        jobs.insert(read.source, job.id);
    }

    // Every source read right, and read with another tenant's org or
    // knowledge base, and an unknown source: 2,000 reads at once.
    let mut reads = Vec::new();
    for (i, right) in sources.iter().enumerate() {
        let other = sources[(i + 2) % sources.len()]; // the other tenant's
        reads.push((*right, true));
        reads.push((
            Read {
                org: other.org,
                ..*right
            },
            false,
        ));
        reads.push((
            Read {
                kb: other.kb,
                ..*right
            },
            false,
        ));
        reads.push((
            Read {
                source: Uuid::new_v4(),
                ..*right
            },
            false,
        ));
    }
    let reads: Vec<_> = reads.iter().cycle().take(2_000).copied().collect();
    let answers = join_all(
        reads
            .iter()
            .map(|(read, _)| store.sync_state(read.org, read.kb, read.source)),
    )
    .await;

    for ((read, visible), answer) in reads.iter().zip(answers) {
        let answer: Option<SourceSyncState> = answer?;
        if !visible {
            assert_eq!(answer, None, "{read:?} must see nothing");
            continue;
        }
        let state = answer.ok_or_else(|| anyhow::anyhow!("{read:?} found nothing"))?;
        assert_eq!(state.source_id, read.source);
        assert_eq!(
            state.last_job.map(|job| job.id),
            jobs.get(&read.source).copied(),
            "{read:?} sees its own source's job"
        );
    }
    Ok(())
}

on_both_backends!(a_read_sees_the_trigger_acknowledged_before_it);
async fn a_read_sees_the_trigger_acknowledged_before_it(backend: Backend) -> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(backend).await? else {
        return Ok(());
    };
    let store = feather_server::store::open(&db.url).await?;
    let org = store.create_organization("acme").await?.id;
    let kb = store.create_knowledge_base(org, "kb").await?.id;
    let mut read = Vec::new();
    for i in 0..50 {
        let source = store
            .create_source(kb, &format!("s{i}"), "synthetic", &json!({}))
            .await?
            .id;
        read.push(source);
    }
    // Each trigger, then at once a burst of reads of its source (answered
    // together on PostgreSQL) that must all see the new job.
    for source in read {
        let TriggerOutcome::Queued(job) = store.trigger_sync(org, kb, source).await? else {
            anyhow::bail!("the trigger was refused");
        };
        let answers = join_all((0..8).map(|_| store.sync_state(org, kb, source))).await;
        for answer in answers {
            let state = answer?.ok_or_else(|| anyhow::anyhow!("source {source} vanished"))?;
            assert_eq!(state.last_job.map(|j| j.id), Some(job.id));
        }
    }
    Ok(())
}

#[tokio::test]
async fn postgres_status_reads_survive_cut_connections_and_answer_503_without_a_database()
-> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(Backend::Postgres).await? else {
        return Ok(());
    };
    let (proxy, proxied) = TcpProxy::in_front_of(&db.url).await?;
    let store = feather_server::store::open(&proxied).await?;
    let org = store.create_organization("acme").await?.id;
    let kb = store.create_knowledge_base(org, "kb").await?.id;
    let source = store
        .create_source(kb, "s", "synthetic", &json!({}))
        .await?
        .id;
    let read = || store.sync_state(org, kb, source);
    assert!(read().await?.is_some());

    // Connections cut between reads: the next reads go out on fresh ones.
    for _ in 0..5 {
        proxy.cut();
        let answers = join_all((0..20).map(|_| read())).await;
        for answer in answers {
            assert!(answer?.is_some(), "a read after a cut found its source");
        }
    }

    // The database gone: a clear 503 kind of error, not a hang or a 500.
    drop(proxy);
    let started = std::time::Instant::now();
    let answers = join_all((0..20).map(|_| read())).await;
    for answer in answers {
        match answer {
            Err(StoreError::Unavailable { .. }) => {}
            other => anyhow::bail!("expected Unavailable, got {other:?}"),
        }
    }
    // Bounded by the connect timeout (2 s) and the retry, not by the
    // query timeout or forever.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "answered in {:?}",
        started.elapsed()
    );
    Ok(())
}
