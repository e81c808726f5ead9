//! Prometheus metrics: what the server counts, and the text `/metrics`
//! serves.
//!
//! One [`Metrics`] per server (its own registry, so several servers in one
//! process, as in tests, never mix their numbers). Request handlers, the
//! sync engine and the reaper record into it; values that live in the
//! database or the pools (queued jobs, connections) are read when Prometheus
//! scrapes. Names follow Prometheus' conventions: a `feather_` prefix, base
//! units (seconds), `_total` on counters.
//!
//! [`Metrics::disabled`] records nothing (`--no-metrics`); `cargo xtask
//! bench` measures the hot path both ways.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dropshot::HttpResponseError;
use feather_api::{ApiError, JobStatus};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::store::Store;

/// The operation ids requests are counted under: the Feather API's two and
/// the operator endpoints. Each starts at zero (status 200), so the
/// families are present before the first request.
pub const OPERATIONS: &[&str] = &[
    "trigger_sync",
    "get_sync_status",
    "healthz",
    "readyz",
    "openapi_json",
    "metrics",
];

/// Upper bounds of the request latency buckets, in seconds: a status read
/// takes tens of microseconds, a trigger about a millisecond, a request
/// waiting on a failing database up to the pool's acquire timeout.
const REQUEST_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// Upper bounds of the job duration buckets, in seconds.
const JOB_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// How long a scrape waits for the queued-jobs count before serving the
/// last value.
const QUEUE_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The server's metrics, or nothing when disabled.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Option<Arc<Recorded>>,
}

#[derive(Debug)]
struct Recorded {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    in_flight: IntGauge,
    store_unavailable: IntCounter,
    pool_connections: IntGaugeVec,
    jobs_claimed: IntCounter,
    jobs_finished: IntCounterVec,
    jobs_running: IntGauge,
    jobs_queued: IntGauge,
    job_duration: Histogram,
    items_processed: IntCounter,
    items_failed: IntCounter,
    leases_reaped: IntCounterVec,
    durability: IntGaugeVec,
    /// Per operation of [`OPERATIONS`]: its latency histogram and its
    /// 200 counter, resolved once (the hot path then hashes no labels).
    resolved: Vec<(&'static str, Histogram, IntCounter)>,
}

/// Why the metrics could not be set up (a name or label defined twice: a
/// bug, reported at start rather than on the first request).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl Metrics {
    /// Metrics that record nothing; `/metrics` is not served.
    pub fn disabled() -> Self {
        Metrics { inner: None }
    }

