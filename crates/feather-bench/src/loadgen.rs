//! The load generator: closed-loop HTTP/1.1 keep-alive load over N
//! connections (like `wrk`), and a burst of N simultaneous requests.
//!
//! Every connection is opened before the clock starts, sends one request at
//! a time and records each response's latency in an HDR histogram
//! (microsecond resolution). Requests come from a [`RequestSource`] that may
//! run dry (distinct sources for the trigger benchmark), which ends the run
//! early.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::{BenchError, Result};

/// Makes request number `n` of a run, or `None` when there are no more.
pub type RequestSource = Arc<dyn Fn(u64) -> Option<Request<Empty<Bytes>>> + Send + Sync>;

/// Builds a bodiless request with the API key header.
pub fn request(method: Method, path: &str, api_key: &str) -> Request<Empty<Bytes>> {
    let mut request = Request::new(Empty::new());
    *request.method_mut() = method;
    // A path made by this crate always parses; fall back to "/" (a 404 the
    // report shows) rather than panic if one ever does not.
    *request.uri_mut() = path.parse().unwrap_or_default();
    let headers = request.headers_mut();
    headers.insert(
        hyper::header::HOST,
        hyper::header::HeaderValue::from_static("127.0.0.1"),
    );
    if let Ok(key) = hyper::header::HeaderValue::from_str(api_key) {
        headers.insert("x-api-key", key);
    }
    request
}

/// A request source cycling over `paths` (GET).
pub fn cycle(paths: Vec<String>, api_key: &str, method: Method) -> RequestSource {
    let key = api_key.to_string();
    Arc::new(move |n| {
        let path = paths.get(usize::try_from(n).ok()? % paths.len().max(1))?;
        Some(request(method.clone(), path, &key))
    })
}

/// A request source taking each of `paths` once, then running dry.
pub fn each_once(paths: Vec<String>, api_key: &str, method: Method) -> RequestSource {
    let key = api_key.to_string();
    Arc::new(move |n| {
        let path = paths.get(usize::try_from(n).ok()?)?;
        Some(request(method.clone(), path, &key))
    })
}

/// How long and how wide a closed-loop run is.
#[derive(Clone, Copy, Debug)]
pub struct LoadSpec {
    /// Connections, each with one request in flight.
    pub connections: usize,
    /// Time before measuring starts (responses in it are not counted).
    pub warmup: Duration,
    /// Measured time (the run may end earlier if the source runs dry).
    pub duration: Duration,
}

/// Latency summary of a set of responses, in microseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Slowest.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Latency::default();
        }
        Latency {
            p50_us: histogram.value_at_quantile(0.50),
            p90_us: histogram.value_at_quantile(0.90),
            p99_us: histogram.value_at_quantile(0.99),
            max_us: histogram.max(),
            mean_us: histogram.mean(),
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// Connections used.
    pub connections: usize,
    /// Responses completed in the measured window.
    pub requests: u64,
    /// Length of the measured window, in seconds.
    pub seconds: f64,
    /// `requests / seconds`.
    pub requests_per_second: f64,
    /// Latency of the measured responses.
    pub latency: Latency,
    /// Measured responses by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Transport errors (connection reset, refused, protocol errors).
    pub errors: u64,
}

impl LoadReport {
    /// Responses with a status other than `expected`, plus transport errors.
    pub fn unexpected(&self, expected: u16) -> u64 {
        self.errors
            + self
                .statuses
                .iter()
                .filter(|(status, _)| **status != expected)
                .map(|(_, n)| n)
                .sum::<u64>()
    }
}

fn histogram() -> Result<Histogram<u64>> {
    // 1 µs to 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| BenchError::Histogram(e.to_string()))
}

/// Opens one HTTP/1.1 connection.
pub async fn connect(addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| BenchError::Connect { addr, source })?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one request and reads the whole body; returns the status.
async fn send(
    sender: &mut SendRequest<Empty<Bytes>>,
    request: Request<Empty<Bytes>>,
) -> Result<(u16, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One request, on a connection of its own (for set-up and checks).
pub async fn fetch(addr: SocketAddr, request: Request<Empty<Bytes>>) -> Result<(u16, Bytes)> {
    let mut sender = connect(addr).await?;
    send(&mut sender, request).await
}

struct Tally {
    histogram: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    last: Option<Instant>,
}

impl Tally {
    fn new() -> Result<Self> {
        Ok(Tally {
            histogram: histogram()?,
            statuses: BTreeMap::new(),
            errors: 0,
            last: None,
        })
    }

    fn merge(&mut self, other: Tally) -> Result<()> {
        self.histogram
            .add(&other.histogram)
            .map_err(|e| BenchError::Histogram(e.to_string()))?;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.errors += other.errors;
        self.last = self.last.max(other.last);
        Ok(())
    }

    fn record(&mut self, status: u16, latency: Duration, at: Instant) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
        *self.statuses.entry(status).or_default() += 1;
        self.last = Some(at);
    }
}

