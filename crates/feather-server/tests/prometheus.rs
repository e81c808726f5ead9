//! A real Prometheus scrapes a loopback server: the target is `up`, and the
//! request and job counters reach the values the test drove, read back
//! through Prometheus' HTTP query API. Needs the `prometheus` binary
//! (Debian's package; `.ci/run` installs it); without it the test skips.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use feather_test_support::poll::{self, terminal};
use feather_test_support::skip::skip;
use serde_json::Value;

use common::{Backend, TestServer};

/// `prometheus` on the `PATH`, if any.
fn prometheus_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("prometheus"))
        .find(|candidate| candidate.is_file())
}

/// The Prometheus process; killed when dropped.
struct Prometheus {
    child: Child,
    log: PathBuf,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`HOST:PORT`) every second.
    fn start(
        binary: &std::path::Path,
        dir: &std::path::Path,
        target: &str,
    ) -> anyhow::Result<Self> {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: feather\n    static_configs:\n      \
                 - targets: ['{target}']\n"
            ),
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = dir.join("prometheus.log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        Ok(Prometheus {
            child,
            log,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// The value of an instant query with one series, if it has one.
    async fn query(&self, http: &reqwest::Client, query: &str) -> anyhow::Result<Option<f64>> {
        let answer: Value = http
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", query)])
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(answer["status"] == "success", "{query}: {answer}");
        let value = answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok());
        Ok(value)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[tokio::test]
async fn prometheus_scrapes_the_server_and_sees_requests_and_jobs() -> anyhow::Result<()> {
    const TEST: &str = "prometheus_scrapes_the_server_and_sees_requests_and_jobs";
    let Some(binary) = prometheus_binary() else {
        return skip(TEST, "no `prometheus` on PATH (apt-get install prometheus)");
    };
    let Some(server) = TestServer::start(Backend::Sqlite).await? else {
        anyhow::bail!("SQLite is always available");
    };
    let prometheus = Prometheus::start(&binary, server.db.dir(), &server.addr().to_string())?;

    let http = reqwest::Client::new();
    // Prometheus starts, then scrapes every second; give it a while. The
    // traffic comes after its first scrape, so rates see it happen.
    let deadline = Instant::now() + Duration::from_secs(60);
    while prometheus
        .query(&http, "up{job=\"feather\"}")
        .await
        .ok()
        .flatten()
        != Some(1.0)
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "Prometheus did not scrape the server in 60 s; its log:\n{}",
            prometheus.log_text()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let client = server.client()?;
    let kb = server.demo.kb_id;
    let mut reads = 0;
    for part in ["fast", "flaky"] {
        let source = server.source(part);
        poll::trigger(&client, kb, source).await?;
        poll::watch(
            &client,
            kb,
            source,
            Duration::from_secs(30),
            |_| reads += 1,
            terminal,
        )
        .await?;
    }

    let expected = [
        ("up{job=\"feather\"}".to_owned(), 1.0),
        (
            "feather_http_requests_total{operation=\"trigger_sync\",status=\"200\"}".to_owned(),
            2.0,
        ),
        (
            "feather_http_requests_total{operation=\"get_sync_status\",status=\"200\"}".to_owned(),
            f64::from(reads),
        ),
        ("feather_sync_jobs_claimed_total".to_owned(), 2.0),
        (
            "feather_sync_jobs_finished_total{status=\"completed\"}".to_owned(),
            1.0,
        ),
        (
            "feather_sync_jobs_finished_total{status=\"partial_failure\"}".to_owned(),
            1.0,
        ),
        ("feather_sync_job_duration_seconds_count".to_owned(), 2.0),
    ];
    let mut last = Vec::new();
    loop {
        last.clear();
        for (query, want) in &expected {
            let got = prometheus.query(&http, query).await.ok().flatten();
            last.push((query.as_str(), *want, got));
        }
        if last.iter().all(|(_, want, got)| *got == Some(*want)) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "Prometheus did not see the expected values in 60 s: {last:#?}\nits log:\n{}",
            prometheus.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Rates work on what it scraped: the triggers happened in the last
    // minute.
    let increase = prometheus
        .query(
            &http,
            "sum(increase(feather_http_requests_total{operation=\"trigger_sync\"}[1m]))",
        )
        .await?;
    assert!(
        increase.is_some_and(|r| r > 0.0),
        "increase over 1m: {increase:?}"
    );
    drop(prometheus);
    Ok(server.server.shutdown().await?)
}
