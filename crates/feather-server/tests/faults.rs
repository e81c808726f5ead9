//! Storage faults: a database that fills up refuses writes with "unavailable"
//! (503) and loses nothing it acknowledged, before, during or after.
//!
//! On PostgreSQL, connections are cut in the middle of transactions by a
//! TCP proxy between the store and the server.
//!
//! The full disk is SQLite's size limit (`max_page_count`, the server's
//! `--sqlite-max-mib`), which behaves like a full disk to SQLite and runs
//! anywhere without privileges.

mod common;

use feather_server::store::{self, OpenOptions, StoreError, TriggerOutcome};
use serde_json::json;
use sqlx::Connection as _;
use uuid::Uuid;

use common::{Backend, TestDb};
use feather_test_support::proxy::TcpProxy;

/// Pages of the database now, read on a connection of its own.
async fn page_count(url: &str) -> anyhow::Result<i64> {
    let mut conn = sqlx::SqliteConnection::connect(url).await?;
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(&mut conn)
        .await?;
    Ok(pages)
}

#[tokio::test]
async fn a_full_database_answers_unavailable_and_loses_no_acknowledged_trigger()
-> anyhow::Result<()> {
    let db = TestDb::sqlite()?;
    let unlimited = store::open(&db.url).await?;
    let org = unlimited.create_organization("acme").await?.id;
    let kb = unlimited.create_knowledge_base(org, "kb").await?.id;
    let mut sources = Vec::new();
    for i in 0..30 {
        let source = unlimited
            .create_source(kb, &format!("s{i}"), "synthetic", &json!({"items": 1}))
            .await?;
        sources.push(source.id);
    }
    unlimited.close().await;

    // Four pages to spare, filled until not even a small row fits.
    let limited = open_full(&db.url, kb, 4).await?;

    // While full: every trigger is acknowledged or refused as unavailable.
    let mut acknowledged: Vec<Uuid> = Vec::new();
    let mut refused = 0;
    for &source in &sources {
        match limited.trigger_sync(org, kb, source).await {
            Ok(TriggerOutcome::Queued(job)) => acknowledged.push(job.id),
            Err(StoreError::Unavailable { .. }) => refused += 1,
            other => panic!("while full, a trigger is queued or unavailable, got {other:?}"),
        }
    }
    assert!(refused > 0, "no trigger met the full database");

    // Space comes back (another connection, without the limit, deletes the filler).
    free(&db.url).await?;

    // Now every source that was refused can be triggered, and is kept.
    for &source in &sources {
        match limited.trigger_sync(org, kb, source).await {
            Ok(TriggerOutcome::Queued(job)) => acknowledged.push(job.id),
            Ok(TriggerOutcome::AlreadySyncing(_)) => {}
            other => panic!("with space back, a trigger must succeed, got {other:?}"),
        }
    }
    assert_eq!(acknowledged.len(), sources.len(), "one job per source");
    limited.close().await;

    // From the file, as a restarted server would see it.
    let reopened = store::open(&db.url).await?;
    for job in &acknowledged {
        let found = reopened.find_job(*job).await?;
        assert!(found.is_some(), "acknowledged job {job} was lost");
    }
    for source in reopened.list_sources(Some(kb)).await? {
        assert_eq!(
            source.status,
            feather_api::SourceStatus::Syncing,
            "{} points at its queued job",
            source.name
        );
        assert!(
            source
                .last_job_id
                .is_some_and(|id| acknowledged.contains(&id))
        );
    }
    let mut check = sqlx::SqliteConnection::connect(&db.url).await?;
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut check)
        .await?;
    assert_eq!(integrity, "ok");
    Ok(())
}

/// Fills a size-limited database with filler sources in `kb`,
/// large ones first, until not even a small row fits.
async fn fill(store: &dyn feather_server::store::Store, kb: Uuid) -> anyhow::Result<()> {
    for pad_bytes in [20_000, 100] {
        let pad = "x".repeat(pad_bytes);
        let mut full = false;
        for _ in 0..5_000 {
            match store
                .create_source(kb, "filler", "synthetic", &json!({ "pad": pad }))
                .await
            {
                Ok(_) => {}
                Err(StoreError::Unavailable { .. }) => {
                    full = true;
                    break;
                }
                Err(other) => anyhow::bail!("a full database must be 'unavailable', not {other}"),
            }
        }
        anyhow::ensure!(
            full,
            "the size limit never refused a {pad_bytes}-byte write"
        );
    }
    Ok(())
}

