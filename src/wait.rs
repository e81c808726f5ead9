//! Waiting for syncs: trigger and wait, follow one as a stream, retry what
//! is safe to retry.
//!
//! - [`Client::watch_sync`]: a stream of a source's status, one item per
//!   observed change, polling with backoff (200 ms to 2 s while nothing
//!   changes, [`PollPolicy`]), ending after a terminal status (or at once
//!   when the source is not syncing).
//! - [`Client::trigger_and_wait`]: triggers, attaches to the running sync on
//!   `409`, waits, and returns a typed [`SyncOutcome`].
//! - [`Client::trigger_or_attach`] and [`Client::sync_status`]: the two
//!   steps, with retries.
//!
//! Dropping the future or the stream cancels it; [`PollPolicy::deadline`]
//! bounds a whole wait.
//!
//! # Retries
//!
//! A status read is retried ([`RetryPolicy`], exponential backoff with
//! jitter) on connection errors, timeouts and `502`/`503`/`504`: a
//! restarting server, a database failover, a proxy in between. Reading
//! twice is harmless.
//!
//! A trigger is retried only where that cannot queue two syncs. The server
//! answers `503` only when nothing was written (the trigger's transaction
//! did not commit), and a connection that could not be opened carried no
//! request: both are retried. When a request may have reached the server
//! and its answer was lost (a timeout, a connection reset), the library
//! does not send it again blindly: it reads the status first, and if the
//! source is syncing, attaches to that sync. The server's guarded trigger
//! backs this up: while a sync is queued or running, any further trigger
//! answers `409`, which [`Client::trigger_and_wait`] treats as "attach".
//! The one case left is a lost answer to a trigger whose sync then ran to
//! its end before the status read: the source is at rest again, and the
//! library triggers once more, so that source is synced twice.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder as _, ExponentialBuilder, Retryable as _};
use futures_util::Stream;

use crate::types::{SyncStatusResponse, SyncTriggerResponse};
use crate::{ApiError, Client, Error};

/// How the waiting calls retry a failed request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub max_retries: usize,
    /// Delay before the first retry.
    pub min_delay: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
    /// Longest time spent retrying one request.
    pub max_elapsed: Duration,
    /// Randomize each delay (so many clients do not retry in step).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// 12 retries from 100 ms doubling up to 4 s, jittered, at most 30 s
    /// in all: long enough for a server restart or a database failover.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 12,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(4),
            max_elapsed: Duration::from_secs(30),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// No retries: every failure is returned as it happens.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// This policy with at most `retries` retries.
    pub fn max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// This policy retrying one request for at most `elapsed`.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    fn backoff(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_total_delay(Some(self.max_elapsed));
        if self.jitter {
            builder.with_jitter()
        } else {
            builder
        }
    }
}

/// How the waiting calls poll a running sync.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PollPolicy {
    /// Delay after a read that saw a change.
    pub min_interval: Duration,
    /// Longest delay while nothing changes (the delay grows 1.5× per
    /// unchanged read up to this).
    pub max_interval: Duration,
    /// Longest a whole wait may take; `None`: no limit.
    pub deadline: Option<Duration>,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            min_interval: Duration::from_millis(200),
            max_interval: Duration::from_secs(2),
            deadline: None,
        }
    }
}

impl PollPolicy {
    /// This policy with a limit on a whole wait.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

/// How a sync ended.
#[derive(Clone, Debug, PartialEq)]
pub enum SyncOutcome {
    /// Every item was synced.
    Completed(SyncStatusResponse),
    /// The sync ended, but some items failed (`error_message` says which).
    PartialFailure(SyncStatusResponse),
    /// The sync failed (`error_message` says why).
    Failed(SyncStatusResponse),
}

impl SyncOutcome {
    /// The final status, whatever the outcome.
    pub fn status(&self) -> &SyncStatusResponse {
        match self {
            SyncOutcome::Completed(s) | SyncOutcome::PartialFailure(s) | SyncOutcome::Failed(s) => {
                s
            }
        }
    }

    /// The outcome a terminal status stands for (`None` while it runs).
    pub fn from_status(status: SyncStatusResponse) -> Option<SyncOutcome> {
        match status.last_sync_status.as_deref() {
            Some("completed") => Some(SyncOutcome::Completed(status)),
            Some("partial_failure") => Some(SyncOutcome::PartialFailure(status)),
            Some("failed") => Some(SyncOutcome::Failed(status)),
            _ => None,
        }
    }
}

/// What [`Client::trigger_or_attach`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Triggered {
    /// A new sync was queued.
    Queued(SyncTriggerResponse),
    /// A sync was already queued or running (`409`); the server's message.
    Attached(String),
}

