-- Documents ingested by syncs, and the lease index the reaper scans.

CREATE TABLE documents (
    id               TEXT PRIMARY KEY NOT NULL,
    source_id        TEXT NOT NULL REFERENCES sources (id),
    external_id      TEXT NOT NULL,
    title            TEXT,
    content_hash     TEXT NOT NULL,
    size_bytes       INTEGER NOT NULL,
    text             TEXT NOT NULL,
    -- The last job that saw this item (ingested it, found it unchanged, or
    -- failed to read it): a complete sync deletes the documents it did not see.
    last_seen_job_id TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (source_id, external_id)
);
CREATE INDEX documents_seen ON documents (source_id, last_seen_job_id);

CREATE INDEX sync_jobs_lease ON sync_jobs (lease_expires_at)
    WHERE status = 'processing';

-- The reaper looks for sources left syncing.
CREATE INDEX sources_syncing ON sources (status) WHERE status = 'syncing';
