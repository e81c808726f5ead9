//! The results of a run, as JSON and as the `BENCHMARKS.md` tables.

use std::fmt::Write as _;

use serde::Serialize;

use crate::scenarios::{
    BackendResults, BeforeAfter, CeilingResults, DurableTriggers, EngineResults, MetricsCost, Point,
};

/// Targets the issue sets; reported against, never asserted.
pub mod targets {
    /// GET status at 64 connections, as a fraction of the hyper ceiling.
    pub const CEILING_FRACTION: f64 = 0.30;
    /// p99 of GET status, in µs.
    pub const P99_US: u64 = 5_000;
    /// Large-history over small-history status latency.
    pub const HISTORY_RATIO: f64 = 1.3;
    /// Distinct-source triggers at 16 connections, as a fraction of the
    /// database's own ceiling for the same transaction.
    pub const TRIGGER_DB_FRACTION: f64 = 0.50;
    /// Throughput GET status may lose to metrics, in percent.
    pub const METRICS_COST_PERCENT: f64 = 5.0;
    /// Ingest rate of the largest synthetic job over the smallest's.
    pub const INGEST_SIZE_RATIO: f64 = 0.9;
}

/// The machine a run was made on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub cores: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu: String,
    /// Kernel release.
    pub kernel: String,
    /// Total memory, in MiB.
    pub memory_mib: u64,
}

impl Machine {
    /// Reads it from the running system.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, name)| name.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kib| kib / 1024);
        Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            kernel,
            memory_mib,
        }
    }
}

/// Everything one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    /// The command that produced it.
    pub command: String,
    /// UTC time the run started.
    pub started_at: String,
    /// `git describe` of the tree measured.
    pub revision: String,
    /// Where it ran.
    pub machine: Machine,
    /// Load generator threads.
    pub client_threads: usize,
    /// Measured seconds per load point (after the warm-up).
    pub seconds_per_point: f64,
    /// Warm-up seconds per load point.
    pub warmup_seconds: f64,
    /// The hyper ceiling.
    pub ceiling: CeilingResults,
    /// Per database backend.
    pub backends: Vec<BackendResults>,
    /// The sync engine.
    pub engine: Vec<EngineResults>,
    /// Durable triggers per commit setting.
    pub durability: Vec<DurableTriggers>,
    /// This tree against a baseline binary, if one was given.
    pub before_after: Option<BeforeAfter>,
    /// Why PostgreSQL rows are missing, if they are.
    pub postgres_skipped: Option<String>,
}

