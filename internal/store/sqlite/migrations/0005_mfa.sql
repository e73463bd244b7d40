-- Second factors (MFA): enrolled methods, backup codes, per-user lockout
-- state and WebAuthn handle, server-side challenges, trusted browsers,
-- and each session's last second-factor proof. Secrets are sealed
-- (AES-256-GCM, key id beside them); codes and tokens are SHA-256 hashes.
CREATE TABLE mfa_methods (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    secret_key_id TEXT    NOT NULL DEFAULT '',
    secret        BLOB,
    public_id     TEXT,
    credential_id BLOB,
    credential    BLOB,
    last_step     INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;
CREATE INDEX mfa_methods_user_idx ON mfa_methods (user_id, id);
CREATE UNIQUE INDEX mfa_methods_public_id_idx ON mfa_methods (public_id) WHERE public_id IS NOT NULL;
CREATE UNIQUE INDEX mfa_methods_credential_id_idx ON mfa_methods (credential_id) WHERE credential_id IS NOT NULL;

CREATE TABLE mfa_backup_codes (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, hash)
) STRICT;

CREATE TABLE mfa_accounts (
    user_id   INTEGER NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle    BLOB    NOT NULL UNIQUE,
    failures  INTEGER NOT NULL DEFAULT 0,
    locked_at INTEGER
) STRICT;

CREATE TABLE mfa_challenges (
    hash       BLOB    NOT NULL PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL,
    state      BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    done_at    INTEGER
) STRICT;
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);

CREATE TABLE trusted_devices (
    id           INTEGER PRIMARY KEY,
    hash         BLOB    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent   TEXT    NOT NULL DEFAULT '',
    source_ip    TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX trusted_devices_user_idx ON trusted_devices (user_id, id);

ALTER TABLE sessions ADD COLUMN mfa_method TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN mfa_at INTEGER;
