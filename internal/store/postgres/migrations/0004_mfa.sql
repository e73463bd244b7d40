-- Second factors (MFA): enrolled methods, backup codes, per-user lockout
-- state and WebAuthn handle, server-side challenges, trusted browsers,
-- and each session's last second-factor proof. Secrets are sealed
-- (AES-256-GCM, key id beside them); codes and tokens are SHA-256 hashes.
CREATE TABLE mfa_methods (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          text        NOT NULL,
    name          text        NOT NULL DEFAULT '',
    secret_key_id text        NOT NULL DEFAULT '',
    secret        bytea,
    public_id     text,
    credential_id bytea,
    credential    bytea,
    last_step     bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz
);
CREATE INDEX mfa_methods_user_idx ON mfa_methods (user_id, id);
CREATE UNIQUE INDEX mfa_methods_public_id_idx ON mfa_methods (public_id) WHERE public_id IS NOT NULL;
CREATE UNIQUE INDEX mfa_methods_credential_id_idx ON mfa_methods (credential_id) WHERE credential_id IS NOT NULL;

CREATE TABLE mfa_backup_codes (
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE mfa_accounts (
    user_id   bigint      NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle    bytea       NOT NULL UNIQUE,
    failures  integer     NOT NULL DEFAULT 0,
    locked_at timestamptz
);

CREATE TABLE mfa_challenges (
    hash       bytea       NOT NULL PRIMARY KEY,
    session_id bigint      NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    purpose    text        NOT NULL,
    state      bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    done_at    timestamptz
);
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);

CREATE TABLE trusted_devices (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash         bytea       NOT NULL UNIQUE,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent   text        NOT NULL DEFAULT '',
    source_ip    text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX trusted_devices_user_idx ON trusted_devices (user_id, id);

ALTER TABLE sessions ADD COLUMN mfa_method text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN mfa_at timestamptz;
