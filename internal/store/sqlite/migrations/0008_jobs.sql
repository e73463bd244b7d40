-- Durable background jobs (notification deliveries): enqueued once,
-- leased to one worker at a time, retried with a later run_at, completed
-- (done_at) or given up (dead_at). The payload never holds a secret.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    channel      TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    payload      BLOB    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_at       INTEGER NOT NULL,
    locked_by    TEXT    NOT NULL DEFAULT '',
    locked_until INTEGER,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    done_at      INTEGER,
    dead_at      INTEGER,
    CHECK (done_at IS NULL OR dead_at IS NULL)
) STRICT;
-- The jobs still to do, in the order they are claimed.
CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE done_at IS NULL AND dead_at IS NULL;
CREATE INDEX jobs_channel_idx ON jobs (channel, id);
CREATE INDEX jobs_done_idx ON jobs (done_at) WHERE done_at IS NOT NULL;
CREATE INDEX jobs_dead_idx ON jobs (dead_at) WHERE dead_at IS NOT NULL;
