-- Sessions of people logged in through OIDC (web cookie or CLI), and logins
-- in progress. Tokens and ids are stored only as SHA-256 hashes.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    hash         BLOB    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    source_ip    TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX sessions_user_id_idx ON sessions (user_id, id);

CREATE TABLE login_requests (
    id_hash       BLOB    NOT NULL PRIMARY KEY,
    browser_hash  BLOB    NOT NULL,
    nonce         TEXT    NOT NULL,
    verifier      TEXT    NOT NULL,
    return_to     TEXT    NOT NULL DEFAULT '',
    cli_challenge TEXT    NOT NULL DEFAULT '',
    cli_name      TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    user_id       INTEGER REFERENCES users (id) ON DELETE CASCADE,
    completed_at  INTEGER,
    consumed_at   INTEGER
) STRICT;
CREATE INDEX login_requests_expires_idx ON login_requests (expires_at);
