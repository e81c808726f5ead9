//! Power cuts on the embedded default: the SQLite store, then a whole
//! server in process, run over the `sqlite-powercut` VFS (every write not
//! synced is gone at the cut, or a random torn part of it survives); after
//! the database reopens with the normal VFS, every trigger acknowledged
//! before the cut is there, `PRAGMA integrity_check` is `ok` and nothing is
//! stuck. With `synchronous=normal` the same store test loses acknowledged
//! triggers, which shows the check can fail.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use feather_server::store::{self, OpenOptions, SqliteSynchronous, Store, TriggerOutcome};
use feather_test_support::powerloss::{self, Load, Round};
use sqlite_powercut::{Loss, PowerCut};
use uuid::Uuid;

/// A tenant with `sources` synthetic sources (a few items each) in a fresh
/// database at `path`, written through the normal VFS.
async fn seed(path: &Path, sources: usize) -> anyhow::Result<(Uuid, Uuid, String, Vec<Uuid>)> {
    let store = store::open(&format!("sqlite:{}", path.display())).await?;
    let org = store.create_organization("power").await?.id;
    let kb = store.create_knowledge_base(org, "power").await?.id;
    let (key, _) = feather_server::auth::issue_key(store.as_ref(), org, "power").await?;
    let mut ids = Vec::new();
    for i in 0..sources {
        let config = serde_json::json!({"items": 3, "item_delay_ms": 1});
        ids.push(
            store
                .create_source(kb, &format!("power {i}"), "synthetic", &config)
                .await?
                .id,
        );
    }
    store.close().await;
    Ok((org, kb, key, ids))
}

/// Store-level rounds: tasks trigger, claim, write batches and finish jobs
/// through the store on the power-cut VFS; the power is cut `cut_after_ms`
/// in. Returns (acknowledged, lost) over all rounds, after checking the
/// file's integrity and that no source is stuck (`syncing` without a live
/// last job) each round.
async fn store_rounds(
    synchronous: SqliteSynchronous,
    cuts: &[(u64, Loss)],
) -> anyhow::Result<(usize, usize)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let (org, kb, _, sources) = seed(&path, 64).await?;
    let (mut acknowledged_total, mut lost_total) = (0, 0);
    for (round, (cut_after_ms, loss)) in cuts.iter().enumerate() {
        let vfs = PowerCut::register()?;
        // A slow disk: cuts land in the middle of commits too.
        vfs.set_sync_delay(Duration::from_micros(500));
        let options = OpenOptions {
            sqlite_synchronous: synchronous,
            sqlite_vfs: Some(vfs.name().to_owned()),
            ..OpenOptions::default()
        };
        let store = store::open_with(&format!("sqlite:{}", path.display()), &options).await?;
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..6usize {
            let (store, sources, acknowledged) =
                (store.clone(), sources.clone(), acknowledged.clone());
            tasks.spawn(async move {
                let mut i = task;
                loop {
                    let source = sources[(i * 7 + task) % sources.len()];
                    i += 1;
                    match store.trigger_sync(org, kb, source).await {
                        Ok(TriggerOutcome::Queued(job)) => {
                            if let Ok(mut acknowledged) = acknowledged.lock() {
                                acknowledged.push(job.id);
                            }
                        }
                        Ok(_) => {}
                        // The power is gone.
                        Err(_) => return,
                    }
                }
            });
        }
        // A worker: claims, one batch, finish; puts sources back at rest so
        // they can be triggered again, and puts bulk work in the groups.
        let worker_store = store.clone();
        tasks.spawn(async move {
            let _ = work(worker_store.as_ref()).await;
        });
        tokio::time::sleep(Duration::from_millis(*cut_after_ms)).await;
        let report = vfs.cut(*loss);
        while tasks.join_next().await.is_some() {}
        store.close().await;
        drop(store);

        let acknowledged = acknowledged
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .clone();
        assert_eq!(powerloss::integrity_check(&path)?, "ok", "round {round}");
        let reopened = store::open(&format!("sqlite:{}", path.display())).await?;
        let mut lost = 0;
        for job in &acknowledged {
            if reopened.find_job(*job).await?.is_none() {
                lost += 1;
            }
        }
        for source in reopened.list_sources(Some(kb)).await? {
            if source.status == feather_api::SourceStatus::Syncing {
                let last = match source.last_job_id {
                    Some(job) => reopened.find_job(job).await?,
                    None => None,
                };
                assert!(
                    last.is_some_and(|job| !job.status.is_terminal()),
                    "round {round}: source {} is syncing without a live job",
                    source.id
                );
            }
        }
        // Back to rest for the next round (what the reaper does after a
        // lease expires), with the normal VFS.
        reopened
            .reap(chrono::Utc::now() + chrono::Duration::hours(1), 100)
            .await?;
        reopened.close().await;
        eprintln!(
            "round {round} ({}): {} acknowledged, {lost} lost; cut {report:?}",
            synchronous.as_str(),
            acknowledged.len()
        );
        acknowledged_total += acknowledged.len();
        lost_total += lost;
    }
    Ok((acknowledged_total, lost_total))
}