/// Why waiting for a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// A request failed for good (after the retries the policy allows).
    #[error("request failed: {0}")]
    Request(#[from] Error<ApiError>),
    /// [`PollPolicy::deadline`] passed before the sync ended.
    #[error("the sync did not end within {0:?}")]
    Deadline(Duration),
    /// The source is at rest, but its last job never reached an end (no
    /// job, or a status this client does not know).
    #[error("the source is not syncing and its last sync has no outcome ({0:?})")]
    NoOutcome(Option<String>),
}

/// A failure a later attempt may not see: no connection, a timeout, a
/// server or proxy saying "not now".
fn transient(error: &Error<ApiError>) -> bool {
    match error {
        Error::CommunicationError(e) => e.is_connect() || e.is_timeout() || e.is_request(),
        Error::ErrorResponse(answer) => matches!(answer.status().as_u16(), 502..=504),
        Error::UnexpectedResponse(answer) => matches!(answer.status().as_u16(), 502..=504),
        _ => false,
    }
}

/// A failure after which the server certainly wrote nothing: the
/// connection was never made, or the server answered 503.
fn nothing_written(error: &Error<ApiError>) -> bool {
    match error {
        Error::CommunicationError(e) => e.is_connect(),
        Error::ErrorResponse(answer) => answer.status().as_u16() == 503,
        _ => false,
    }
}

/// Whether the status shows nothing more will happen: the source is not
/// syncing, or its last job reached an end.
pub fn is_settled(status: &SyncStatusResponse) -> bool {
    status.source_status != "syncing"
        || matches!(
            status.last_sync_status.as_deref(),
            Some("completed" | "partial_failure" | "failed")
        )
}

