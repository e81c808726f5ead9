-- Tenants, credentials, knowledge bases, connector sources, sync jobs and
-- documents: the same model as migrations/sqlite, in PostgreSQL's types.

CREATE TABLE organizations (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Only the SHA-256 of a key is stored; `id` is its public lookup part.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    key_hash    BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE knowledge_bases (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX knowledge_bases_org ON knowledge_bases (org_id);

CREATE TABLE sources (
    id          UUID PRIMARY KEY,
    kb_id       UUID NOT NULL REFERENCES knowledge_bases (id),
    name        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    config      JSONB NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'syncing', 'error')),
    last_job_id UUID,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sources_kb ON sources (kb_id);
CREATE INDEX sources_syncing ON sources (status) WHERE status = 'syncing';

CREATE TABLE sync_jobs (
    id               UUID PRIMARY KEY,
    source_id        UUID NOT NULL REFERENCES sources (id),
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'processing', 'completed', 'partial_failure', 'failed')),
    total_items      BIGINT,
    processed_count  BIGINT NOT NULL DEFAULT 0,
    failed_count     BIGINT NOT NULL DEFAULT 0,
    error_message    TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    completed_at     TIMESTAMPTZ
);
CREATE INDEX sync_jobs_source ON sync_jobs (source_id, created_at);
CREATE INDEX sync_jobs_open ON sync_jobs (status, created_at)
    WHERE status IN ('queued', 'processing');
CREATE INDEX sync_jobs_lease ON sync_jobs (lease_expires_at)
    WHERE status = 'processing';

-- The trigger flips the source (setting last_job_id) before inserting the
-- job, in one transaction: the check waits for the commit.
ALTER TABLE sources ADD CONSTRAINT sources_last_job
    FOREIGN KEY (last_job_id) REFERENCES sync_jobs (id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE documents (
    id               UUID PRIMARY KEY,
    source_id        UUID NOT NULL REFERENCES sources (id),
    external_id      TEXT NOT NULL,
    title            TEXT,
    content_hash     TEXT NOT NULL,
    size_bytes       BIGINT NOT NULL,
    text             TEXT NOT NULL,
    last_seen_job_id UUID NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (source_id, external_id)
);
CREATE INDEX documents_seen ON documents (source_id, last_seen_job_id);