/// Runs closed-loop load against `addr`.
pub async fn run(addr: SocketAddr, spec: LoadSpec, source: RequestSource) -> Result<LoadReport> {
    let mut senders = Vec::with_capacity(spec.connections);
    for _ in 0..spec.connections {
        senders.push(connect(addr).await?);
    }
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let end = measure_from + spec.duration;
    let mut tasks = Vec::with_capacity(spec.connections);
    for mut sender in senders {
        let next = next.clone();
        let source = source.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::new()?;
            while Instant::now() < end {
                let Some(request) = source(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let sent = Instant::now();
                match send(&mut sender, request).await {
                    Ok((status, _body)) => {
                        let done = Instant::now();
                        if sent >= measure_from && done <= end {
                            tally.record(status, done - sent, done);
                        }
                    }
                    Err(_) => {
                        tally.errors += 1;
                        // The connection is gone: open another one.
                        match connect(addr).await {
                            Ok(fresh) => sender = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            Ok::<_, BenchError>(tally)
        }));
    }
    let mut total = Tally::new()?;
    for task in tasks {
        total.merge(task.await??)?;
    }
    // A source that ran dry ends the window at its last response.
    let window_end = total.last.map_or(end, |last| last.min(end));
    let seconds = window_end
        .saturating_duration_since(measure_from)
        .as_secs_f64()
        .max(1e-9);
    let requests = total.histogram.len();
    Ok(LoadReport {
        connections: spec.connections,
        requests,
        seconds,
        requests_per_second: requests as f64 / seconds,
        latency: Latency::of(&total.histogram),
        statuses: total.statuses,
        errors: total.errors,
    })
}

/// What a burst measured.
#[derive(Clone, Debug, Serialize)]
pub struct BurstReport {
    /// Simultaneous requests.
    pub requests: usize,
    /// Time from release to the last response, in seconds.
    pub seconds: f64,
    /// Latency of each request, from its release.
    pub latency: Latency,
    /// Responses by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Transport errors.
    pub errors: u64,
}

/// Opens `n` connections, then releases one request on each at once.
pub async fn burst(addr: SocketAddr, n: usize, source: RequestSource) -> Result<BurstReport> {
    let mut senders = Vec::with_capacity(n);
    let mut requests = Vec::with_capacity(n);
    for i in 0..n {
        senders.push(connect(addr).await?);
        let request = source(i as u64)
            .ok_or_else(|| BenchError::Other(format!("request source ran dry at {i}")))?;
        requests.push(request);
    }
    let (release, released) = tokio::sync::watch::channel(None::<Instant>);
    let mut tasks = Vec::with_capacity(n);
    for (mut sender, request) in senders.into_iter().zip(requests) {
        let mut released = released.clone();
        tasks.push(tokio::spawn(async move {
            let start = (*released
                .wait_for(Option::is_some)
                .await
                .map_err(|e| BenchError::Other(format!("burst release: {e}")))?)
            .unwrap_or_else(Instant::now);
            let result = send(&mut sender, request).await;
            Ok::<_, BenchError>((start, result.map(|(status, _)| status), Instant::now()))
        }));
    }
    // Let every task reach its wait before the release.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    release
        .send(Some(start))
        .map_err(|e| BenchError::Other(format!("burst release: {e}")))?;
    let mut tally = Tally::new()?;
    for task in tasks {
        let (start, result, done) = task.await??;
        match result {
            Ok(status) => tally.record(status, done - start, done),
            Err(_) => tally.errors += 1,
        }
    }
    let seconds = tally.last.map_or(0.0, |last| (last - start).as_secs_f64());
    Ok(BurstReport {
        requests: n,
        seconds,
        latency: Latency::of(&tally.histogram),
        statuses: tally.statuses,
        errors: tally.errors,
    })
}