impl Client {
    /// The status of `source_id`, retried on transient failures as
    /// [`RetryPolicy`] allows.
    pub async fn sync_status(
        &self,
        kb_id: uuid::Uuid,
        source_id: uuid::Uuid,
    ) -> Result<SyncStatusResponse, Error<ApiError>> {
        let read = || async {
            self.get_sync_status()
                .kb_id(kb_id)
                .source_id(source_id)
                .send()
                .await
                .map(|answer| answer.into_inner())
        };
        read.retry(self.inner.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(transient)
            .await
    }

    /// Triggers a sync of `source_id`; a sync already queued or running
    /// (`409`) is [`Triggered::Attached`]. Retried only where that cannot
    /// queue a second sync (see the module docs).
    pub async fn trigger_or_attach(
        &self,
        kb_id: uuid::Uuid,
        source_id: uuid::Uuid,
    ) -> Result<Triggered, Error<ApiError>> {
        let mut backoff = self.inner.retry.backoff().build();
        loop {
            let sent = self
                .trigger_sync()
                .kb_id(kb_id)
                .source_id(source_id)
                .send()
                .await;
            let error = match sent {
                Ok(answer) => return Ok(Triggered::Queued(answer.into_inner())),
                Err(Error::ErrorResponse(answer)) if answer.status().as_u16() == 409 => {
                    return Ok(Triggered::Attached(answer.into_inner().message()));
                }
                Err(error) => error,
            };
            if !transient(&error) {
                return Err(error);
            }
            let Some(delay) = backoff.next() else {
                return Err(error);
            };
            if !nothing_written(&error) {
                // The trigger may have been queued and its answer lost.
                let status = self.sync_status(kb_id, source_id).await?;
                if status.source_status == "syncing" {
                    return Ok(Triggered::Attached(
                        "the trigger's answer was lost; the source is syncing".into(),
                    ));
                }
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// Triggers a sync of `source_id` (attaching to a running one on
    /// `409`), waits for it to end and returns how it ended.
    ///
    /// Two callers doing this at once on one source get the same job's
    /// outcome: one queues it, the other attaches.
    pub async fn trigger_and_wait(
        &self,
        kb_id: uuid::Uuid,
        source_id: uuid::Uuid,
    ) -> Result<SyncOutcome, WaitError> {
        let started = Instant::now();
        let deadline = self.inner.poll.deadline;
        let job = match self.trigger_or_attach(kb_id, source_id).await? {
            Triggered::Queued(answer) => Some(answer.job_id),
            Triggered::Attached(_) => None,
        };
        let mut watch = std::pin::pin!(self.watch_from(kb_id, source_id, job, started));
        let mut last = None;
        while let Some(status) = futures_util::StreamExt::next(&mut watch).await {
            last = Some(status?);
        }
        let last = last.ok_or_else(|| WaitError::Deadline(deadline.unwrap_or_default()))?;
        let outcome_of = last.last_sync_status.clone();
        SyncOutcome::from_status(last).ok_or(WaitError::NoOutcome(outcome_of))
    }

    /// The status of `source_id`, once now and then on every observed
    /// change, until it is settled ([`is_settled`]): the stream ends after
    /// its last job's terminal status, or after the first item when the
    /// source is not syncing. Polls with backoff ([`PollPolicy`]); each
    /// read is retried ([`RetryPolicy`]), so the stream keeps going across
    /// a server restart. An error ends the stream after it.
    pub fn watch_sync(
        &self,
        kb_id: uuid::Uuid,
        source_id: uuid::Uuid,
    ) -> impl Stream<Item = Result<SyncStatusResponse, WaitError>> + Send + 'static {
        self.watch_from(kb_id, source_id, None, Instant::now())
    }

    /// [`Client::watch_sync`], waiting for `job` to be the source's last
    /// job when given, and counting the deadline from `started`.
    fn watch_from(
        &self,
        kb_id: uuid::Uuid,
        source_id: uuid::Uuid,
        job: Option<uuid::Uuid>,
        started: Instant,
    ) -> impl Stream<Item = Result<SyncStatusResponse, WaitError>> + Send + 'static {
        let poll = self.inner.poll;
        let watch = Watch {
            client: self.clone(),
            kb_id,
            source_id,
            job,
            poll,
            started,
            last: None,
            delay: Duration::ZERO,
            done: false,
        };
        futures_util::stream::unfold(watch, Watch::next)
    }
}

/// The state of one [`Client::watch_sync`] stream.
struct Watch {
    client: Client,
    kb_id: uuid::Uuid,
    source_id: uuid::Uuid,
    job: Option<uuid::Uuid>,
    poll: PollPolicy,
    started: Instant,
    last: Option<SyncStatusResponse>,
    delay: Duration,
    done: bool,
}

impl Watch {
    /// Reads until the status differs from the last item (or the wait is
    /// over), and yields it.
    async fn next(mut self) -> Option<(Result<SyncStatusResponse, WaitError>, Watch)> {
        if self.done {
            return None;
        }
        loop {
            if let Some(limit) = self.poll.deadline {
                let left = limit.saturating_sub(self.started.elapsed());
                if left < self.delay {
                    tokio::time::sleep(left).await;
                    self.done = true;
                    return Some((Err(WaitError::Deadline(limit)), self));
                }
            }
            tokio::time::sleep(self.delay).await;
            let status = match self.client.sync_status(self.kb_id, self.source_id).await {
                Ok(status) => status,
                Err(error) => {
                    self.done = true;
                    return Some((Err(error.into()), self));
                }
            };
            // Until the awaited job shows up, an older job's end is not ours.
            let ours = self
                .job
                .is_none_or(|job| status.last_sync_job_id == Some(job));
            let settled = ours && is_settled(&status);
            if self.last.as_ref() == Some(&status) && !settled {
                self.delay = self
                    .delay
                    .mul_f32(1.5)
                    .clamp(self.poll.min_interval, self.poll.max_interval);
                continue;
            }
            self.delay = self.poll.min_interval;
            self.done = settled;
            if self.last.as_ref() == Some(&status) {
                // Settled on a status already yielded: end without repeating it.
                return None;
            }
            self.last = Some(status.clone());
            return Some((Ok(status), self));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(source: &str, job: Option<&str>) -> SyncStatusResponse {
        SyncStatusResponse {
            source_id: uuid::Uuid::nil(),
            source_status: source.into(),
            last_sync_job_id: None,
            last_sync_status: job.map(str::to_owned),
            last_sync_started_at: None,
            last_sync_completed_at: None,
            total_items: None,
            processed_count: None,
            error_message: None,
        }
    }

    #[test]
    fn a_source_is_settled_at_rest_or_after_its_job_ended() {
        assert!(is_settled(&status("active", None)));
        assert!(is_settled(&status("syncing", Some("partial_failure"))));
        assert!(!is_settled(&status("syncing", Some("processing"))));
        assert!(!is_settled(&status("syncing", Some("queued"))));
    }

    #[test]
    fn outcomes_follow_the_job_status() {
        let completed = SyncOutcome::from_status(status("active", Some("completed")));
        assert!(matches!(completed, Some(SyncOutcome::Completed(_))));
        let partial = SyncOutcome::from_status(status("active", Some("partial_failure")));
        assert!(matches!(partial, Some(SyncOutcome::PartialFailure(_))));
        let failed = SyncOutcome::from_status(status("error", Some("failed")));
        assert!(matches!(failed, Some(SyncOutcome::Failed(_))));
        assert_eq!(
            SyncOutcome::from_status(status("syncing", Some("processing"))),
            None
        );
    }

    #[test]
    fn the_default_retry_policy_gives_up_within_its_limit() {
        let policy = RetryPolicy::default();
        let delays: Vec<Duration> = policy.backoff().build().collect();
        assert!(!delays.is_empty() && delays.len() <= policy.max_retries);
        let total: Duration = delays.iter().sum();
        assert!(total <= policy.max_elapsed, "{total:?}");
        assert!(
            delays.iter().all(|d| *d <= policy.max_delay * 2),
            "{delays:?}"
        );
        assert_eq!(RetryPolicy::none().backoff().build().count(), 0);
    }
}
