-- Initial schema. Times are timestamptz (microsecond precision); NULL means
-- "never" / the zero time.Time.

CREATE TABLE users (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL UNIQUE, -- lower-cased by the store
    name          text        NOT NULL DEFAULT '',
    role          text        NOT NULL DEFAULT '',
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_login_at timestamptz
);

CREATE TABLE role_bindings (
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rack    text   NOT NULL,
    role    text   NOT NULL,
    PRIMARY KEY (user_id, rack)
);

CREATE TABLE api_tokens (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL,
    prefix       text        NOT NULL DEFAULT '',
    hash         bytea       NOT NULL UNIQUE,                        -- SHA-256 of the token
    user_id      bigint      REFERENCES users (id) ON DELETE CASCADE, -- NULL = no owner
    permissions  text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id, id);

CREATE TABLE audit_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    request_id  text        NOT NULL DEFAULT '',
    rack        text        NOT NULL DEFAULT '',
    actor_type  text        NOT NULL DEFAULT '',
    actor       text        NOT NULL DEFAULT '',
    actor_id    bigint      NOT NULL DEFAULT 0,
    token_id    bigint      NOT NULL DEFAULT 0,
    role        text        NOT NULL DEFAULT '',
    source_ip   text        NOT NULL DEFAULT '',
    user_agent  text        NOT NULL DEFAULT '',
    method      text        NOT NULL DEFAULT '',
    path        text        NOT NULL DEFAULT '',
    route       text        NOT NULL DEFAULT '',
    action      text        NOT NULL DEFAULT '',
    app         text        NOT NULL DEFAULT '',
    resource    text        NOT NULL DEFAULT '',
    permission  text        NOT NULL DEFAULT '',
    decision    text        NOT NULL DEFAULT '',
    reason      text        NOT NULL DEFAULT '',
    status      integer     NOT NULL DEFAULT 0,
    duration_us bigint      NOT NULL DEFAULT 0,
    details     text        NOT NULL DEFAULT ''
);

-- Filters are combined with ORDER BY id DESC, so the filtered indexes carry id.
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at);
CREATE INDEX audit_events_actor_idx       ON audit_events (actor, id);
CREATE INDEX audit_events_app_idx         ON audit_events (app, id);
CREATE INDEX audit_events_action_idx      ON audit_events (action, id);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