/// Opens the database at `url` limited to its size now plus `spare_pages`,
/// and fills the spare pages with filler sources in `kb`.
async fn open_full(
    url: &str,
    kb: Uuid,
    spare_pages: u64,
) -> anyhow::Result<std::sync::Arc<dyn feather_server::store::Store>> {
    let limit = (page_count(url).await? as u64 + spare_pages) * 4096;
    let options = OpenOptions {
        sqlite_max_bytes: Some(limit),
        ..OpenOptions::default()
    };
    let limited = store::open_with(url, &options).await?;
    fill(limited.as_ref(), kb).await?;
    Ok(limited)
}

/// Frees the space the filler took, on a connection without the limit.
async fn free(url: &str) -> anyhow::Result<()> {
    let mut admin = sqlx::SqliteConnection::connect(url).await?;
    sqlx::query("DELETE FROM sources WHERE name = 'filler'")
        .execute(&mut admin)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_meets_a_full_database_finishes_once_space_is_back() -> anyhow::Result<()> {
    let db = TestDb::sqlite()?;
    let unlimited = store::open(&db.url).await?;
    let org = unlimited.create_organization("acme").await?.id;
    let kb = unlimited.create_knowledge_base(org, "kb").await?.id;
    let config = json!({"items": 120, "item_delay_ms": 2});
    let source = unlimited
        .create_source(kb, "s", "synthetic", &config)
        .await?
        .id;
    let TriggerOutcome::Queued(job) = unlimited.trigger_sync(org, kb, source).await? else {
        anyhow::bail!("the trigger was refused");
    };
    unlimited.close().await;

    // Room for the job's documents once the filler is gone.
    let limited = open_full(&db.url, kb, 256).await?;

    // The engine starts on a full database: its documents cannot be written.
    let (log, lines) = feather_test_support::server::capturing();
    let server = feather_server::start(
        limited.clone(),
        "127.0.0.1:0".parse()?,
        Some(feather_server::engine::EngineConfig {
            lease: std::time::Duration::from_secs(1),
            ..feather_test_support::server::engine()
        }),
        log,
    )?;
    // Several times max_attempts leases (3 × 1 s): a worker that cannot
    // write must hand the job back, not let it fail as if it had died.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let stalled = limited.find_job(job.id).await?;
    assert!(
        stalled.as_ref().is_some_and(|j| !j.status.is_terminal()),
        "the job cannot have ended on a full database: {stalled:?}"
    );
    free(&db.url).await?;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let ended = loop {
        let current = limited.find_job(job.id).await?;
        if let Some(current) = current.filter(|j| j.status.is_terminal()) {
            break current;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the job did not end after the space came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let log_text = lines.lock().map(|l| l.join("\n")).unwrap_or_default();
    assert_eq!(
        ended.status,
        feather_api::JobStatus::Completed,
        "{ended:?}\n{log_text}"
    );
    assert_eq!(ended.processed_count, 120);
    assert_eq!(limited.list_documents(source).await?.len(), 120);
    let sources = limited.list_sources(Some(kb)).await?;
    assert!(
        sources
            .iter()
            .all(|s| s.status != feather_api::SourceStatus::Syncing),
        "no source is left syncing"
    );
    server.shutdown().await?;
    limited.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_connections_cut_mid_transaction_lose_no_acknowledged_trigger()
-> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(Backend::Postgres).await? else {
        return Ok(());
    };
    let direct = store::open(&db.url).await?;
    let org = direct.create_organization("acme").await?.id;
    let kb = direct.create_knowledge_base(org, "kb").await?.id;
    let ids = direct.seed_history(kb, "cut", 1_000, 0).await?;

    let (proxy, proxied_url) = TcpProxy::in_front_of(&db.url).await?;
    let proxy = std::sync::Arc::new(proxy);
    let proxied = store::open(&proxied_url).await?;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = tokio::task::JoinSet::new();
    for chunk in ids.chunks(125) {
        let (store, chunk) = (proxied.clone(), chunk.to_vec());
        callers.spawn(async move {
            let mut acknowledged = Vec::new();
            let mut refused = Vec::new();
            for source in chunk {
                match store.trigger_sync(org, kb, source).await {
                    Ok(TriggerOutcome::Queued(job)) => acknowledged.push((source, job.id)),
                    Err(StoreError::Unavailable { .. }) => refused.push(source),
                    other => anyhow::bail!("a cut connection is 'unavailable', got {other:?}"),
                }
            }
            anyhow::Ok((acknowledged, refused))
        });
    }
    // Cut every connection, again and again, while the triggers run.
    let cutter = {
        let (done, proxy) = (done.clone(), proxy.clone());
        async move {
            let mut cuts = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(60)).await;
                proxy.cut();
                cuts += 1;
            }
            cuts
        }
    };
    let cutting = tokio::spawn(cutter);
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    while let Some(result) = callers.join_next().await {
        let (ok, no) = result??;
        acknowledged.extend(ok);
        refused.extend(no);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let cuts = cutting.await?;
    println!(
        "{cuts} cuts: {} triggers acknowledged, {} refused",
        acknowledged.len(),
        refused.len()
    );
    assert!(cuts >= 3, "only {cuts} cuts happened during the triggers");
    assert!(!refused.is_empty(), "no trigger met a cut connection");
    assert!(!acknowledged.is_empty(), "no trigger got through");

    // Every acknowledged job is there, and its source points at it.
    let sources: std::collections::HashMap<Uuid, Option<Uuid>> = direct
        .list_sources(Some(kb))
        .await?
        .into_iter()
        .map(|s| (s.id, s.last_job_id))
        .collect();
    for (source, job) in &acknowledged {
        assert!(direct.find_job(*job).await?.is_some(), "job {job} was lost");
        assert_eq!(sources.get(source), Some(&Some(*job)), "source {source}");
    }
    // The refused ones can be triggered now (or were committed after all,
    // and answer that a sync is running). The first use of a pooled
    // connection that was cut while idle fails once (503): retry as a
    // client would.
    for source in refused {
        let mut answer = proxied.trigger_sync(org, kb, source).await;
        for _ in 0..8 {
            if !matches!(answer, Err(StoreError::Unavailable { .. })) {
                break;
            }
            answer = proxied.trigger_sync(org, kb, source).await;
        }
        match answer? {
            TriggerOutcome::Queued(_) | TriggerOutcome::AlreadySyncing(Some(_)) => {}
            other => panic!("source {source} after the cuts: {other:?}"),
        }
    }
    proxied.close().await;
    direct.close().await;
    Ok(())
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// Mounts `bytes` of tmpfs, or `None` when this is not root (skipped;
    /// a failure under CI, which runs as root).
    fn mount(bytes: u64) -> anyhow::Result<Option<Tmpfs>> {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
        if !root {
            feather_test_support::skip(
                "a_real_full_disk_loses_no_acknowledged_trigger",
                "mounting a tmpfs needs root",
            )?;
            return Ok(None);
        }
        let dir = tempfile::tempdir()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()?;
        anyhow::ensure!(mounted.success(), "mount -t tmpfs failed");
        Ok(Some(Tmpfs(dir)))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[tokio::test]
async fn a_real_full_disk_loses_no_acknowledged_trigger() -> anyhow::Result<()> {
    let Some(disk) = Tmpfs::mount(4 << 20)? else {
        return Ok(());
    };
    let url = format!("sqlite:{}", disk.0.path().join("feather.db").display());
    let demo = common::admin(&url, &["seed-demo"])?;
    let key = demo["api_key"].as_str().unwrap_or_default().to_owned();
    let kb: Uuid = demo["kb_id"].as_str().unwrap_or_default().parse()?;
    let mut sources = Vec::new();
    for i in 0..12 {
        let created = common::admin(
            &url,
            &[
                "create-source",
                "--kb",
                &kb.to_string(),
                "--name",
                &format!("d{i}"),
            ]
            .into_iter()
            .chain(["--provider", "synthetic", "--config", r#"{"items": 5}"#])
            .collect::<Vec<_>>(),
        )?;
        sources.push(created["id"].as_str().unwrap_or_default().parse::<Uuid>()?);
    }
    let mut server = common::spawn(&url, &["--workers", "2"])?;
    let client = feather_client::Client::with_api_key(&server.base_url, &key)?;
    let (first, second) = sources.split_at(6);

    // Fill the disk, trigger, free it, trigger the rest.
    let filler = disk.0.path().join("filler");
    let mut file = std::fs::File::create(&filler)?;
    let block = vec![0_u8; 64 << 10];
    while std::io::Write::write_all(&mut file, &block).is_ok() {}
    drop(file);
    let mut acknowledged = Vec::new();
    for &source in first {
        match client
            .trigger_sync()
            .kb_id(kb)
            .source_id(source)
            .send()
            .await
        {
            Ok(answer) => acknowledged.push((source, answer.into_inner().job_id)),
            Err(e) => assert_eq!(e.status().map(|s| s.as_u16()), Some(503), "{e}"),
        }
    }
    std::fs::remove_file(&filler)?;
    for &source in second {
        let job = feather_test_support::poll::trigger(&client, kb, source).await?;
        acknowledged.push((source, job));
    }
    for &(source, job) in &acknowledged {
        let end = feather_test_support::poll::wait_for(
            &client,
            kb,
            source,
            std::time::Duration::from_secs(20),
            |s| s.last_sync_job_id == Some(job) && feather_test_support::poll::terminal(s),
        )
        .await?;
        assert_eq!(end.source_status, "active", "{end:?}");
    }
    server.signal("TERM")?;
    assert!(server.wait_exit(std::time::Duration::from_secs(10))?);
    for (source, job) in acknowledged {
        let jobs = common::admin(&url, &["list", "jobs", "--source", &source.to_string()])?;
        let ids: Vec<&str> = jobs
            .as_array()
            .map(|list| list.iter().filter_map(|j| j["id"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            ids.contains(&job.to_string().as_str()),
            "job {job} was lost"
        );
    }
    drop(disk);
    Ok(())
}

/// Installs, on a PostgreSQL test database, switchable failures: an error
/// in the job INSERT (a statement in the middle of the trigger's
/// transaction) and an error at COMMIT (a deferred constraint trigger), both
/// with SQLSTATE 58030 (io_error), as a failing disk would raise them.
async fn install_failures(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    for statement in [
        "CREATE TABLE fault (at TEXT PRIMARY KEY)",
        "CREATE FUNCTION fault_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF EXISTS (SELECT 1 FROM fault WHERE at = 'insert') THEN \
             RAISE EXCEPTION 'injected insert failure' USING ERRCODE = '58030'; END IF; \
           RETURN NEW; END $$",
        "CREATE TRIGGER fault_insert BEFORE INSERT ON sync_jobs \
           FOR EACH ROW EXECUTE FUNCTION fault_insert()",
        "CREATE FUNCTION fault_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF EXISTS (SELECT 1 FROM fault WHERE at = 'commit') THEN \
             RAISE EXCEPTION 'injected commit failure' USING ERRCODE = '58030'; END IF; \
           RETURN NEW; END $$",
        "CREATE CONSTRAINT TRIGGER fault_commit AFTER INSERT ON sync_jobs \
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fault_commit()",
    ] {
        sqlx::query(statement).execute(&mut conn).await?;
    }
    Ok(conn)
}

#[tokio::test]
async fn postgres_statement_and_commit_failures_answer_unavailable_and_leave_nothing_half_done()
-> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(Backend::Postgres).await? else {
        return Ok(());
    };
    let store = store::open(&db.url).await?;
    let org = store.create_organization("acme").await?.id;
    let kb = store.create_knowledge_base(org, "kb").await?.id;
    let ids = store.seed_history(kb, "fault", 3, 0).await?;
    let mut faults = install_failures(&db.url).await?;

    for (at, source) in [("insert", ids[0]), ("commit", ids[1])] {
        sqlx::query("INSERT INTO fault VALUES ($1)")
            .bind(at)
            .execute(&mut faults)
            .await?;
        // Every pooled connection meets the failure once, and is not
        // reused half-open afterwards.
        for _ in 0..12 {
            match store.trigger_sync(org, kb, source).await {
                Err(StoreError::Unavailable { detail, .. }) => {
                    assert!(
                        detail.contains(&format!("injected {at} failure")),
                        "{detail}"
                    );
                }
                other => panic!("a failing {at} must answer unavailable, got {other:?}"),
            }
        }
        let state = store.sync_state(org, kb, source).await?;
        let state = state.ok_or_else(|| anyhow::anyhow!("source {source} vanished"))?;
        assert_eq!(
            state.source_status,
            feather_api::SourceStatus::Active,
            "{at}"
        );
        assert!(
            state.last_job.is_none(),
            "the flip was rolled back with the {at}"
        );
        sqlx::query("DELETE FROM fault")
            .execute(&mut faults)
            .await?;
        let TriggerOutcome::Queued(job) = store.trigger_sync(org, kb, source).await? else {
            panic!("with the {at} failure gone, the trigger must succeed");
        };
        assert!(store.find_job(job.id).await?.is_some());
    }
    store.close().await;
    Ok(())
}
