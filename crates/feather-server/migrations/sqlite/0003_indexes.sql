-- Two scans found by `cargo xtask bench` on a database with 100,000
-- sources and 1,000,000 jobs.

-- sources.last_job_id references sync_jobs(id) (deferred). Without an index
-- on that column, every INSERT into sync_jobs made SQLite scan all of
-- `sources` for rows pointing at the new id (deferred-constraint
-- bookkeeping): a trigger's cost grew with the number of sources.
CREATE INDEX sources_last_job ON sources (last_job_id);

-- SQLite cannot use a partial index `WHERE status IN ('queued', 'processing')`
-- for `WHERE status = 'queued'`, so claiming a job scanned every job ever
-- run. This one matches the claim query exactly and holds only the queue.
DROP INDEX sync_jobs_open;
CREATE INDEX sync_jobs_queued ON sync_jobs (created_at, id) WHERE status = 'queued';
