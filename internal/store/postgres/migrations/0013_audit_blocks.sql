-- The block index of the audit log (sqlstore/auditblocks.go), as SQLite
-- has kept it since its migrations 0004 and 0013, replaces the eight
-- per-event indexes of the filters: each cost a b-tree insertion for every
-- proxied call, and together they were two thirds of the database
-- (10M events: 10.7 GB, of which 7.1 GB indexes; bench/results/audit-10m.txt).
--
-- For each aligned block of 512 ids (first_id k*512, last_id k*512+511),
-- audit_blocks names the actors, apps and actions in it and the pairs of
-- the actor with the app, the action and the rack, and of the app with the
-- action; audit_time_blocks has the range of event times in each block,
-- in microseconds since the epoch, widened by each append (SQLite's 0014).
-- A pair's value is the first value's length in bytes, ':', the first
-- value, then the second (PairValue), so that no pair can spell another. The blocks are derived data: verification never reads them.
-- The partial indexes of denied events (0010) stay.
CREATE TABLE audit_blocks (
    kind     text   NOT NULL, -- 'actor', 'app', 'action' or a pair kind
    value    text   NOT NULL,
    last_id  bigint NOT NULL,
    first_id bigint NOT NULL,
    PRIMARY KEY (kind, value, last_id)
);

CREATE TABLE audit_time_blocks (
    last_id  bigint NOT NULL PRIMARY KEY,
    first_id bigint NOT NULL,
    min_at   bigint NOT NULL,
    max_at   bigint NOT NULL
);

INSERT INTO audit_blocks (kind, value, last_id, first_id)
    SELECT DISTINCT k.kind, k.value, e.id / 512 * 512 + 511, e.id / 512 * 512
    FROM audit_events AS e CROSS JOIN LATERAL (VALUES
        ('actor', e.actor, e.actor <> ''),
        ('app', e.app, e.app <> ''),
        ('action', e.action, e.action <> ''),
        ('actor+app', octet_length(e.actor) || ':' || e.actor || e.app, e.actor <> '' AND e.app <> ''),
        ('actor+action', octet_length(e.actor) || ':' || e.actor || e.action, e.actor <> '' AND e.action <> ''),
        ('actor+rack', octet_length(e.actor) || ':' || e.actor || e.rack, e.actor <> '' AND e.rack <> ''),
        ('app+action', octet_length(e.app) || ':' || e.app || e.action, e.app <> '' AND e.action <> '')
    ) AS k(kind, value, present)
    WHERE k.present;

INSERT INTO audit_time_blocks (last_id, first_id, min_at, max_at)
    SELECT id / 512 * 512 + 511, id / 512 * 512,
        MIN(EXTRACT(EPOCH FROM occurred_at) * 1000000)::bigint,
        MAX(EXTRACT(EPOCH FROM occurred_at) * 1000000)::bigint
    FROM audit_events GROUP BY id / 512;

DROP INDEX audit_events_occurred_at_idx;
DROP INDEX audit_events_actor_idx;
DROP INDEX audit_events_app_idx;
DROP INDEX audit_events_action_idx;
DROP INDEX audit_events_app_action_idx;
DROP INDEX audit_events_actor_app_idx;
DROP INDEX audit_events_actor_action_idx;
DROP INDEX audit_events_actor_rack_idx;

-- Append-only like the events (0002), but for the one update the time
-- blocks take: widening a block's range (first_id and min_at down, max_at
-- up), which only makes a listing read more. A prune keeps the blocks:
-- those of pruned ids only point at no events.
CREATE TRIGGER audit_blocks_append_only BEFORE UPDATE OR DELETE ON audit_blocks
    FOR EACH ROW EXECUTE FUNCTION rgw_audit_append_only();
CREATE TRIGGER audit_blocks_no_truncate BEFORE TRUNCATE ON audit_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION rgw_audit_append_only();
CREATE FUNCTION rgw_audit_widen_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_id <> OLD.last_id OR NEW.first_id > OLD.first_id OR NEW.min_at > OLD.min_at OR NEW.max_at < OLD.max_at THEN
        RAISE EXCEPTION 'rack-gateway: % on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_time_blocks_widen_only BEFORE UPDATE ON audit_time_blocks
    FOR EACH ROW EXECUTE FUNCTION rgw_audit_widen_only();
CREATE TRIGGER audit_time_blocks_append_only BEFORE DELETE ON audit_time_blocks
    FOR EACH ROW EXECUTE FUNCTION rgw_audit_append_only();
CREATE TRIGGER audit_time_blocks_no_truncate BEFORE TRUNCATE ON audit_time_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION rgw_audit_append_only();

-- A runtime role that may append to the log (RuntimeGrants, given before
-- this upgrade) may append to its index too, and widen time blocks;
-- without this, every append would fail after the upgrade and mutating
-- calls would be refused until the grants were run again.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'audit_events'
          AND privilege_type = 'INSERT' AND grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT ON audit_blocks, audit_time_blocks TO %I', r.grantee);
        EXECUTE format('GRANT UPDATE (first_id, min_at, max_at) ON audit_time_blocks TO %I', r.grantee);
    END LOOP;
END $$;
