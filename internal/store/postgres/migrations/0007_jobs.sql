-- Durable background jobs (notification deliveries): enqueued once,
-- leased to one worker at a time, retried with a later run_at, completed
-- (done_at) or given up (dead_at). The payload never holds a secret.
CREATE TABLE jobs (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel      text        NOT NULL,
    event        text        NOT NULL,
    payload      bytea       NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_at       timestamptz NOT NULL,
    locked_by    text        NOT NULL DEFAULT '',
    locked_until timestamptz,
    last_error   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    done_at      timestamptz,
    dead_at      timestamptz,
    CHECK (done_at IS NULL OR dead_at IS NULL)
);
-- The jobs still to do, in the order they are claimed.
CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE done_at IS NULL AND dead_at IS NULL;
CREATE INDEX jobs_channel_idx ON jobs (channel, id);
CREATE INDEX jobs_done_idx ON jobs (done_at) WHERE done_at IS NOT NULL;
CREATE INDEX jobs_dead_idx ON jobs (dead_at) WHERE dead_at IS NOT NULL;
