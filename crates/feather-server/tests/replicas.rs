//! Several `feather-server` replicas on one PostgreSQL database: the
//! trigger guard and job claiming hold across processes, and a replica's
//! death is recovered by another. Skipped (with the reason printed) without
//! `FEATHER_TEST_DATABASE_URL`.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestDb};
use common::{ServerProcess, admin, spawn};
use feather_client::{Client, Error};
use serde_json::Value;
use uuid::Uuid;

struct Demo {
    key: String,
    kb: Uuid,
}

fn seed(db: &TestDb) -> anyhow::Result<Demo> {
    let demo = admin(&db.url, &["seed-demo"])?;
    Ok(Demo {
        key: demo["api_key"].as_str().unwrap_or_default().to_owned(),
        kb: demo["kb_id"].as_str().unwrap_or_default().parse()?,
    })
}

fn add_source(db: &TestDb, demo: &Demo, config: &str) -> anyhow::Result<Uuid> {
    let source = admin(
        &db.url,
        &[
            "create-source",
            "--kb",
            &demo.kb.to_string(),
            "--name",
            "replica-test",
            "--provider",
            "synthetic",
            "--config",
            config,
        ],
    )?;
    Ok(source["id"].as_str().unwrap_or_default().parse()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_triggers_across_two_replicas_have_one_winner() -> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(Backend::Postgres).await? else {
        return Ok(());
    };
    let demo = seed(&db)?;
    // Long enough (about 30 s) that the winner's sync cannot end while
    // the other triggers are still arriving.
    let source = add_source(&db, &demo, r#"{"items": 300, "item_delay_ms": 100}"#)?;
    let replicas: Vec<ServerProcess> = vec![spawn(&db.url, &[])?, spawn(&db.url, &[])?];

    // Every caller is ready before any fires.
    let clients = (0..200)
        .map(|i| Client::with_api_key(&replicas[i % 2].base_url, &demo.key))
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        let kb = demo.kb;
        tasks.spawn(async move {
            client
                .trigger_sync()
                .kb_id(kb)
                .source_id(source)
                .send()
                .await
        });
    }
    let (mut winners, mut conflicts) = (Vec::new(), 0);
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok(answer) => winners.push(answer.into_inner().job_id),
            Err(Error::ErrorResponse(answer)) if answer.status().as_u16() == 409 => conflicts += 1,
            Err(other) => anyhow::bail!("unexpected answer: {other:?}"),
        }
    }
    let jobs = admin(&db.url, &["list", "jobs", "--source", &source.to_string()])?;
    println!("200 triggers answered in {:?}", started.elapsed());
    assert_eq!((winners.len(), conflicts), (1, 199));
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "one job row");
    assert_eq!(jobs[0]["id"], Value::String(winners[0].to_string()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_sync_is_reaped_by_the_other() -> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(Backend::Postgres).await? else {
        return Ok(());
    };
    let demo = seed(&db)?;
    let source = add_source(&db, &demo, r#"{"items": 60, "item_delay_ms": 50}"#)?;
    // Only A runs at first, so A is the one holding the job.
    let a = spawn(&db.url, &[])?;
    let client_a = Client::with_api_key(&a.base_url, &demo.key)?;
    let job = client_a
        .trigger_sync()
        .kb_id(demo.kb)
        .source_id(source)
        .send()
        .await?
        .into_inner()
        .job_id;
    let status = |client: Client| async move {
        anyhow::Ok(
            client
                .get_sync_status()
                .kb_id(demo.kb)
                .source_id(source)
                .send()
                .await?
                .into_inner(),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(client_a.clone()).await?.processed_count.unwrap_or(0) == 0 {
        anyhow::ensure!(Instant::now() < deadline, "the sync never started on A");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = spawn(&db.url, &[])?;
    drop(a); // SIGKILL
    let killed = Instant::now();

    let client_b = Client::with_api_key(&b.base_url, &demo.key)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let end = loop {
        let s = status(client_b.clone()).await?;
        if s.source_status != "syncing" {
            break s;
        }
        anyhow::ensure!(Instant::now() < deadline, "B never finished the job: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(end.last_sync_job_id, Some(job));
    assert_eq!(end.last_sync_status.as_deref(), Some("completed"));
    assert_eq!(end.source_status, "active");
    let jobs = admin(&db.url, &["list", "jobs", "--source", &source.to_string()])?;
    assert_eq!(jobs[0]["attempts"], 2, "claimed by A, then by B");
    println!("B finished A's job {:?} after the kill", killed.elapsed());
    Ok(())
}