/// Runs jobs until the store fails (the power cut).
async fn work(store: &dyn Store) -> anyhow::Result<()> {
    loop {
        let lease = chrono::Utc::now() + chrono::Duration::seconds(30);
        let Some(claimed) = store.claim_job("power-worker", lease).await? else {
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        };
        let batch = store::Batch {
            documents: (0..20)
                .map(|i| store::DocumentWrite {
                    external_id: format!("doc-{i}"),
                    title: None,
                    text: "text ".repeat(50 + i),
                    size_bytes: 250,
                    content_hash: format!("{:x}-{i}", claimed.job.id.as_u128()),
                })
                .collect(),
            failed_ids: Vec::new(),
            progress: store::Progress {
                total_items: Some(20),
                processed_count: 20,
                failed_count: 0,
            },
        };
        store
            .record_batch(&claimed.job, "power-worker", &batch, lease)
            .await?;
        let finish = store::Finish {
            status: feather_api::JobStatus::Completed,
            error_message: None,
            delete_unseen: true,
        };
        store
            .finish_job(&claimed.job, "power-worker", &finish)
            .await?;
    }
}

/// Cut moments (ms into the load) and what each cut keeps.
fn cuts() -> Vec<(u64, Loss)> {
    [40, 150, 90, 260, 30, 400, 120, 60]
        .into_iter()
        .enumerate()
        .map(|(i, ms)| {
            let loss = if i % 2 == 0 {
                Loss::Everything
            } else {
                Loss::RandomPrefix {
                    seed: 31 * i as u64 + 7,
                }
            };
            (ms, loss)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_synchronous_full_a_power_cut_loses_no_acknowledged_trigger() -> anyhow::Result<()> {
    let (acknowledged, lost) = store_rounds(SqliteSynchronous::Full, &cuts()).await?;
    assert!(
        acknowledged > 100,
        "only {acknowledged} triggers acknowledged"
    );
    assert_eq!(
        lost, 0,
        "{lost} of {acknowledged} acknowledged triggers lost"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_synchronous_normal_a_power_cut_loses_acknowledged_triggers() -> anyhow::Result<()> {
    // The same rounds with every unsynced write dropped: NORMAL flushes the
    // WAL only at checkpoints, so the last moments' triggers are gone.
    let cuts: Vec<_> = cuts()
        .into_iter()
        .map(|(ms, _)| (ms, Loss::Everything))
        .collect();
    let (acknowledged, lost) = store_rounds(SqliteSynchronous::Normal, &cuts[..4]).await?;
    assert!(
        lost > 0,
        "no acknowledged trigger of {acknowledged} was lost with synchronous=normal: \
         the power-cut simulation does not reach the store"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_loses_no_acknowledged_trigger_to_power_cuts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("server.db");
    let (_, kb_id, api_key, sources) = seed(&path, 24).await?;
    let load = Load {
        api_key,
        kb_id,
        sources: sources.clone(),
        clients: 8,
    };
    let engine = feather_test_support::server::engine();
    let mut acknowledged_total = 0;
    for (round, (cut_after_ms, loss)) in cuts().into_iter().take(5).enumerate() {
        let round_settings = Round {
            synchronous: SqliteSynchronous::Full,
            cut_after: Duration::from_millis(cut_after_ms * 2),
            loss,
            seed: round as u64 + 11,
            sync_delay: Duration::from_micros(500),
        };
        let cut =
            powerloss::cut_during_load(&path, &load, round_settings, Some(engine.clone())).await?;
        let recovery = powerloss::recover(
            &path,
            &cut.acknowledged,
            &sources,
            engine.clone(),
            Duration::from_secs(30),
        )
        .await?;
        eprintln!(
            "round {round}: {} acknowledged, {} lost, {} stuck, integrity {}; cut {:?}",
            cut.acknowledged.len(),
            recovery.lost.len(),
            recovery.stuck.len(),
            recovery.integrity,
            cut.cut
        );
        assert_eq!(recovery.integrity, "ok", "round {round}");
        assert_eq!(recovery.lost, Vec::<Uuid>::new(), "round {round}: lost");
        assert_eq!(recovery.stuck, Vec::<Uuid>::new(), "round {round}: stuck");
        acknowledged_total += cut.acknowledged.len();
    }
    assert!(
        acknowledged_total > 20,
        "only {acknowledged_total} acknowledged"
    );
    Ok(())
}
