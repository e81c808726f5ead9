//! PostgreSQL stops and starts again under load from two replicas: no
//! request hangs beyond its timeout, requests fail with 503 while the
//! database is away, the replicas recover by themselves, and every
//! acknowledged trigger is still there. Needs `FEATHER_TEST_DATABASE_URL`
//! and `pg_ctlcluster` (the test restarts the local cluster); skipped with
//! the reason printed otherwise. Its own test binary, so nothing else runs
//! against PostgreSQL meanwhile.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, TestDb};
use common::{admin, spawn};
use feather_client::{Client, Error};
use serde_json::json;
use uuid::Uuid;

/// The local cluster's version directory, if `pg_ctlcluster` can drive it.
fn cluster() -> Option<String> {
    let found = Command::new("pg_ctlcluster").arg("--help").output().ok()?;
    if !found.status.success() && found.stdout.is_empty() && found.stderr.is_empty() {
        return None;
    }
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort();
    versions.pop()
}

fn pg_ctl(version: &str, action: &str) -> anyhow::Result<()> {
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, "main", action])
        .args(if action == "stop" {
            &["-m", "fast"][..]
        } else {
            &[][..]
        })
        .status()?;
    anyhow::ensure!(
        status.success(),
        "pg_ctlcluster {version} main {action} failed"
    );
    Ok(())
}

/// Starts the cluster again however the test ends.
struct Restart(String);

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.0, "main", "start"])
            .status();
    }
}

#[derive(Default)]
struct Tally {
    ok: usize,
    unavailable: usize,
    other: Vec<String>,
    slowest: Duration,
    slowest_unavailable: Duration,
    acknowledged: Vec<Uuid>,
    ok_after_restart: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_postgres_under_load_hangs_nothing_and_loses_nothing() -> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(Backend::Postgres).await? else {
        return Ok(());
    };
    let Some(version) = cluster() else {
        feather_test_support::skip(
            "restarting_postgres_under_load_hangs_nothing_and_loses_nothing",
            "pg_ctlcluster or /etc/postgresql is not available to restart the cluster",
        )?;
        return Ok(());
    };
    let demo = admin(&db.url, &["seed-demo"])?;
    let key = demo["api_key"].as_str().unwrap_or_default().to_owned();
    let kb: Uuid = demo["kb_id"].as_str().unwrap_or_default().parse()?;
    let store = feather_server::store::open(&db.url).await?;
    let mut sources = Vec::new();
    for i in 0..60 {
        let config = json!({"items": 3, "item_delay_ms": 10});
        sources.push(
            store
                .create_source(kb, &format!("s{i}"), "synthetic", &config)
                .await?
                .id,
        );
    }
    drop(store);
    let replicas = [spawn(&db.url, &[])?, spawn(&db.url, &[])?];

    let stop = Arc::new(AtomicBool::new(false));
    let restarted_at: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let client = Client::with_api_key(&replicas[worker % 2].base_url, &key)?;
        let (stop, restarted_at, sources) = (stop.clone(), restarted_at.clone(), sources.clone());
        tasks.spawn(async move {
            let mut tally = Tally::default();
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let source = sources[i % sources.len()];
                i += 8;
                let started = Instant::now();
                let outcome = if i % 3 == 0 {
                    client
                        .trigger_sync()
                        .kb_id(kb)
                        .source_id(source)
                        .send()
                        .await
                        .map(|a| Some(a.into_inner().job_id))
                } else {
                    client
                        .get_sync_status()
                        .kb_id(kb)
                        .source_id(source)
                        .send()
                        .await
                        .map(|_| None)
                };
                let took = started.elapsed();
                tally.slowest = tally.slowest.max(took);
                match outcome {
                    Ok(job) => {
                        tally.ok += 1;
                        tally.acknowledged.extend(job);
                        if restarted_at
                            .lock()
                            .ok()
                            .and_then(|r| *r)
                            .is_some_and(|at| started > at)
                        {
                            tally.ok_after_restart += 1;
                        }
                    }
                    Err(Error::ErrorResponse(answer)) if answer.status().as_u16() == 503 => {
                        tally.unavailable += 1;
                        tally.slowest_unavailable = tally.slowest_unavailable.max(took);
                    }
                    Err(Error::ErrorResponse(answer)) if answer.status().as_u16() == 409 => {
                        tally.ok += 1
                    }
                    Err(other) => tally.other.push(other.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tally
        });
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    let _guard = Restart(version.clone());
    pg_ctl(&version, "stop")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    pg_ctl(&version, "start")?;
    if let Ok(mut at) = restarted_at.lock() {
        *at = Some(Instant::now());
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);

    let mut total = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        let t = joined?;
        total.ok += t.ok;
        total.unavailable += t.unavailable;
        total.other.extend(t.other);
        total.slowest = total.slowest.max(t.slowest);
        total.slowest_unavailable = total.slowest_unavailable.max(t.slowest_unavailable);
        total.acknowledged.extend(t.acknowledged);
        total.ok_after_restart += t.ok_after_restart;
    }
    println!(
        "ok {}, 503 {}, other {}, slowest {:?}, slowest 503 {:?}, ok after restart {}, acknowledged triggers {}",
        total.ok,
        total.unavailable,
        total.other.len(),
        total.slowest,
        total.slowest_unavailable,
        total.ok_after_restart,
        total.acknowledged.len()
    );
    assert!(
        total.other.is_empty(),
        "only 200/409/503 expected: {:?}",
        total.other
    );
    assert!(
        total.unavailable > 0,
        "requests while the database was down answer 503"
    );
    assert!(
        total.slowest < Duration::from_secs(10),
        "no request hung: slowest {:?}",
        total.slowest
    );
    assert!(
        total.slowest_unavailable < Duration::from_secs(5),
        "503s come fast"
    );
    assert!(
        total.ok_after_restart > 0,
        "the replicas recovered by themselves"
    );

    let store = feather_server::store::open(&db.url).await?;
    for job in &total.acknowledged {
        assert!(
            store.find_job(*job).await?.is_some(),
            "acknowledged job {job} was lost"
        );
    }
    for replica in &replicas {
        let health = reqwest::get(format!("{}/healthz", replica.base_url)).await?;
        assert_eq!(health.status().as_u16(), 200);
    }
    Ok(())
}
