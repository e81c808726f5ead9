//! The load generator against the in-process ceiling and a real server.

use std::time::Duration;

use bytes::Bytes;
use feather_bench::loadgen::{self, LoadSpec};
use feather_bench::servers;
use hyper::Method;

#[tokio::test]
async fn closed_loop_counts_every_measured_response() -> anyhow::Result<()> {
    let (listener, addr) = servers::loopback().await?;
    let ceiling = tokio::spawn(servers::ceiling(
        listener,
        Bytes::from_static(b"{\"ok\":true}"),
    ));
    let spec = LoadSpec {
        connections: 4,
        warmup: Duration::from_millis(100),
        duration: Duration::from_millis(400),
    };
    let report = loadgen::run(
        addr,
        spec,
        loadgen::cycle(vec!["/a".into(), "/b".into()], "k", Method::GET),
    )
    .await?;
    ceiling.abort();
    assert!(report.requests > 10, "{report:?}");
    assert_eq!(report.statuses.get(&200), Some(&report.requests));
    assert_eq!(report.unexpected(200), 0);
    let l = &report.latency;
    assert!(
        0 < l.p50_us && l.p50_us <= l.p99_us && l.p99_us <= l.max_us,
        "{l:?}"
    );
    assert!(
        (report.seconds - 0.4).abs() < 0.1,
        "window {}",
        report.seconds
    );
    let rate = report.requests as f64 / report.seconds;
    assert!((report.requests_per_second - rate).abs() < 1e-6);
    Ok(())
}

#[tokio::test]
async fn a_source_that_runs_dry_ends_the_run() -> anyhow::Result<()> {
    let (listener, addr) = servers::loopback().await?;
    let ceiling = tokio::spawn(servers::ceiling(listener, Bytes::from_static(b"{}")));
    let paths: Vec<String> = (0..50).map(|i| format!("/p/{i}")).collect();
    let spec = LoadSpec {
        connections: 3,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(30),
    };
    let report = loadgen::run(addr, spec, loadgen::each_once(paths, "k", Method::POST)).await?;
    ceiling.abort();
    assert_eq!(report.requests, 50);
    assert!(
        report.seconds < 5.0,
        "the window ends at the last response: {}",
        report.seconds
    );
    Ok(())
}

#[tokio::test]
async fn a_burst_of_triggers_on_one_source_has_one_winner() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("b.db").display());
    let store = feather_server::store::open(&url).await?;
    let org = store.create_organization("o").await?.id;
    let kb = store.create_knowledge_base(org, "kb").await?.id;
    let (key, _) = feather_server::auth::issue_key(store.as_ref(), org, "k").await?;
    let source = store.seed_history(kb, "burst", 1, 3).await?[0];
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let server = feather_server::start(store, "127.0.0.1:0".parse()?, None, log)?;
    let path = format!("/v1/knowledge-base/knowledge-bases/{kb}/sources/{source}/sync");
    let source_fn = loadgen::cycle(vec![path], &key, Method::POST);
    let report = loadgen::burst(server.local_addr(), 100, source_fn).await?;
    server.shutdown().await?;
    assert_eq!(report.errors, 0);
    assert_eq!(report.statuses.get(&200), Some(&1), "{:?}", report.statuses);
    assert_eq!(
        report.statuses.get(&409),
        Some(&99),
        "{:?}",
        report.statuses
    );
    assert!(report.latency.p99_us >= report.latency.p50_us);
    Ok(())
}

#[test]
fn proc_readings_of_this_process_are_plausible() -> anyhow::Result<()> {
    let pid = std::process::id();
    let memory = feather_bench::process::memory(pid)?;
    assert!(
        memory.rss_kib > 100 && memory.peak_rss_kib >= memory.rss_kib,
        "{memory:?}"
    );
    // Busy work shows up as CPU time (in clock ticks, so allow a while).
    let before = feather_bench::process::cpu_time(pid)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut x = 0u64;
    while feather_bench::process::cpu_time(pid)? < before + Duration::from_millis(30) {
        assert!(std::time::Instant::now() < deadline, "CPU time never moved");
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
    }
    assert!(x > 0);
    Ok(())
}
