//! The rules both databases must agree on, with no SQL: which source status
//! follows a finished job, what the reaper does with an expired lease or a
//! source left `syncing`, how often a trigger re-checks, and the messages
//! that go with them.
//!
//! The queries in [`super::sql`] bind these statuses as parameters and ask
//! these functions for every decision, so SQLite and PostgreSQL cannot drift
//! apart in behaviour, only in how they store a value.

use feather_api::{JobStatus, SourceStatus};
use uuid::Uuid;

use super::StoreError;

/// Source statuses from which a trigger may start a sync (the guarded flip
/// matches only these).
pub const TRIGGERABLE: [SourceStatus; 2] = [SourceStatus::Active, SourceStatus::Error];

/// Job statuses of a job that is still to run or running: a source whose last
/// job is in one of these is rightly `syncing`.
pub const LIVE_JOB: [JobStatus; 2] = [JobStatus::Queued, JobStatus::Processing];

/// Times a trigger tries its guarded flip. A refused flip is re-checked: the
/// source may have stopped syncing between the flip and the check, and then
/// the trigger tries again rather than answer `409` for a sync that is over.
pub const TRIGGER_ATTEMPTS: usize = 3;

/// The source's status once its job has ended with `job_status`: back to
/// `active`, or `error` when the job failed.
pub fn resting_status(job_status: JobStatus) -> SourceStatus {
    match job_status {
        JobStatus::Failed => SourceStatus::Error,
        _ => SourceStatus::Active,
    }
}

/// The status the reaper gives a source found `syncing` whose last job is
/// not live: `active` after a job that reached its end, `error` after a
/// failed one, or when the job is missing.
pub fn repaired_status(last_job_status: Option<JobStatus>) -> SourceStatus {
    match last_job_status {
        Some(JobStatus::Completed | JobStatus::PartialFailure) => SourceStatus::Active,
        _ => SourceStatus::Error,
    }
}

/// What the reaper does with a job whose lease expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpiredLease {
    /// Put it back in the queue for another attempt.
    Retry,
    /// No attempts left: fail it with this message.
    Fail(String),
}

/// The reaper's decision for a job with an expired lease that has been
/// claimed `attempts` times, when a job may be claimed `max_attempts` times.
pub fn on_expired_lease(attempts: i64, max_attempts: i64) -> ExpiredLease {
    if attempts >= max_attempts {
        ExpiredLease::Fail(format!(
            "The sync stopped making progress: its worker stopped renewing its lease \
             on each of {attempts} attempts."
        ))
    } else {
        ExpiredLease::Retry
    }
}

/// What a trigger does after its guarded flip matched no row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefusedTrigger {
    /// No such source in this knowledge base for this organization.
    NotFound,
    /// The source is syncing: answer with its running (or queued) job.
    AlreadySyncing(Option<Uuid>),
    /// The source stopped syncing meanwhile: flip again.
    Retry,
}

/// Decides after a refused flip, from the source as read afterwards
/// (`None` when it is not there for this organization).
pub fn on_refused_trigger(current: Option<(SourceStatus, Option<Uuid>)>) -> RefusedTrigger {
    match current {
        None => RefusedTrigger::NotFound,
        Some((SourceStatus::Syncing, last_job_id)) => RefusedTrigger::AlreadySyncing(last_job_id),
        Some(_) => RefusedTrigger::Retry,
    }
}

/// The error when every one of [`TRIGGER_ATTEMPTS`] flips was refused for a
/// source that was not syncing when re-checked.
pub fn trigger_gave_up(source_id: Uuid) -> StoreError {
    StoreError::unavailable(format!(
        "source {source_id} kept changing state; retry the trigger"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_job_leaves_its_source_in_error_any_other_end_active() {
        assert_eq!(resting_status(JobStatus::Failed), SourceStatus::Error);
        assert_eq!(resting_status(JobStatus::Completed), SourceStatus::Active);
        assert_eq!(
            resting_status(JobStatus::PartialFailure),
            SourceStatus::Active
        );
    }

    #[test]
    fn the_reaper_repairs_to_active_only_after_a_job_that_reached_its_end() {
        assert_eq!(
            repaired_status(Some(JobStatus::Completed)),
            SourceStatus::Active
        );
        assert_eq!(
            repaired_status(Some(JobStatus::PartialFailure)),
            SourceStatus::Active
        );
        assert_eq!(
            repaired_status(Some(JobStatus::Failed)),
            SourceStatus::Error
        );
        assert_eq!(repaired_status(None), SourceStatus::Error);
    }

    #[test]
    fn an_expired_lease_is_retried_until_the_attempts_are_used_up() {
        assert_eq!(on_expired_lease(1, 3), ExpiredLease::Retry);
        assert_eq!(on_expired_lease(2, 3), ExpiredLease::Retry);
        let ExpiredLease::Fail(message) = on_expired_lease(3, 3) else {
            panic!("the third expired attempt of three must fail the job");
        };
        assert!(message.contains("on each of 3 attempts"), "{message}");
    }

    #[test]
    fn a_refused_trigger_attaches_to_a_syncing_source_and_retries_a_resting_one() {
        let job = Uuid::new_v4();
        assert_eq!(on_refused_trigger(None), RefusedTrigger::NotFound);
        assert_eq!(
            on_refused_trigger(Some((SourceStatus::Syncing, Some(job)))),
            RefusedTrigger::AlreadySyncing(Some(job))
        );
        assert_eq!(
            on_refused_trigger(Some((SourceStatus::Active, Some(job)))),
            RefusedTrigger::Retry
        );
        assert_eq!(
            on_refused_trigger(Some((SourceStatus::Error, None))),
            RefusedTrigger::Retry
        );
    }

    #[test]
    fn triggerable_and_live_statuses_do_not_overlap_with_syncing() {
        assert!(!TRIGGERABLE.contains(&SourceStatus::Syncing));
        assert!(LIVE_JOB.iter().all(|s| !s.is_terminal()));
    }
}
