//! Success bodies of the two operations and the status vocabularies they use.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Answer of `get_sync_status`: the source's state and its last sync job.
///
/// Every `last_*` field and the counters are `null` before the first sync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SyncStatusResponse {
    /// The source asked about.
    pub source_id: Uuid,
    /// `active`, `syncing` or `error`.
    pub source_status: SourceStatus,
    /// The most recent sync job of this source.
    pub last_sync_job_id: Option<Uuid>,
    /// Status of that job (`queued`, `processing`, `completed`, `partial_failure`, `failed`).
    pub last_sync_status: Option<JobStatus>,
    /// When the job started processing.
    pub last_sync_started_at: Option<DateTime<Utc>>,
    /// When the job reached a terminal status.
    pub last_sync_completed_at: Option<DateTime<Utc>>,
    /// Items the job found so far; may grow while a crawl discovers more.
    pub total_items: Option<i64>,
    /// Items the job has processed.
    pub processed_count: Option<i64>,
    /// Why the job failed (human text).
    pub error_message: Option<String>,
}

/// Answer of `trigger_sync`: the queued job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SyncTriggerResponse {
    /// The new sync job.
    pub job_id: Uuid,
    /// Always `queued` on a fresh trigger.
    pub status: JobStatus,
    /// Human-readable confirmation.
    pub message: String,
}

/// A status string that is not part of the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown status {:?}", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

/// Declares a string enum with `as_str`, `Display` and `FromStr`. Variants
/// carry no doc comments so that the schema is a plain `enum` of strings.
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $(#[allow(missing_docs)] #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in lifecycle order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire (and database) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownStatus(other.to_owned())),
                }
            }
        }
    };
}

status_enum! {
    /// State of a connector source: `active` (idle), `syncing` (a job is
    /// queued or running) or `error` (the last sync failed). A sync may be
    /// triggered from `active` and `error`.
    SourceStatus {
        Active => "active",
        Syncing => "syncing",
        Error => "error",
    }
}

status_enum! {
    /// State of a sync (ingestion) job, in upstream's vocabulary: `queued`
    /// (waiting for a worker), `processing`, then `completed` (every item
    /// ingested), `partial_failure` (ran to the end, some items failed) or
    /// `failed` (could not run to the end).
    JobStatus {
        Queued => "queued",
        Processing => "processing",
        Completed => "completed",
        PartialFailure => "partial_failure",
        Failed => "failed",
    }
}

impl JobStatus {
    /// Whether the job has finished (no worker will touch it again).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::PartialFailure | JobStatus::Failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_spelling() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>(), Ok(*status));
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(serde_json::json!(status.as_str()))
            );
        }
        for status in SourceStatus::ALL {
            assert_eq!(status.as_str().parse::<SourceStatus>(), Ok(*status));
        }
        assert_eq!(
            "running".parse::<JobStatus>(),
            Err(UnknownStatus("running".into()))
        );
    }

    #[test]
    fn only_finished_jobs_are_terminal() {
        let terminal: Vec<_> = JobStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(terminal, ["completed", "partial_failure", "failed"]);
    }
}
