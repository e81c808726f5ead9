//! The sync engine: workers that claim queued jobs from the database, run
//! their source's connector and write documents and progress; a reaper that
//! recovers jobs whose worker died.
//!
//! Lifecycle of a job: `queued` → (claimed) `processing` → `completed` (no
//! item failed), `partial_failure` (the run reached the end but some items
//! failed; the others are ingested) or `failed` (the run could not reach the
//! end: bad config, unreachable provider, every item failed, or the lease
//! expired on every attempt). The source goes `syncing` → `active`, or
//! `error` when the job failed.
//!
//! Durability: the queue is the `sync_jobs` table, so queued work survives a
//! restart. A claimed job carries a lease that the worker renews with every
//! progress write (at least every `lease / 3`); if the worker dies, the
//! reaper (at start and every `lease / 2`) puts the job back in the queue,
//! or fails it after `max_attempts`. Every write a worker makes is guarded by
//! its lease, so a worker that lost its job cannot overwrite a successor.
//! Graceful shutdown stops claiming, stops the running connectors and gives
//! their jobs back to the queue (without counting the attempt).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use feather_api::JobStatus;
use feather_connectors::{Completion, ConnectorError, Event, for_source};
use slog::{debug, error, info, warn};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::metrics::Metrics;
use crate::store::{Batch, ClaimedJob, DocumentWrite, Finish, Progress, Store, SyncJob};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Jobs run at once by this server.
    pub workers: usize,
    /// How long a claimed job stays owned without a renewal.
    pub lease: Duration,
    /// Claims per job before the reaper fails it.
    pub max_attempts: i64,
    /// Longest wait between progress writes while items flow.
    pub progress_interval: Duration,
    /// Items per progress write at most.
    pub progress_batch: usize,
    /// How often an idle worker looks for queued jobs (a trigger also wakes it).
    pub poll_interval: Duration,
    /// How long shutdown waits for workers to give their jobs back.
    pub shutdown_grace: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: 4,
            lease: Duration::from_secs(30),
            max_attempts: 3,
            progress_interval: Duration::from_millis(250),
            progress_batch: 100,
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The running engine.
pub struct Engine {
    stop: CancellationToken,
    tasks: JoinSet<()>,
    grace: Duration,
    log: slog::Logger,
}

impl Engine {
    /// Starts `config.workers` workers and the reaper. `wake` is notified by
    /// triggers so an idle worker claims new work at once.
    pub fn start(
        store: Arc<dyn Store>,
        config: EngineConfig,
        wake: Arc<Notify>,
        metrics: Metrics,
        log: slog::Logger,
    ) -> Engine {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let config = Arc::new(config);
        tasks.spawn(reaper(
            store.clone(),
            config.clone(),
            stop.clone(),
            metrics.clone(),
            log.new(slog::o!("component" => "reaper")),
        ));
        for index in 0..config.workers {
            let worker = Worker {
                owner: format!("{}/{index}", Uuid::new_v4()),
                store: store.clone(),
                config: config.clone(),
                stop: stop.clone(),
                wake: wake.clone(),
                metrics: metrics.clone(),
                log: log.new(slog::o!("worker" => index)),
            };
            tasks.spawn(worker.run());
        }
        Engine {
            stop,
            tasks,
            grace: config.shutdown_grace,
            log,
        }
    }

    /// Stops claiming, gives running jobs back to the queue and waits (at
    /// most the grace period) for the workers to finish doing so.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        let drained = tokio::time::timeout(self.grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(self.log, "workers still busy after the grace period; their leases will expire";
                "grace_ms" => self.grace.as_millis());
            self.tasks.abort_all();
        }
    }
}

