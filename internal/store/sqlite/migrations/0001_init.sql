-- Initial schema. Times are INTEGER microseconds since the Unix epoch (UTC);
-- NULL means "never" / the zero time.Time.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE, -- lower-cased by the store
    name          TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
) STRICT;

CREATE TABLE role_bindings (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rack    TEXT    NOT NULL,
    role    TEXT    NOT NULL,
    PRIMARY KEY (user_id, rack)
) STRICT;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL DEFAULT '',
    hash         BLOB    NOT NULL UNIQUE,           -- SHA-256 of the token
    user_id      INTEGER REFERENCES users (id) ON DELETE CASCADE, -- NULL = no owner
    permissions  TEXT    NOT NULL DEFAULT '[]',     -- JSON array of strings
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;

CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id, id);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at INTEGER NOT NULL,
    request_id  TEXT    NOT NULL DEFAULT '',
    rack        TEXT    NOT NULL DEFAULT '',
    actor_type  TEXT    NOT NULL DEFAULT '',
    actor       TEXT    NOT NULL DEFAULT '',
    actor_id    INTEGER NOT NULL DEFAULT 0,
    token_id    INTEGER NOT NULL DEFAULT 0,
    role        TEXT    NOT NULL DEFAULT '',
    source_ip   TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT '',
    method      TEXT    NOT NULL DEFAULT '',
    path        TEXT    NOT NULL DEFAULT '',
    route       TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL DEFAULT '',
    app         TEXT    NOT NULL DEFAULT '',
    resource    TEXT    NOT NULL DEFAULT '',
    permission  TEXT    NOT NULL DEFAULT '',
    decision    TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL DEFAULT '',
    status      INTEGER NOT NULL DEFAULT 0,
    duration_us INTEGER NOT NULL DEFAULT 0,
    details     TEXT    NOT NULL DEFAULT ''
) STRICT;

-- Filters are combined with ORDER BY id DESC, so the filtered indexes carry id.
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at);
CREATE INDEX audit_events_actor_idx       ON audit_events (actor, id);
CREATE INDEX audit_events_app_idx         ON audit_events (app, id);
CREATE INDEX audit_events_action_idx      ON audit_events (action, id);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
