-- Deploy approvals: a CI token asks that people approve deploying one
-- commit of one app; approvals are per person (two-person rule enforced by
-- the service); an approved request records the one upload, build and
-- release it was used for.
CREATE TABLE deploy_requests (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rack           text        NOT NULL,
    app            text        NOT NULL,
    commit_sha     text        NOT NULL,
    branch         text        NOT NULL DEFAULT '',
    pr_url         text        NOT NULL DEFAULT '',
    message        text        NOT NULL DEFAULT '',
    ci_url         text        NOT NULL DEFAULT '',
    token_id       bigint      NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    owner_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    requester      text        NOT NULL,
    needed         integer     NOT NULL CHECK (needed >= 1),
    window_us      bigint      NOT NULL CHECK (window_us > 0),
    status         text        NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    approved_at    timestamptz,
    window_ends_at timestamptz,
    decided_by     bigint      REFERENCES users (id) ON DELETE SET NULL,
    comment        text        NOT NULL DEFAULT '',
    object_key     text,
    build_id       text,
    release_id     text,
    deployed_at    timestamptz,
    source_check   text        NOT NULL DEFAULT ''
);
CREATE INDEX deploy_requests_token_idx ON deploy_requests (token_id, rack, app, id);
CREATE INDEX deploy_requests_status_idx ON deploy_requests (status, id);

CREATE TABLE deploy_approvals (
    request_id bigint      NOT NULL REFERENCES deploy_requests (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text        NOT NULL,
    comment    text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (request_id, user_id)
);