/// Reaps at start, then every half lease.
async fn reaper(
    store: Arc<dyn Store>,
    config: Arc<EngineConfig>,
    stop: CancellationToken,
    metrics: Metrics,
    log: slog::Logger,
) {
    let every = (config.lease / 2).max(Duration::from_millis(100));
    loop {
        match store.reap(Utc::now(), config.max_attempts).await {
            Ok(report) => {
                metrics.leases_reaped(report.retried.len(), report.failed.len());
                if !report.retried.is_empty()
                    || !report.failed.is_empty()
                    || report.repaired_sources > 0
                {
                    info!(log, "reaped expired leases";
                        "retried" => ?report.retried, "failed" => ?report.failed,
                        "repaired_sources" => report.repaired_sources);
                }
            }
            Err(e) => warn!(log, "reaper pass failed"; "error" => %e),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// One worker: claims and runs jobs one at a time.
struct Worker {
    owner: String,
    store: Arc<dyn Store>,
    config: Arc<EngineConfig>,
    stop: CancellationToken,
    wake: Arc<Notify>,
    metrics: Metrics,
    log: slog::Logger,
}

/// How running a job ended, from the worker's point of view.
enum Ended {
    /// The job reached a terminal status (or was lost to another owner).
    Done,
    /// Shutdown interrupted it; it was given back to the queue.
    Released,
    /// The database refused its writes for most of a lease; it was given
    /// back to the queue without counting the attempt.
    HandedBack,
}

impl Worker {
    async fn run(self) {
        while !self.stop.is_cancelled() {
            let lease_until = Utc::now() + lease_delta(self.config.lease);
            match self.store.claim_job(&self.owner, lease_until).await {
                Ok(Some(claimed)) => match self.run_job(claimed).await {
                    Ended::Done => {}
                    Ended::Released => return,
                    Ended::HandedBack => {
                        // Let the storage recover before claiming again.
                        tokio::select! {
                            () = self.stop.cancelled() => return,
                            () = tokio::time::sleep(self.config.lease / 3) => {}
                        }
                    }
                },
                Ok(None) => {
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                }
                Err(e) => {
                    warn!(self.log, "cannot claim jobs"; "error" => %e);
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        () = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                }
            }
        }
    }

    async fn run_job(&self, claimed: ClaimedJob) -> Ended {
        let log = self.log.new(slog::o!(
            "job_id" => claimed.job.id.to_string(),
            "source_id" => claimed.job.source_id.to_string()));
        info!(log, "sync started"; "provider" => &claimed.provider,
            "attempt" => claimed.job.attempts);
        let _running = self.metrics.job_claimed();
        let mut job = RunningJob::new(self, claimed.job, log);
        let connector = match for_source(&claimed.provider, &claimed.config) {
            Ok(connector) => connector,
            Err(e) => {
                self.finish(&job, failed(e.to_string(), false)).await;
                return Ended::Done;
            }
        };
        let (events_tx, mut events) = mpsc::channel(self.config.progress_batch.max(1) * 2);
        let running = tokio::spawn(async move { connector.run(events_tx).await });
        // Abort the connector however this function returns.
        let _abort = AbortOnDrop(running.abort_handle());

        let mut ticker = tokio::time::interval(self.config.progress_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.stop.cancelled() => {
                    return self.release(&job.job, &job.log).await;
                }
                event = events.recv() => match event {
                    Some(event) => {
                        job.apply(event);
                        if job.batch_full() && let Some(ended) = self.progress(&mut job).await {
                            return ended;
                        }
                    }
                    None => break,
                },
                _ = ticker.tick() => {
                    if (job.dirty() || job.renewal_due())
                        && let Some(ended) = self.progress(&mut job).await
                    {
                        return ended;
                    }
                }
            }
        }
        // The last batch must be written before the job may end: finishing
        // without it would report items as synced that were never stored.
        loop {
            let written = job.write().await;
            if written == Write::Written {
                break;
            }
            if let Some(ended) = self.after_write(&job, written).await {
                return ended;
            }
            tokio::select! {
                () = self.stop.cancelled() => {
                    return self.release(&job.job, &job.log).await;
                }
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        let outcome = match running.await {
            Ok(outcome) => outcome,
            Err(e) => Err(ConnectorError::Failed(format!(
                "the connector crashed: {e}"
            ))),
        };
        let finish = job.tally.finish(outcome);
        self.finish(&job, finish).await;
        Ended::Done
    }

    /// Records the job's end. While the database refuses, retries for at
    /// most a lease (the job's work is done: recording it beats redoing it);
    /// after that the lease has run out and the reaper hands the job on.
    async fn finish(&self, running: &RunningJob<'_>, finish: Finish) {
        let (job, log) = (&running.job, &running.log);
        let give_up_at = Instant::now() + self.config.lease;
        loop {
            let error = match self.store.finish_job(job, &self.owner, &finish).await {
                Ok(true) => {
                    info!(log, "sync finished"; "status" => finish.status.as_str(),
                        "error" => finish.error_message.as_deref().unwrap_or(""));
                    self.metrics
                        .job_finished(finish.status, running.claimed_at.elapsed());
                    return;
                }
                Ok(false) => {
                    warn!(log, "lost the job's lease before finishing it");
                    return;
                }
                Err(e) => e,
            };
            if Instant::now() >= give_up_at {
                error!(log, "cannot record the job's end; the reaper will retry it";
                    "error" => %error);
                return;
            }
            warn!(log, "cannot record the job's end yet; retrying"; "error" => %error);
            tokio::select! {
                () = self.stop.cancelled() => {
                    self.release(job, log).await;
                    return;
                }
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Writes the job's progress; `Some` when the run must stop.
    async fn progress(&self, job: &mut RunningJob<'_>) -> Option<Ended> {
        let written = job.write().await;
        self.after_write(job, written).await
    }

    /// What a write means for the run: `Some` when it must stop (the lease
    /// is lost, or the database has refused for most of a lease and the job
    /// was handed back).
    async fn after_write(&self, job: &RunningJob<'_>, written: Write) -> Option<Ended> {
        match written {
            Write::Written => None,
            Write::LeaseLost => Some(Ended::Done),
            Write::Failed if job.lease_at_risk() => Some(self.hand_back(&job.job, &job.log).await),
            Write::Failed => None,
        }
    }

    /// Gives a job back whose progress the database kept refusing: the run
    /// is abandoned and the attempt not counted, so a storage outage longer
    /// than a few leases does not fail the job as if its worker had died.
    /// If even that write fails, the lease runs out and the reaper retries.
    async fn hand_back(&self, job: &SyncJob, log: &slog::Logger) -> Ended {
        match self.store.release_job(job.id, &self.owner).await {
            Ok(_) => warn!(
                log,
                "the database refused progress for most of a lease; job handed back"
            ),
            Err(e) => warn!(log, "cannot hand the job back; its lease will expire"; "error" => %e),
        }
        Ended::HandedBack
    }

    async fn release(&self, job: &SyncJob, log: &slog::Logger) -> Ended {
        match self.store.release_job(job.id, &self.owner).await {
            Ok(_) => info!(log, "shutdown: job returned to the queue"),
            Err(e) => warn!(log, "shutdown: cannot return the job; its lease will expire";
                "error" => %e),
        }
        Ended::Released
    }
}

/// What a progress write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Write {
    /// The batch and counters are stored, the lease renewed.
    Written,
    /// Another worker owns the job now; stop working on it.
    LeaseLost,
    /// The database refused; the batch is kept for the next try.
    Failed,
}

/// A job a worker is running: what it has read and not yet written, its
/// counters, and when the lease was last renewed.
struct RunningJob<'w> {
    worker: &'w Worker,
    job: SyncJob,
    log: slog::Logger,
    tally: Tally,
    batch: Batch,
    /// When the next write is due from (moved back after a failed write, so
    /// the next tick retries).
    last_write: Instant,
    /// When a write last succeeded: the lease runs from here.
    last_renewed: Instant,
    /// When this worker claimed the job.
    claimed_at: Instant,
}

impl<'w> RunningJob<'w> {
    fn new(worker: &'w Worker, job: SyncJob, log: slog::Logger) -> Self {
        RunningJob {
            worker,
            job,
            log,
            tally: Tally::default(),
            batch: Batch::default(),
            last_write: Instant::now(),
            last_renewed: Instant::now(),
            claimed_at: Instant::now(),
        }
    }

    /// Writes have failed for two thirds of a lease: the lease may run out
    /// before the next one succeeds.
    fn lease_at_risk(&self) -> bool {
        self.last_renewed.elapsed() >= self.worker.config.lease * 2 / 3
    }

    fn apply(&mut self, event: Event) {
        self.tally.apply(event, &mut self.batch);
    }

    /// Enough items wait to be written as one batch.
    fn batch_full(&self) -> bool {
        self.batch.documents.len() + self.batch.failed_ids.len()
            >= self.worker.config.progress_batch
    }

    /// Something read or counted is not written yet.
    fn dirty(&self) -> bool {
        !self.batch.documents.is_empty()
            || !self.batch.failed_ids.is_empty()
            || self.tally.progress() != self.tally.written
    }

    /// The lease needs renewing (a write renews it).
    fn renewal_due(&self) -> bool {
        self.last_write.elapsed() >= self.worker.config.lease / 3
    }

    /// Writes the batch and counters, renewing the lease.
    async fn write(&mut self) -> Write {
        let config = &self.worker.config;
        self.batch.progress = self.tally.progress();
        let lease_until = Utc::now() + lease_delta(config.lease);
        let recorded = self
            .worker
            .store
            .record_batch(&self.job, &self.worker.owner, &self.batch, lease_until)
            .await;
        match recorded {
            Ok(true) => {
                self.worker
                    .metrics
                    .items_written(self.batch.documents.len(), self.batch.failed_ids.len());
                debug!(self.log, "progress"; "processed" => self.batch.progress.processed_count,
                    "total" => self.batch.progress.total_items);
                self.tally.written = self.batch.progress;
                self.batch = Batch::default();
                self.last_write = Instant::now();
                self.last_renewed = self.last_write;
                Write::Written
            }
            Ok(false) => {
                warn!(self.log, "lost the job's lease; another worker owns it now");
                Write::LeaseLost
            }
            Err(e) => {
                // Keep the batch and try again at the next tick; the lease
                // covers the job until then, and a worker that outlives it
                // finds the job taken at its next write.
                warn!(self.log, "cannot record progress"; "error" => %e);
                self.last_write = Instant::now()
                    .checked_sub(config.lease / 3)
                    .unwrap_or_else(Instant::now);
                Write::Failed
            }
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn lease_delta(lease: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX)
}

fn failed(message: String, delete_unseen: bool) -> Finish {
    Finish {
        status: JobStatus::Failed,
        error_message: Some(message),
        delete_unseen,
    }
}

/// Counters of a running job.
#[derive(Default)]
struct Tally {
    total: Option<i64>,
    ingested: i64,
    failed: i64,
    /// What the last successful write recorded.
    written: Progress,
}

impl Tally {
    fn apply(&mut self, event: Event, batch: &mut Batch) {
        match event {
            Event::Total(total) => {
                let total = i64::try_from(total).unwrap_or(i64::MAX);
                self.total = Some(self.total.map_or(total, |t| t.max(total)));
            }
            Event::Item(item) => {
                self.ingested += 1;
                batch.documents.push(DocumentWrite {
                    external_id: item.external_id,
                    title: item.title,
                    text: item.text,
                    size_bytes: i64::try_from(item.size_bytes).unwrap_or(i64::MAX),
                    content_hash: item.content_hash,
                });
            }
            Event::Failed(failure) => {
                self.failed += 1;
                batch.failed_ids.push(failure.external_id);
            }
        }
    }

    fn progress(&self) -> Progress {
        Progress {
            total_items: self.total,
            processed_count: self.ingested + self.failed,
            failed_count: self.failed,
        }
    }

    /// The terminal status for a run that ended with `outcome`.
    fn finish(&self, outcome: Result<Completion, ConnectorError>) -> Finish {
        let completion = match outcome {
            Ok(completion) => completion,
            Err(e) => return failed(e.to_string(), false),
        };
        let processed = self.ingested + self.failed;
        if self.failed == 0 {
            Finish {
                status: JobStatus::Completed,
                error_message: None,
                delete_unseen: completion.complete,
            }
        } else if self.ingested == 0 {
            failed(format!("All {processed} items failed to sync."), false)
        } else {
            Finish {
                status: JobStatus::PartialFailure,
                error_message: Some(format!(
                    "{} of {processed} items failed to sync.",
                    self.failed
                )),
                delete_unseen: completion.complete,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use feather_connectors::{Item, ItemFailure};

    fn tally(ingested: usize, failed: usize) -> Tally {
        let mut tally = Tally::default();
        let mut batch = Batch::default();
        for i in 0..ingested {
            let item = Item::new(format!("i{i}"), None, "t".into(), 1);
            tally.apply(Event::Item(item), &mut batch);
        }
        for i in 0..failed {
            let failure = ItemFailure {
                external_id: format!("f{i}"),
                reason: "x".into(),
            };
            tally.apply(Event::Failed(failure), &mut batch);
        }
        tally
    }

    #[test]
    fn terminal_status_follows_the_documented_rules() {
        let done = Ok(Completion { complete: true });
        let cut = Ok(Completion { complete: false });
        let finish = tally(3, 0).finish(done);
        assert_eq!(
            (finish.status, finish.delete_unseen),
            (JobStatus::Completed, true)
        );
        assert!(
            !tally(3, 0).finish(cut).delete_unseen,
            "a cut run keeps documents"
        );
        let partial = tally(3, 1).finish(Ok(Completion { complete: true }));
        assert_eq!(partial.status, JobStatus::PartialFailure);
        assert_eq!(
            partial.error_message.as_deref(),
            Some("1 of 4 items failed to sync.")
        );
        let all_failed = tally(0, 2).finish(Ok(Completion { complete: true }));
        assert_eq!(all_failed.status, JobStatus::Failed);
        assert!(!all_failed.delete_unseen);
        let empty = tally(0, 0).finish(Ok(Completion { complete: true }));
        assert_eq!(
            empty.status,
            JobStatus::Completed,
            "an empty source syncs fine"
        );
        let broken = tally(2, 0).finish(Err(ConnectorError::Failed("root missing".into())));
        assert_eq!(broken.status, JobStatus::Failed);
        assert_eq!(broken.error_message.as_deref(), Some("root missing"));
    }

    #[test]
    fn totals_never_shrink() {
        let mut tally = Tally::default();
        let mut batch = Batch::default();
        tally.apply(Event::Total(5), &mut batch);
        tally.apply(Event::Total(3), &mut batch);
        assert_eq!(tally.progress().total_items, Some(5));
    }
}
