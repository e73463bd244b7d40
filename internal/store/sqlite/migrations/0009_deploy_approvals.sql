-- Deploy approvals: a CI token asks that people approve deploying one
-- commit of one app; approvals are per person (two-person rule enforced by
-- the service); an approved request records the one upload, build and
-- release it was used for.
CREATE TABLE deploy_requests (
    id             INTEGER PRIMARY KEY,
    rack           TEXT    NOT NULL,
    app            TEXT    NOT NULL,
    commit_sha     TEXT    NOT NULL,
    branch         TEXT    NOT NULL DEFAULT '',
    pr_url         TEXT    NOT NULL DEFAULT '',
    message        TEXT    NOT NULL DEFAULT '',
    ci_url         TEXT    NOT NULL DEFAULT '',
    token_id       INTEGER NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    owner_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    requester      TEXT    NOT NULL,
    needed         INTEGER NOT NULL CHECK (needed >= 1),
    window_us      INTEGER NOT NULL CHECK (window_us > 0),
    status         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    approved_at    INTEGER,
    window_ends_at INTEGER,
    decided_by     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    comment        TEXT    NOT NULL DEFAULT '',
    object_key     TEXT,
    build_id       TEXT,
    release_id     TEXT,
    deployed_at    INTEGER,
    source_check   TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX deploy_requests_token_idx ON deploy_requests (token_id, rack, app, id);
CREATE INDEX deploy_requests_status_idx ON deploy_requests (status, id);

CREATE TABLE deploy_approvals (
    request_id INTEGER NOT NULL REFERENCES deploy_requests (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    comment    TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (request_id, user_id)
) STRICT;