    /// A fresh registry with every metric at zero.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "feather_http_requests_total",
                "HTTP requests answered, by operation id and status code.",
            ),
            &["operation", "status"],
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "feather_http_request_duration_seconds",
                "Time from the handler's start to its response, by operation id.",
            )
            .buckets(REQUEST_BUCKETS.to_vec()),
            &["operation"],
        )?;
        let in_flight = IntGauge::new(
            "feather_http_requests_in_flight",
            "Requests being handled now.",
        )?;
        let store_unavailable = IntCounter::new(
            "feather_store_unavailable_total",
            "Requests answered 503 because the database was unavailable (full, unreachable, busy).",
        )?;
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "feather_store_pool_connections",
                "Database connections by pool and state (in_use, idle), read at scrape time.",
            ),
            &["pool", "state"],
        )?;
        let jobs_claimed = IntCounter::new(
            "feather_sync_jobs_claimed_total",
            "Sync jobs this replica claimed from the queue (retries included).",
        )?;
        let jobs_finished = IntCounterVec::new(
            Opts::new(
                "feather_sync_jobs_finished_total",
                "Sync jobs this replica finished, by terminal status.",
            ),
            &["status"],
        )?;
        let jobs_running = IntGauge::new(
            "feather_sync_jobs_running",
            "Sync jobs running on this replica now.",
        )?;
        let jobs_queued = IntGauge::new(
            "feather_sync_jobs_queued",
            "Sync jobs waiting in the database's queue (all replicas), read at scrape time.",
        )?;
        let job_duration = Histogram::with_opts(
            HistogramOpts::new(
                "feather_sync_job_duration_seconds",
                "Time from claim to the recorded end of jobs this replica finished.",
            )
            .buckets(JOB_BUCKETS.to_vec()),
        )?;
        let items_processed = IntCounter::new(
            "feather_sync_items_processed_total",
            "Documents written by this replica's syncs.",
        )?;
        let items_failed = IntCounter::new(
            "feather_sync_items_failed_total",
            "Items this replica's syncs could not fetch or store.",
        )?;
        let leases_reaped = IntCounterVec::new(
            Opts::new(
                "feather_sync_leases_reaped_total",
                "Jobs whose lease expired, by what the reaper did (retried, failed).",
            ),
            &["outcome"],
        )?;
        let durability = IntGaugeVec::new(
            Opts::new(
                "feather_store_durability",
                "Always 1; the labels say what an acknowledged write survives: the backend, \
                 its commit setting (synchronous=full|normal on SQLite, synchronous_commit on \
                 PostgreSQL) and whether a power cut loses nothing acknowledged.",
            ),
            &["backend", "setting", "power_cut_safe"],
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "feather_build_info",
                "Always 1; the labels say which build is running.",
            ),
            &["version", "revision"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), crate::GIT_REVISION])
            .set(1);
        // Present from the start, so a rate() over them has a first point.
        for status in [
            JobStatus::Completed,
            JobStatus::PartialFailure,
            JobStatus::Failed,
        ] {
            jobs_finished.with_label_values(&[status.as_str()]);
        }
        let resolved = OPERATIONS
            .iter()
            .map(|operation| {
                (
                    *operation,
                    request_duration.with_label_values(&[operation]),
                    requests.with_label_values(&[operation, "200"]),
                )
            })
            .collect();
        for outcome in ["retried", "failed"] {
            leases_reaped.with_label_values(&[outcome]);
        }
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(store_unavailable.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(jobs_claimed.clone()))?;
        registry.register(Box::new(jobs_finished.clone()))?;
        registry.register(Box::new(jobs_running.clone()))?;
        registry.register(Box::new(jobs_queued.clone()))?;
        registry.register(Box::new(job_duration.clone()))?;
        registry.register(Box::new(items_processed.clone()))?;
        registry.register(Box::new(items_failed.clone()))?;
        registry.register(Box::new(leases_reaped.clone()))?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(durability.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Metrics {
            inner: Some(Arc::new(Recorded {
                registry,
                requests,
                request_duration,
                in_flight,
                store_unavailable,
                pool_connections,
                jobs_claimed,
                jobs_finished,
                jobs_running,
                jobs_queued,
                job_duration,
                items_processed,
                items_failed,
                leases_reaped,
                durability,
                resolved,
            })),
        })
    }

    /// Whether anything is recorded (and `/metrics` served).
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Runs a request handler, counting it by `operation` and the status it
    /// answers, timing it and counting it in flight meanwhile.
    pub async fn observe<T>(
        &self,
        operation: &'static str,
        handler: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let Some(m) = &self.inner else {
            return handler.await;
        };
        let start = Instant::now();
        let _in_flight = InFlight::enter(&m.in_flight);
        let result = handler.await;
        let elapsed = start.elapsed().as_secs_f64();
        let resolved = m.resolved.iter().find(|(name, _, _)| *name == operation);
        match (&result, resolved) {
            (Ok(_), Some((_, histogram, ok))) => {
                ok.inc();
                histogram.observe(elapsed);
            }
            (result, resolved) => {
                let status = match result {
                    Ok(_) => http::StatusCode::OK,
                    Err(e) => e.status_code().as_status(),
                };
                m.requests
                    .with_label_values(&[operation, status.as_str()])
                    .inc();
                match resolved {
                    Some((_, histogram, _)) => histogram.observe(elapsed),
                    None => m
                        .request_duration
                        .with_label_values(&[operation])
                        .observe(elapsed),
                }
            }
        }
        result
    }

    /// A request was answered 503 because the database was unavailable.
    pub fn store_unavailable(&self) {
        if let Some(m) = &self.inner {
            m.store_unavailable.inc();
        }
    }

    /// A worker claimed a job; the returned guard counts it as running
    /// until dropped.
    pub fn job_claimed(&self) -> RunningJobGauge {
        RunningJobGauge {
            gauge: self.inner.as_ref().map(|m| {
                m.jobs_claimed.inc();
                m.jobs_running.inc();
                m.jobs_running.clone()
            }),
        }
    }

    /// A job's end was recorded with `status`, `elapsed` after its claim.
    pub fn job_finished(&self, status: JobStatus, elapsed: Duration) {
        if let Some(m) = &self.inner {
            m.jobs_finished.with_label_values(&[status.as_str()]).inc();
            m.job_duration.observe(elapsed.as_secs_f64());
        }
    }

    /// A batch was written: `documents` stored, `failed` items given up on.
    pub fn items_written(&self, documents: usize, failed: usize) {
        if let Some(m) = &self.inner {
            m.items_processed.inc_by(documents as u64);
            m.items_failed.inc_by(failed as u64);
        }
    }

    /// The reaper put `retried` jobs back in the queue and failed `failed`.
    pub fn leases_reaped(&self, retried: usize, failed: usize) {
        if let Some(m) = &self.inner {
            m.leases_reaped
                .with_label_values(&["retried"])
                .inc_by(retried as u64);
            m.leases_reaped
                .with_label_values(&["failed"])
                .inc_by(failed as u64);
        }
    }

    /// The text exposition of every metric (`None` when disabled), after
    /// reading the queue depth and the pools from `store`. A database that
    /// does not answer leaves the queue gauge at its last value: a scrape
    /// must not fail because the thing it watches is down.
    pub async fn render(&self, store: &dyn Store) -> Option<Result<String, MetricsError>> {
        let m = self.inner.as_ref()?;
        if let Ok(Ok(queued)) = tokio::time::timeout(QUEUE_READ_TIMEOUT, store.queued_jobs()).await
        {
            m.jobs_queued.set(i64::try_from(queued).unwrap_or(i64::MAX));
        }
        let durability = store.durability();
        m.durability
            .with_label_values(&[
                durability.backend,
                durability.setting,
                if durability.power_cut_safe {
                    "true"
                } else {
                    "false"
                },
            ])
            .set(1);
        for pool in store.pool_stats() {
            let idle = i64::try_from(pool.idle).unwrap_or(i64::MAX);
            let open = i64::try_from(pool.open).unwrap_or(i64::MAX);
            m.pool_connections
                .with_label_values(&[pool.pool, "idle"])
                .set(idle);
            m.pool_connections
                .with_label_values(&[pool.pool, "in_use"])
                .set((open - idle).max(0));
        }
        let mut text = Vec::new();
        let encoded = TextEncoder::new()
            .encode(&m.registry.gather(), &mut text)
            .map_err(MetricsError::from)
            .map(|()| String::from_utf8_lossy(&text).into_owned());
        Some(encoded)
    }
}

