-- A block index of the audit log replaces the four filter indexes.
--
-- Keeping four b-tree indexes up to date cost about as much as writing the
-- event itself, for every proxied call. Instead, each append records, per
-- block of at most 512 consecutive events, which actors, apps and actions
-- occur in it (audit_blocks) and the range of its event times
-- (audit_time_blocks). A filtered listing reads only the blocks that can
-- match (see auditblocks.go). The blocks are derived data: verification
-- never reads them, and they are append-only like the events.
CREATE TABLE audit_blocks (
    kind     TEXT    NOT NULL, -- 'actor', 'app' or 'action'
    value    TEXT    NOT NULL,
    last_id  INTEGER NOT NULL, -- the newest event of the block with this value
    first_id INTEGER NOT NULL, -- the oldest
    PRIMARY KEY (kind, value, last_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_time_blocks (
    last_id  INTEGER NOT NULL PRIMARY KEY,
    first_id INTEGER NOT NULL,
    min_at   INTEGER NOT NULL,
    max_at   INTEGER NOT NULL
) STRICT;

INSERT INTO audit_blocks (kind, value, last_id, first_id)
    SELECT 'actor', actor, MAX(id), MIN(id) FROM audit_events GROUP BY id / 512, actor;
INSERT INTO audit_blocks (kind, value, last_id, first_id)
    SELECT 'app', app, MAX(id), MIN(id) FROM audit_events WHERE app <> '' GROUP BY id / 512, app;
INSERT INTO audit_blocks (kind, value, last_id, first_id)
    SELECT 'action', action, MAX(id), MIN(id) FROM audit_events GROUP BY id / 512, action;
INSERT INTO audit_time_blocks (last_id, first_id, min_at, max_at)
    SELECT MAX(id), MIN(id), MIN(occurred_at), MAX(occurred_at) FROM audit_events GROUP BY id / 512;

DROP INDEX audit_events_occurred_at_idx;
DROP INDEX audit_events_actor_idx;
DROP INDEX audit_events_app_idx;
DROP INDEX audit_events_action_idx;

CREATE TRIGGER audit_blocks_no_update BEFORE UPDATE ON audit_blocks
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END;
CREATE TRIGGER audit_blocks_no_delete BEFORE DELETE ON audit_blocks
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END;
CREATE TRIGGER audit_time_blocks_no_update BEFORE UPDATE ON audit_time_blocks
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END;
CREATE TRIGGER audit_time_blocks_no_delete BEFORE DELETE ON audit_time_blocks
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END;
