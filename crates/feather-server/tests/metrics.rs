//! `/metrics`: every metric the server documents is present in the
//! Prometheus text format (read back with a parser, not string matching)
//! and moves as requests and syncs happen, on both databases; the metrics
//! listener of its own; and a real Prometheus scraping it.

mod common;

use std::collections::HashMap;
use std::io::BufRead as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use feather_server::{MetricsMode, ServeOptions, start_with};
use feather_test_support::on_both_backends;
use feather_test_support::poll::{self, terminal};
use feather_test_support::server::{engine, quiet};
use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;
use sqlx::Connection as _;

use common::{Backend, TestDb, TestServer};

/// Every metric family `/metrics` must carry.
const FAMILIES: &[&str] = &[
    "feather_http_requests_total",
    "feather_http_request_duration_seconds",
    "feather_http_requests_in_flight",
    "feather_sync_jobs_claimed_total",
    "feather_sync_jobs_finished_total",
    "feather_sync_items_processed_total",
    "feather_sync_items_failed_total",
    "feather_sync_job_duration_seconds",
    "feather_sync_jobs_running",
    "feather_sync_jobs_queued",
    "feather_sync_leases_reaped_total",
    "feather_store_unavailable_total",
    "feather_store_pool_connections",
    "feather_build_info",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
];

/// A parsed scrape, looked up by name and labels.
struct Metrics(Scrape);

impl Metrics {
    async fn scrape(base_url: &str) -> anyhow::Result<Metrics> {
        let answer = reqwest::get(format!("{base_url}/metrics")).await?;
        anyhow::ensure!(answer.status() == StatusCode::OK, "{}", answer.status());
        let content_type = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        anyhow::ensure!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = answer.text().await?;
        Ok(Metrics(Scrape::parse(text.as_bytes().lines())?))
    }

    /// The value of the sample `name{labels}` (a histogram: its count).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                Value::Histogram(buckets) => buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map_or(0.0, |b| b.count),
                Value::Summary(_) => f64::NAN,
            })
    }

    /// [`Metrics::get`], failing with the name when absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> anyhow::Result<f64> {
        self.get(name, labels)
            .ok_or_else(|| anyhow::anyhow!("no sample {name}{labels:?}"))
    }

    fn requests(&self, operation: &str, status: &str) -> f64 {
        self.get(
            "feather_http_requests_total",
            &[("operation", operation), ("status", status)],
        )
        .unwrap_or(0.0)
    }

    fn families(&self) -> HashMap<&str, usize> {
        let mut seen = HashMap::new();
        for sample in &self.0.samples {
            *seen.entry(sample.metric.as_str()).or_default() += 1;
        }
        seen
    }
}

/// The status code a failed call answered (`None` for a success or no answer).
fn refused_with<T>(
    result: Result<T, feather_client::Error<feather_client::ApiError>>,
) -> Option<u16> {
    result.err().and_then(|e| e.status()).map(|s| s.as_u16())
}

async fn get(url: String) -> anyhow::Result<StatusCode> {
    Ok(reqwest::get(url).await?.status())
}

/// Deletes the newest migration's row: the server is then not ready (503).
async fn forget_newest_migration(db: &TestDb) -> anyhow::Result<()> {
    const FORGET: &str = "DELETE FROM _sqlx_migrations \
                          WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)";
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await?;
            sqlx::query(FORGET).execute(&mut conn).await?;
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await?;
            sqlx::query(FORGET).execute(&mut conn).await?;
        }
    }
    Ok(())
}

