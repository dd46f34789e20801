-- Live transcription sessions (one row per WebSocket session) and the single-use tokens that
-- let a browser open one without holding an API key.

CREATE TABLE realtime_sessions (
    id               TEXT PRIMARY KEY,
    status           TEXT NOT NULL,
    protocol         TEXT NOT NULL,
    owner_key_id     TEXT,
    model            TEXT NOT NULL,
    language         TEXT,
    encoding         TEXT NOT NULL,
    sample_rate      INTEGER NOT NULL,
    audio_secs       DOUBLE PRECISION NOT NULL DEFAULT 0,
    speech_secs      DOUBLE PRECISION NOT NULL DEFAULT 0,
    utterances       INTEGER NOT NULL DEFAULT 0,
    words            INTEGER NOT NULL DEFAULT 0,
    end_reason       TEXT,
    error            TEXT,
    enhancement_job_id TEXT,
    started_at       BIGINT NOT NULL,
    ended_at         BIGINT
);
CREATE INDEX realtime_sessions_started_idx ON realtime_sessions (started_at);

CREATE TABLE single_use_tokens (
    token_hash   TEXT PRIMARY KEY,
    owner_key_id TEXT,
    purpose      TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
