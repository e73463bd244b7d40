-- Indexes of the audit log by an actor with an app, an action or a rack,
-- for the console's and the API's filters that combine them (SQLite keeps
-- pair postings in its block index instead: its migration 0013).
--
-- Measured on 10M events (bench/results/audit-10m.txt): with only the
-- single-column indexes, a pair of values that are each common but rarely
-- or never meet walked the actor's (or the app's) whole index and read its
-- rows (p99 ~0.5 s). These find exactly the pair's events, newest first.
-- Building them reads the whole table once, at upgrade.
CREATE INDEX audit_events_actor_app_idx    ON audit_events (actor, app, id);
CREATE INDEX audit_events_actor_action_idx ON audit_events (actor, action, id);
CREATE INDEX audit_events_actor_rack_idx   ON audit_events (actor, rack, id);
