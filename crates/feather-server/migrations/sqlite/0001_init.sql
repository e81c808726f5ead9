-- Tenants, credentials, knowledge bases, connector sources and sync jobs.
-- Ids are UUIDs in their hyphenated text form; timestamps are RFC 3339 UTC text.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- An API key is stored only as the SHA-256 of the whole key. `id` is the
-- public lookup part of the key (the characters after `fth_`), so a request
-- finds its row by id and compares the hash in constant time.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    key_hash    BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE knowledge_bases (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX knowledge_bases_org ON knowledge_bases (org_id);

CREATE TABLE sources (
    id          TEXT PRIMARY KEY NOT NULL,
    kb_id       TEXT NOT NULL REFERENCES knowledge_bases (id),
    name        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    config      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'syncing', 'error')),
    -- The trigger sets this in the same statement that flips the status,
    -- before it inserts the job: hence the deferred foreign key.
    last_job_id TEXT REFERENCES sync_jobs (id) DEFERRABLE INITIALLY DEFERRED,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX sources_kb ON sources (kb_id);

CREATE TABLE sync_jobs (
    id               TEXT PRIMARY KEY NOT NULL,
    source_id        TEXT NOT NULL REFERENCES sources (id),
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'processing', 'completed', 'partial_failure', 'failed')),
    total_items      INTEGER,
    processed_count  INTEGER NOT NULL DEFAULT 0,
    failed_count     INTEGER NOT NULL DEFAULT 0,
    error_message    TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    completed_at     TEXT
);
CREATE INDEX sync_jobs_source ON sync_jobs (source_id, created_at);
-- Workers look for claimable jobs; the partial index stays as small as the queue.
CREATE INDEX sync_jobs_open ON sync_jobs (status, created_at)
    WHERE status IN ('queued', 'processing');
