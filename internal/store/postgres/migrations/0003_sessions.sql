-- Sessions of people logged in through OIDC (web cookie or CLI), and logins
-- in progress. Tokens and ids are stored only as SHA-256 hashes.
CREATE TABLE sessions (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash         bytea       NOT NULL UNIQUE,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text        NOT NULL,
    name         text        NOT NULL DEFAULT '',
    user_agent   text        NOT NULL DEFAULT '',
    source_ip    text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id, id);

CREATE TABLE login_requests (
    id_hash       bytea       NOT NULL PRIMARY KEY,
    browser_hash  bytea       NOT NULL,
    nonce         text        NOT NULL,
    verifier      text        NOT NULL,
    return_to     text        NOT NULL DEFAULT '',
    cli_challenge text        NOT NULL DEFAULT '',
    cli_name      text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    user_id       bigint      REFERENCES users (id) ON DELETE CASCADE,
    completed_at  timestamptz,
    consumed_at   timestamptz
);
CREATE INDEX login_requests_expires_idx ON login_requests (expires_at);