fn us(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.1} ms", v as f64 / 1000.0)
    } else {
        format!("{v} µs")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn meets(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

fn cpu(point: &Point) -> String {
    point
        .server_cpu_us_per_request
        .map_or_else(|| "–".into(), |c| format!("{c:.0} µs"))
}

/// The rates of `points`, in run order: `17049 / 16495 / 16316`.
fn rates(points: &[Point]) -> String {
    points
        .iter()
        .map(|p| format!("{:.0}", p.load.requests_per_second))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

impl Results {
    /// The `BENCHMARKS.md` text.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Written by `{}` (do not edit by hand; rerun it). Numbers vary from run to run \
             by several percent; compare runs on the same machine only.\n",
            self.command
        );
        let _ = writeln!(
            md,
            "- Revision: `{}`, run started {}",
            self.revision, self.started_at
        );
        let _ = writeln!(
            md,
            "- Machine: **{} cores** ({}), {} MiB memory, Linux {}",
            m.cores, m.cpu, m.memory_mib, m.kernel
        );
        let _ = writeln!(
            md,
            "- Load: `feather-bench` (this workspace) on the same machine over loopback, HTTP/1.1 \
             keep-alive, one request in flight per connection, {} client thread(s); {:.0} s \
             warm-up then {:.0} s measured per row. Servers are release builds in their own \
             process; `feather-server` runs with its defaults (info-level request log, to a \
             file here), `--workers 0` for the API rows.",
            self.client_threads, self.warmup_seconds, self.seconds_per_point
        );
        let _ = writeln!(
            md,
            "- Server CPU is user + system time of the server process per response (warm-up \
             included); on {} cores the load generator competes with the server for CPU.\n",
            m.cores
        );
        self.summary(&mut md);
        self.status_table(&mut md);
        self.share_table(&mut md);
        self.database_table(&mut md);
        self.scale_table(&mut md);
        self.metrics_table(&mut md);
        self.trigger_table(&mut md);
        self.durability_table(&mut md);
        self.before_after_table(&mut md);
        self.engine_table(&mut md);
        self.memory_table(&mut md);
        if let Some(reason) = &self.postgres_skipped {
            let _ = writeln!(md, "PostgreSQL rows are missing: {reason}\n");
        }
        md
    }

    fn summary(&self, md: &mut String) {
        if self.backends.is_empty() && self.engine.is_empty() && self.durability.is_empty() {
            return;
        }
        let _ = writeln!(md, "## Targets\n");
        let _ = writeln!(md, "| Target | Measured | Met |\n|---|---|---|");
        for backend in &self.backends {
            let share = &backend.ceiling_share;
            let fraction = share.fraction();
            let _ = writeln!(
                md,
                "| GET status @64 on {} ≥ {:.0}% of the hyper ceiling (medians of {} alternating rounds) | {:.0}% ({:.0} of {:.0} req/s) | {} |",
                backend.backend,
                targets::CEILING_FRACTION * 100.0,
                share.server.len(),
                fraction * 100.0,
                MetricsCost::median_rps(&share.server),
                MetricsCost::median_rps(&share.ceiling),
                meets(fraction >= targets::CEILING_FRACTION)
            );
        }
        for backend in &self.backends {
            let worst = backend
                .status
                .iter()
                .map(|p| p.load.latency.p99_us)
                .max()
                .unwrap_or(0);
            let _ = writeln!(
                md,
                "| GET status p99 < {} on {} (worst of 1/16/64 connections) | {} | {} |",
                us(targets::P99_US),
                backend.backend,
                us(worst),
                meets(worst < targets::P99_US)
            );
            if let (Some(small), Some(large)) =
                (backend.status.first(), backend.scale.points.first())
            {
                let r = ratio(
                    large.load.latency.p50_us as f64,
                    small.load.latency.p50_us as f64,
                );
                let _ = writeln!(
                    md,
                    "| Status latency, {} vs {} jobs, ≤ {:.1}× on {} (p50, 1 connection) | {:.2}× | {} |",
                    backend.scale.large_jobs,
                    backend.scale.small_jobs,
                    targets::HISTORY_RATIO,
                    backend.backend,
                    r,
                    meets(r <= targets::HISTORY_RATIO)
                );
            }
            if let (Some(ours), Some(db)) = (
                backend.triggers.iter().find(|p| p.load.connections == 16),
                backend.ceiling("trigger", 16),
            ) {
                let fraction = ratio(ours.load.requests_per_second, db.per_second);
                let _ = writeln!(
                    md,
                    "| Triggers @16 on {} ≥ {:.0}% of the database's ceiling | {:.0}% ({:.0} of {:.0}/s) | {} |",
                    backend.backend,
                    targets::TRIGGER_DB_FRACTION * 100.0,
                    fraction * 100.0,
                    ours.load.requests_per_second,
                    db.per_second,
                    meets(fraction >= targets::TRIGGER_DB_FRACTION)
                );
            }
            let cost = backend.metrics_cost.cost_percent();
            let _ = writeln!(
                md,
                "| Metrics cost GET status @64 on {} < {:.0}% (median req/s) | {:.1}% | {} |",
                backend.backend,
                targets::METRICS_COST_PERCENT,
                cost,
                meets(cost < targets::METRICS_COST_PERCENT)
            );
        }
        for engine in &self.engine {
            if let (Some(small), Some(large)) = (engine.sizes.first(), engine.sizes.last()) {
                let r = ratio(large.items_per_second, small.items_per_second);
                let _ = writeln!(
                    md,
                    "| Ingest rate on {}, {} vs {} items in one job, ≥ {:.1}× | {:.2}× ({:.0} vs {:.0} items/s) | {} |",
                    engine.backend,
                    large.items,
                    small.items,
                    targets::INGEST_SIZE_RATIO,
                    r,
                    large.items_per_second,
                    small.items_per_second,
                    meets(r >= targets::INGEST_SIZE_RATIO)
                );
            }
        }
        self.durable_targets(md);
        md.push('\n');
    }

    fn metrics_table(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "## Cost of metrics
"
        );
        let _ = writeln!(
            md,
            "GET status at 64 connections on the small database, served alternately by a server \
             with metrics (the default) and one with `--no-metrics`, {} rounds each, alternating \
             A B B A A B; the cost compares the medians. A negative cost is noise.\n",
            self.backends
                .first()
                .map_or(0, |b| b.metrics_cost.with_metrics.len())
        );
        let _ = writeln!(
            md,
            "| Backend | With metrics, req/s | Without, req/s | Median with | Median without | Cost | CPU/resp with → without |\n|---|---|---|---:|---:|---:|---:|"
        );
        for backend in &self.backends {
            let cost = &backend.metrics_cost;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.0} | {:.0} | {:.1}% | {:.0} µs → {:.0} µs |",
                backend.backend,
                rates(&cost.with_metrics),
                rates(&cost.without_metrics),
                MetricsCost::median_rps(&cost.with_metrics),
                MetricsCost::median_rps(&cost.without_metrics),
                cost.cost_percent(),
                MetricsCost::median_cpu_us(&cost.with_metrics),
                MetricsCost::median_cpu_us(&cost.without_metrics),
            );
        }
        md.push('\n');
    }

    fn database_table(&self, md: &mut String) {
        let _ = writeln!(md, "## Database ceilings\n");
        let _ = writeln!(
            md,
            "The server's own status query and trigger transaction (its SQL, from \
             `feather_server::store::sql`) in a tight loop straight against the database, one \
             connection per caller, prepared statements, no HTTP and no server: rusqlite on \
             SQLite (the trigger as `BEGIN IMMEDIATE`, flip, insert, `COMMIT`), tokio-postgres \
             on PostgreSQL, the trigger both as a transaction of two statements (four round \
             trips) and as the one statement the server sends (a data-modifying CTE, one \
             round trip). Each source is triggered \
             once; a trigger row ends early if its sources run out. The server rows above and \
             below are given as a fraction of the best variant at the same number of callers.\n"
        );
        let _ = writeln!(
            md,
            "| Backend | Operation | Variant | Callers | per second |\n|---|---|---|---:|---:|"
        );
        for backend in &self.backends {
            for c in &backend.ceilings {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {:.0} |",
                    backend.backend, c.operation, c.variant, c.callers, c.per_second
                );
            }
        }
        md.push('\n');
    }

    fn share_table(&self, md: &mut String) {
        let Some(first) = self.backends.first() else {
            return;
        };
        let _ = writeln!(
            md,
            "## Share of the hyper ceiling
"
        );
        let _ = writeln!(
            md,
            "GET status at 64 connections on the small database and the hyper ceiling, both \
             running, loaded in turn: {} rounds each, alternating A B B A A B, so that the \
             machine's drift falls on both alike; the share compares the medians (the target \
             above). The rows of the table before measured the ceiling once, minutes apart.\n",
            first.ceiling_share.server.len()
        );
        let _ = writeln!(
            md,
            "| Backend | hyper ceiling, req/s | feather-server, req/s | Median ceiling | Median server | Share | server p99 per round | server CPU/resp |\n|---|---|---|---:|---:|---:|---|---:|"
        );
        for backend in &self.backends {
            let share = &backend.ceiling_share;
            let p99s = share
                .server
                .iter()
                .map(|p| us(p.load.latency.p99_us))
                .collect::<Vec<_>>()
                .join(" / ");
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.0} | {:.0} | {:.0}% | {} | {:.0} µs |",
                backend.backend,
                rates(&share.ceiling),
                rates(&share.server),
                MetricsCost::median_rps(&share.ceiling),
                MetricsCost::median_rps(&share.server),
                share.fraction() * 100.0,
                p99s,
                MetricsCost::median_cpu_us(&share.server),
            );
        }
        md.push('\n');
    }

    fn status_table(&self, md: &mut String) {
        let _ = writeln!(md, "## GET status\n");
        let _ = writeln!(
            md,
            "One source with 10 jobs; the same request over and over. The ceiling is a minimal \
             hyper server answering every request with a fixed {}-byte status body (the size \
             of ours).\n",
            self.ceiling.body_bytes
        );
        let _ = writeln!(
            md,
            "| Server | Connections | req/s | of hyper ceiling | of database ceiling | p50 | p90 | p99 | max | server CPU/req | non-200 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let mut rows: Vec<(&str, &Point, Option<&BackendResults>)> = self
            .ceiling
            .points
            .iter()
            .map(|p| ("hyper ceiling", p, None))
            .collect();
        for backend in &self.backends {
            rows.extend(
                backend
                    .status
                    .iter()
                    .map(|p| (backend.backend.as_str(), p, Some(backend))),
            );
        }
        for (name, p, backend) in rows {
            let of_database = backend
                .and_then(|b| b.ceiling("status", p.load.connections))
                .map_or_else(
                    || "–".to_owned(),
                    |c| {
                        format!(
                            "{:.0}%",
                            ratio(p.load.requests_per_second, c.per_second) * 100.0
                        )
                    },
                );
            let ceiling = self
                .ceiling
                .points
                .iter()
                .find(|c| c.load.connections == p.load.connections)
                .map_or(f64::NAN, |c| c.load.requests_per_second);
            let l = &p.load.latency;
            let _ = writeln!(
                md,
                "| {name} | {} | {:.0} | {:.0}% | {of_database} | {} | {} | {} | {} | {} | {} |",
                p.load.connections,
                p.load.requests_per_second,
                ratio(p.load.requests_per_second, ceiling) * 100.0,
                us(l.p50_us),
                us(l.p90_us),
                us(l.p99_us),
                us(l.max_us),
                cpu(p),
                p.load.unexpected(200)
            );
        }
        md.push('\n');
    }

    fn scale_table(&self, md: &mut String) {
        let _ = writeln!(md, "## Scale: status latency against history size\n");
        let Some(first) = self.backends.first() else {
            return;
        };
        let _ = writeln!(
            md,
            "Small: {} source, {} jobs. Large: {} sources, {} jobs (bulk-loaded with \
             `feather-server admin seed-history`), each request for a different source in a \
             scattered order. Ratio = large / small.\n",
            first.scale.small_sources,
            first.scale.small_jobs,
            first.scale.large_sources,
            first.scale.large_jobs
        );
        let _ = writeln!(
            md,
            "| Backend | Connections | small p50 | large p50 | p50 ratio | small p99 | large p99 | small req/s | large req/s | req/s ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for backend in &self.backends {
            for (small, large) in backend.status.iter().zip(&backend.scale.points) {
                let (s, l) = (&small.load, &large.load);
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {:.2} | {} | {} | {:.0} | {:.0} | {:.2} |",
                    backend.backend,
                    s.connections,
                    us(s.latency.p50_us),
                    us(l.latency.p50_us),
                    ratio(l.latency.p50_us as f64, s.latency.p50_us as f64),
                    us(s.latency.p99_us),
                    us(l.latency.p99_us),
                    s.requests_per_second,
                    l.requests_per_second,
                    ratio(l.requests_per_second, s.requests_per_second)
                );
            }
        }
        for backend in &self.backends {
            let _ = writeln!(
                md,
                "\nBulk load on {}: {:.1} s.",
                backend.backend, backend.scale.seed_seconds
            );
        }
        md.push('\n');
    }

    fn trigger_table(&self, md: &mut String) {
        let _ = writeln!(md, "## POST trigger\n");
        let _ = writeln!(
            md,
            "Distinct sources: every request triggers a different idle source (one guarded \
             UPDATE and one INSERT in a transaction), on the large database. A row ends early \
             if its 30,000 sources run out.\n"
        );
        let _ = writeln!(
            md,
            "| Backend | Connections | triggers/s | of database ceiling | p50 | p99 | max | server CPU/req | non-200 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for backend in &self.backends {
            for p in &backend.triggers {
                let l = &p.load.latency;
                let of_database = backend.ceiling("trigger", p.load.connections).map_or_else(
                    || "–".to_owned(),
                    |c| {
                        format!(
                            "{:.0}%",
                            ratio(p.load.requests_per_second, c.per_second) * 100.0
                        )
                    },
                );
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.0} | {of_database} | {} | {} | {} | {} | {} |",
                    backend.backend,
                    p.load.connections,
                    p.load.requests_per_second,
                    us(l.p50_us),
                    us(l.p99_us),
                    us(l.max_us),
                    cpu(p),
                    p.load.unexpected(200)
                );
            }
        }
        let _ = writeln!(
            md,
            "\nContention: each request on its own connection, all released at once on one idle \
             source. Exactly one may win (200); the rest get 409.\n"
        );
        let _ = writeln!(
            md,
            "| Backend | Requests | 200 | 409 | other | p50 | p99 | max | all answered in |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for backend in &self.backends {
            let c = &backend.contention;
            let count = |s: u16| c.statuses.get(&s).copied().unwrap_or(0);
            let other = c.errors
                + c.statuses
                    .iter()
                    .filter(|(s, _)| **s != 200 && **s != 409)
                    .map(|(_, n)| n)
                    .sum::<u64>();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} ms |",
                backend.backend,
                c.requests,
                count(200),
                count(409),
                other,
                us(c.latency.p50_us),
                us(c.latency.p99_us),
                us(c.latency.max_us),
                c.seconds * 1000.0
            );
        }
        md.push('\n');
    }

    /// The SQLite ceiling of one durable transaction per trigger at
    /// `callers`, from the API part's ceilings.
    fn durable_ceiling(&self, callers: usize) -> Option<f64> {
        self.backends
            .iter()
            .filter(|b| b.backend == "sqlite")
            .flat_map(|b| &b.ceilings)
            .find(|c| {
                c.operation == "trigger" && c.callers == callers && c.variant.contains("FULL")
            })
            .map(|c| c.per_second)
    }

    fn durable_targets(&self, md: &mut String) {
        let Some(full) = self.durability.iter().find(|d| d.label.contains("full")) else {
            return;
        };
        let postgres = self.durability.iter().find(|d| d.label == "postgres");
        for (i, p) in full.points.iter().enumerate() {
            let c = p.load.connections;
            if let Some(pg) = postgres.and_then(|pg| pg.points.get(i)) {
                let _ = writeln!(
                    md,
                    "| Durable triggers @{c} on sqlite (full) ≥ postgres in the same run | {:.0} vs {:.0}/s | {} |",
                    p.load.requests_per_second,
                    pg.load.requests_per_second,
                    meets(p.load.requests_per_second >= pg.load.requests_per_second)
                );
            }
            if let Some(ceiling) = self.durable_ceiling(c) {
                let _ = writeln!(
                    md,
                    "| Durable triggers @{c} on sqlite (full) ≥ 2× one durable transaction per trigger | {:.1}× ({:.0} vs {ceiling:.0}/s) | {} |",
                    ratio(p.load.requests_per_second, ceiling),
                    p.load.requests_per_second,
                    meets(p.load.requests_per_second >= 2.0 * ceiling)
                );
            }
        }
        if let Some(p16) = full.points.first() {
            let _ = writeln!(
                md,
                "| Durable trigger p99 @16 on sqlite (full) ≤ 10 ms | {} | {} |",
                us(p16.load.latency.p99_us),
                meets(p16.load.latency.p99_us <= 10_000)
            );
        }
        let p99 = full.while_ingesting.load.latency.p99_us;
        let _ = writeln!(
            md,
            "| Durable trigger p99 @16 on sqlite (full) while a sync ingests ≤ 10 ms | {} | {} |",
            us(p99),
            meets(p99 <= 10_000)
        );
    }

    fn durability_table(&self, md: &mut String) {
        if self.durability.is_empty() {
            return;
        }
        let _ = writeln!(
            md,
            "## Durable triggers
"
        );
        let _ = writeln!(
            md,
            "POST trigger on distinct sources (30,000 fresh ones per row) on a fresh database, \
             for each commit setting in the same run: SQLite with `--sqlite-synchronous full` \
             (the default: every acknowledged trigger is flushed, one flush per group commit) and \
             `normal` (flushed at checkpoints: a power cut loses the last moments' triggers), and \
             PostgreSQL (`synchronous_commit=on`). Then the same at 16 connections while one \
             worker ingests a {}-item synthetic sync, with that sync's ingest rate just before \
             and during the load (from its status). The ceiling is the same trigger transaction \
             straight against SQLite with `synchronous=FULL`, one transaction (one fsync) per \
             trigger, one connection per caller (Database ceilings).\n",
            self.durability.first().map_or(0, |d| d.ingest_items)
        );
        let _ = writeln!(
            md,
            "| Setting | Load | Connections | triggers/s | of durable ceiling | p50 | p99 | max | server CPU/req | non-200 | ingest items/s (alone → during) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        for d in &self.durability {
            let rows = d
                .points
                .iter()
                .map(|p| (p, "triggers only", String::from("–")))
                .chain(std::iter::once((
                    &d.while_ingesting,
                    "while a sync ingests",
                    format!(
                        "{:.0} → {:.0}",
                        d.ingest_alone_items_per_second, d.ingest_items_per_second
                    ),
                )));
            for (p, what, ingest) in rows {
                let l = &p.load.latency;
                let of_ceiling = self.durable_ceiling(p.load.connections).map_or_else(
                    || "–".to_owned(),
                    |c| format!("{:.1}×", ratio(p.load.requests_per_second, c)),
                );
                let _ = writeln!(
                    md,
                    "| {} | {what} | {} | {:.0} | {of_ceiling} | {} | {} | {} | {} | {} | {ingest} |",
                    d.label,
                    p.load.connections,
                    p.load.requests_per_second,
                    us(l.p50_us),
                    us(l.p99_us),
                    us(l.max_us),
                    cpu(p),
                    p.load.unexpected(200)
                );
            }
        }
        md.push('\n');
    }

    fn before_after_table(&self, md: &mut String) {
        let Some(ab) = &self.before_after else {
            return;
        };
        let _ = writeln!(md, "## Before and after\n");
        let _ = writeln!(
            md,
            "The server of this tree against `{}` (an earlier revision's release build), each \
             with its defaults, on SQLite, in alternating rounds A B B A A B (A before): POST \
             trigger on 30,000 fresh sources per round at 16 connections, GET status on one \
             source at 64, and a {}-item synthetic sync with 4 workers on a second database. \
             The change compares medians.\n",
            ab.baseline, ab.ingest_items
        );
        let _ = writeln!(
            md,
            "| Measure | Before, per round | After, per round | Median before | Median after | Change | p99 before, per round | p99 after, per round |\n|---|---|---|---:|---:|---:|---|---|"
        );
        let p99s = |points: &[Point]| {
            points
                .iter()
                .map(|p| us(p.load.latency.p99_us))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        for (what, before, after) in [
            (
                "POST trigger @16, req/s",
                &ab.before.triggers,
                &ab.after.triggers,
            ),
            ("GET status @64, req/s", &ab.before.status, &ab.after.status),
        ] {
            let (b, a) = (
                MetricsCost::median_rps(before),
                MetricsCost::median_rps(after),
            );
            let _ = writeln!(
                md,
                "| {what} | {} | {} | {b:.0} | {a:.0} | {:+.0}% | {} | {} |",
                rates(before),
                rates(after),
                (ratio(a, b) - 1.0) * 100.0,
                p99s(before),
                p99s(after)
            );
        }
        let ingest = |runs: &[crate::scenarios::SyncRun]| {
            let mut rates: Vec<f64> = runs.iter().map(|r| r.items_per_second).collect();
            let text = rates
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(" / ");
            rates.sort_by(f64::total_cmp);
            (
                text,
                rates.get(rates.len() / 2).copied().unwrap_or(f64::NAN),
            )
        };
        let ((bt, b), (at, a)) = (ingest(&ab.before.ingest), ingest(&ab.after.ingest));
        let _ = writeln!(
            md,
            "| Ingest, items/s | {bt} | {at} | {b:.0} | {a:.0} | {:+.0}% | – | – |\n",
            (ratio(a, b) - 1.0) * 100.0
        );
    }

    fn engine_table(&self, md: &mut String) {
        let _ = writeln!(md, "## Sync engine\n");
        let _ = writeln!(
            md,
            "Default engine settings; time from the first job's `started_at` to the last \
             job's `completed_at`, as the status endpoint reports them. Synthetic items have \
             no delay; the site is served by the bench process over loopback (about 2.5 KB \
             per page, 10 links each). The last three rows are one synthetic source each of \
             half, once and twice the items, run in that order on the same database: the \
             ingest rate should not depend on a job's size.\n"
        );
        let _ = writeln!(
            md,
            "| Backend | Workers | Run | Items | Seconds | Items/s | Final status |\n|---|---:|---|---:|---:|---:|---|"
        );
        for engine in &self.engine {
            for run in engine.runs.iter().chain(&engine.sizes) {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {:.2} | {:.0} | {} |",
                    engine.backend,
                    engine.workers,
                    run.what,
                    run.items,
                    run.seconds,
                    run.items_per_second,
                    run.status
                );
            }
        }
        md.push('\n');
    }

    fn memory_table(&self, md: &mut String) {
        let _ = writeln!(md, "## Memory\n");
        let _ = writeln!(
            md,
            "Resident set of the `feather-server` process (`/proc/PID/status`): idle after \
             start-up, at the end of the 64-connection GET status row, and at the end of the \
             API run (after the large database and the triggers). RSS counts the pages of the \
             memory-mapped SQLite file the status reader has touched (shared with the OS page \
             cache); anonymous RSS (`RssAnon`) is the process's own heap and stacks.\n"
        );
        let _ = writeln!(
            md,
            "| Backend | Idle RSS (anon) | Under 64-connection load, RSS (anon) | End of run, RSS (anon) | Peak RSS |\n|---|---:|---:|---:|---:|"
        );
        let both = |m: Option<feather_bench::process::Memory>| {
            m.map_or_else(
                || "–".into(),
                |m| format!("{} ({})", mib(m.rss_kib), mib(m.anon_rss_kib)),
            )
        };
        for backend in &self.backends {
            let loaded = backend
                .status
                .iter()
                .find(|p| p.load.connections == 64)
                .and_then(|p| p.memory);
            let end = backend.triggers.last().and_then(|p| p.memory);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                backend.backend,
                both(Some(backend.idle_memory)),
                both(loaded),
                both(end),
                end.map_or_else(|| "–".into(), |m| mib(m.peak_rss_kib))
            );
        }
        md.push('\n');
    }
}
