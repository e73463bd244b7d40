-- Pair postings in the block index: for each block, the distinct
-- (actor, app), (actor, action), (actor, rack) and (app, action) pairs in it.
--
-- Measured on 10M events (bench/results/audit-10m.txt): "actor + app",
-- "actor + action" and "actor + rack" walked every block of the actor, or
-- of the app or action, when the pair is rare or absent although each
-- value is common (p99 2.3-2.8 s). A pair's postings name exactly the
-- blocks that hold it: a pair that never occurred has none.
--
-- "app + action" had its own index (migration 0012), one more b-tree
-- insertion per event (+50 % bulk append time); its pair postings cost a
-- row per block instead, so the index goes.
--
-- The value is the first value's length in bytes, ':', the first value,
-- then the second (auditblocks.go pairValue), so no actor or app can forge
-- another pair's value. Events already in the log get their pairs here, in
-- the aligned blocks of 512 ids the gateway writes from now on (first_id
-- k*512, last_id k*512+511), so that its INSERT OR IGNORE finds them.
INSERT INTO audit_blocks (kind, value, last_id, first_id)
    SELECT 'actor+app', length(CAST(actor AS BLOB)) || ':' || actor || app, id / 512 * 512 + 511, id / 512 * 512
    FROM audit_events WHERE actor <> '' AND app <> '' GROUP BY id / 512, actor, app;
INSERT INTO audit_blocks (kind, value, last_id, first_id)
    SELECT 'actor+action', length(CAST(actor AS BLOB)) || ':' || actor || action, id / 512 * 512 + 511, id / 512 * 512
    FROM audit_events WHERE actor <> '' AND action <> '' GROUP BY id / 512, actor, action;
INSERT INTO audit_blocks (kind, value, last_id, first_id)
    SELECT 'actor+rack', length(CAST(actor AS BLOB)) || ':' || actor || rack, id / 512 * 512 + 511, id / 512 * 512
    FROM audit_events WHERE actor <> '' AND rack <> '' GROUP BY id / 512, actor, rack;
INSERT INTO audit_blocks (kind, value, last_id, first_id)
    SELECT 'app+action', length(CAST(app AS BLOB)) || ':' || app || action, id / 512 * 512 + 511, id / 512 * 512
    FROM audit_events WHERE app <> '' AND action <> '' GROUP BY id / 512, app, action;

DROP INDEX audit_events_app_action_idx;
