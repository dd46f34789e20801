-- Dalston schema v1 for PostgreSQL: the same tables, columns, column types and indexes as
-- migrations/sqlite/0001_initial.sql, so both backends store and compare values alike (ids as
-- TEXT, times as BIGINT unix milliseconds, JSON documents as TEXT, booleans as INTEGER 0/1).
-- Ids use the "C" collation: cursor pagination orders by id, and SQLite compares bytewise
-- whatever locale the PostgreSQL cluster was created with.

CREATE TABLE jobs (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    status              TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    parameters          TEXT NOT NULL,
    owner_key_id        TEXT COLLATE "C",
    original_blob_key   TEXT,
    original_size_bytes BIGINT,
    audio_duration_secs DOUBLE PRECISION,
    audio_channels      INTEGER,
    audio_sample_rate   INTEGER,
    audio_format        TEXT,
    transcript_blob_key TEXT,
    warnings            TEXT NOT NULL DEFAULT '[]',
    error               TEXT,
    created_at          BIGINT NOT NULL,
    started_at          BIGINT,
    completed_at        BIGINT,
    purge_after         BIGINT
);
CREATE INDEX jobs_status_idx ON jobs (status);
CREATE INDEX jobs_owner_idx ON jobs (owner_key_id, id);

CREATE TABLE tasks (
    id             TEXT COLLATE "C" PRIMARY KEY,
    job_id         TEXT COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    stage          TEXT NOT NULL,
    status         TEXT NOT NULL,
    required       INTEGER NOT NULL,
    depends_on     TEXT NOT NULL,
    position       INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    progress       REAL NOT NULL DEFAULT 0,
    worker_id      TEXT,
    output         TEXT,
    error          TEXT,
    ready_at       BIGINT,
    started_at     BIGINT,
    completed_at   BIGINT
);
CREATE INDEX tasks_job_idx ON tasks (job_id, position);

CREATE TABLE api_keys (
    id            TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);

-- The embedded task queue's table (dalston-queue). The distributed mode uses Redis Streams and
-- leaves it empty; it is created anyway so that one schema serves both backends and the
-- migrations of the two stay comparable table by table.
CREATE TABLE queue_messages (
    task_id          TEXT PRIMARY KEY,
    job_id           TEXT NOT NULL,
    stage            TEXT NOT NULL,
    available_at     BIGINT NOT NULL,
    enqueued_at      BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    deliveries       INTEGER NOT NULL DEFAULT 0,
    dead             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queue_messages_claim_idx ON queue_messages (stage, dead, available_at);