/// Counts a request in flight while it lives.
struct InFlight<'a>(&'a IntGauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts a job as running on this replica until dropped.
#[derive(Debug)]
pub struct RunningJobGauge {
    gauge: Option<IntGauge>,
}

impl Drop for RunningJobGauge {
    fn drop(&mut self) {
        if let Some(gauge) = &self.gauge {
            gauge.dec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_counted_by_operation_and_status() -> Result<(), Box<dyn std::error::Error>>
    {
        let metrics = Metrics::new()?;
        let ok: Result<(), ApiError> = metrics.observe("op", async { Ok(()) }).await;
        assert!(ok.is_ok());
        let refused: Result<(), ApiError> = metrics
            .observe("op", async { Err(ApiError::unavailable("full")) })
            .await;
        assert!(refused.is_err());
        let m = metrics.inner.as_ref().ok_or("enabled")?;
        assert_eq!(m.requests.with_label_values(&["op", "200"]).get(), 1);
        assert_eq!(m.requests.with_label_values(&["op", "503"]).get(), 1);
        assert_eq!(
            m.request_duration
                .with_label_values(&["op"])
                .get_sample_count(),
            2
        );
        assert_eq!(m.in_flight.get(), 0);
        Ok(())
    }

    #[test]
    fn a_running_job_counts_until_dropped() -> Result<(), MetricsError> {
        let metrics = Metrics::new()?;
        let guard = metrics.job_claimed();
        let m = metrics.inner.as_ref().map(|m| m.jobs_running.get());
        assert_eq!(m, Some(1));
        drop(guard);
        let m = metrics.inner.as_ref().map(|m| m.jobs_running.get());
        assert_eq!(m, Some(0));
        Ok(())
    }

    #[test]
    fn disabled_metrics_record_nothing() {
        let metrics = Metrics::disabled();
        metrics.store_unavailable();
        metrics.items_written(3, 1);
        let job = metrics.job_claimed();
        assert!(!metrics.enabled());
        assert!(job.gauge.is_none());
    }
}
