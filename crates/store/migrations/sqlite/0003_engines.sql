-- Engine processes of the distributed mode, as they last reported themselves.

CREATE TABLE engines (
    id                TEXT PRIMARY KEY,
    stage             TEXT NOT NULL,
    models            TEXT NOT NULL,
    capacity          INTEGER NOT NULL,
    active_tasks      INTEGER NOT NULL,
    started_at        BIGINT NOT NULL,
    last_heartbeat_at BIGINT NOT NULL
);
CREATE INDEX engines_heartbeat_idx ON engines (last_heartbeat_at);