async fn every_metric_is_present_and_moves(backend: Backend) -> anyhow::Result<()> {
    let Some(first) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let TestServer {
        server,
        store,
        demo,
        db,
    } = first;
    // The demo server runs workers; this test wants a queue to look at
    // first, so it starts its own without.
    server.shutdown().await?;
    let kb = demo.kb_id;
    let source = |part: &str| {
        demo.sources
            .iter()
            .find(|s| s.name.contains(part))
            .map(|s| s.id)
            .ok_or_else(|| anyhow::anyhow!("no demo source {part}"))
    };
    let (fast, slow, flaky) = (source("fast")?, source("slow")?, source("flaky")?);

    // Phase 1: no engine. Requests are counted; triggers wait in the queue.
    let queue_only = start_with(
        store.clone(),
        ServeOptions::new("127.0.0.1:0".parse()?),
        quiet(),
    )?;
    let base = queue_only.base_url();
    let before = Metrics::scrape(&base).await?;
    let seen = before.families();
    for family in FAMILIES {
        assert!(
            seen.keys().any(|name| name.starts_with(family)),
            "{family} missing from /metrics; present: {seen:?}"
        );
    }
    assert_eq!(
        before.value(
            "feather_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        )?,
        1.0
    );
    assert!(before.value("process_resident_memory_bytes", &[])? > 0.0);

    let client = feather_client::Client::with_api_key(&base, &demo.api_key)?;
    poll::trigger(&client, kb, slow).await?;
    // A worker that claimed the slow job and died: its lease is over.
    let dead = store
        .claim_job("dead-worker/0", Utc::now() - chrono::TimeDelta::seconds(1))
        .await?;
    assert_eq!(dead.map(|c| c.job.source_id), Some(slow));
    poll::trigger(&client, kb, fast).await?;
    poll::trigger(&client, kb, flaky).await?;
    let again = client.trigger_sync().kb_id(kb).source_id(fast).send().await;
    assert_eq!(refused_with(again), Some(409));
    let stranger = feather_client::Client::with_api_key(&base, &demo.other_api_key)?;
    let hidden = stranger
        .get_sync_status()
        .kb_id(kb)
        .source_id(fast)
        .send()
        .await;
    assert_eq!(refused_with(hidden), Some(404));
    let nobody = feather_client::Client::with_api_key(&base, "fth_not-a-key")?;
    let refused = nobody
        .get_sync_status()
        .kb_id(kb)
        .source_id(fast)
        .send()
        .await;
    assert_eq!(refused_with(refused), Some(401));

    let queued = Metrics::scrape(&base).await?;
    assert_eq!(queued.requests("trigger_sync", "200"), 3.0);
    assert_eq!(queued.requests("trigger_sync", "409"), 1.0);
    assert_eq!(queued.requests("get_sync_status", "404"), 1.0);
    assert_eq!(queued.requests("get_sync_status", "401"), 1.0);
    assert_eq!(queued.requests("metrics", "200"), 1.0, "the first scrape");
    assert_eq!(
        queued.value(
            "feather_http_request_duration_seconds",
            &[("operation", "trigger_sync")]
        )?,
        4.0
    );
    assert_eq!(
        queued.value("feather_http_requests_in_flight", &[])?,
        1.0,
        "this scrape"
    );
    assert_eq!(queued.value("feather_sync_jobs_queued", &[])?, 2.0);
    assert_eq!(queued.value("feather_sync_jobs_running", &[])?, 0.0);
    assert_eq!(queued.value("feather_sync_jobs_claimed_total", &[])?, 0.0);
    let pool = match backend {
        Backend::Sqlite => "writer",
        Backend::Postgres => "primary",
    };
    let connections = queued.value(
        "feather_store_pool_connections",
        &[("pool", pool), ("state", "idle")],
    )? + queued.value(
        "feather_store_pool_connections",
        &[("pool", pool), ("state", "in_use")],
    )?;
    assert!(connections >= 1.0, "{pool} pool: {connections} connections");
    queue_only.shutdown().await?;

    // Phase 2: a server with an engine on the same database. The reaper
    // hands the dead worker's job on; the workers run all three.
    let options = ServeOptions {
        engine: Some(engine()),
        ..ServeOptions::new("127.0.0.1:0".parse()?)
    };
    let server = start_with(store.clone(), options, quiet())?;
    let base = server.base_url();
    let client = feather_client::Client::with_api_key(&base, &demo.api_key)?;
    let mut reads = 0;
    let mut processed = 0;
    for source in [fast, flaky] {
        let last = poll::watch(
            &client,
            kb,
            source,
            Duration::from_secs(30),
            |_| reads += 1,
            terminal,
        )
        .await?;
        processed += last.processed_count.unwrap_or(0);
    }
    // The slow job is claimed again and runs (about 30 s) while we look.
    let running_deadline = Instant::now() + Duration::from_secs(10);
    let ran = loop {
        let m = Metrics::scrape(&base).await?;
        if m.value("feather_sync_jobs_running", &[])? >= 1.0 || Instant::now() > running_deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ran.requests("get_sync_status", "200"), f64::from(reads));
    assert_eq!(ran.value("feather_sync_jobs_running", &[])?, 1.0);
    assert_eq!(ran.value("feather_sync_jobs_claimed_total", &[])?, 3.0);
    assert_eq!(
        ran.value(
            "feather_sync_leases_reaped_total",
            &[("outcome", "retried")]
        )?,
        1.0
    );
    assert_eq!(
        ran.value(
            "feather_sync_jobs_finished_total",
            &[("status", "completed")]
        )?,
        1.0
    );
    assert_eq!(
        ran.value(
            "feather_sync_jobs_finished_total",
            &[("status", "partial_failure")]
        )?,
        1.0
    );
    assert_eq!(ran.value("feather_sync_job_duration_seconds", &[])?, 2.0);
    assert_eq!(ran.value("feather_sync_jobs_queued", &[])?, 0.0);
    let written = ran.value("feather_sync_items_processed_total", &[])?;
    let failed = ran.value("feather_sync_items_failed_total", &[])?;
    assert!(failed >= 1.0, "the flaky source fails some items");
    // The slow job writes too, so at least the two finished jobs' items.
    assert!(
        written + failed >= processed as f64,
        "written {written} + failed {failed} < {processed} processed"
    );
    assert_eq!(ran.value("feather_store_unavailable_total", &[])?, 0.0);

    // A database that is not ready: readyz answers 503, counted.
    forget_newest_migration(&db).await?;
    assert_eq!(
        get(format!("{base}/readyz")).await?,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let unready = Metrics::scrape(&base).await?;
    assert_eq!(unready.value("feather_store_unavailable_total", &[])?, 1.0);
    assert_eq!(unready.requests("readyz", "503"), 1.0);
    server.shutdown().await?;
    Ok(())
}

on_both_backends!(every_metric_is_present_and_moves);

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own_or_be_off() -> anyhow::Result<()> {
    let db = TestDb::sqlite()?;
    let store = feather_server::store::open(&db.url).await?;
    let options = ServeOptions {
        metrics: MetricsMode::Separate("127.0.0.1:0".parse()?),
        ..ServeOptions::new("127.0.0.1:0".parse()?)
    };
    let server = start_with(store.clone(), options, quiet())?;
    let metrics_url = server
        .metrics_url()
        .ok_or_else(|| anyhow::anyhow!("no metrics listener"))?;
    assert_eq!(
        get(format!("{}/metrics", server.base_url())).await?,
        StatusCode::NOT_FOUND,
        "not on the API's listener"
    );
    assert_eq!(
        get(format!("{}/healthz", server.base_url())).await?,
        StatusCode::OK
    );
    let scraped = Metrics::scrape(&metrics_url).await?;
    assert_eq!(scraped.requests("healthz", "200"), 1.0);
    assert_eq!(
        get(format!("{metrics_url}/healthz")).await?,
        StatusCode::NOT_FOUND,
        "the metrics listener serves nothing else"
    );
    server.shutdown().await?;

    let options = ServeOptions {
        metrics: MetricsMode::Off,
        ..ServeOptions::new("127.0.0.1:0".parse()?)
    };
    let server = start_with(store.clone(), options, quiet())?;
    assert_eq!(
        get(format!("{}/metrics", server.base_url())).await?,
        StatusCode::NOT_FOUND
    );
    assert!(server.metrics_url().is_none());
    server.shutdown().await?;

    // An address in use for metrics: a clear error, and the API's address
    // is not left serving.
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let api: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?
    };
    let options = ServeOptions {
        metrics: MetricsMode::Separate(taken.local_addr()?),
        ..ServeOptions::new(api)
    };
    let refused = start_with(store, options, quiet()).err();
    let message = refused.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("cannot listen on"), "{message}");
    assert!(
        std::net::TcpListener::bind(api).is_ok(),
        "the API listener was released"
    );
    Ok(())
}
