-- An index of the audit log by app and action, for the console's and the
-- API's "app + action" filter (with or without a time range).
--
-- Measured on 10M events (bench/results/audit-10m.txt): the block index
-- walked every block of a frequent action over a week and read ~190k rows
-- to find the few of one app (p99 639 ms). The blocks are too coarse for a
-- pair of values that are each common; this index finds exactly the
-- pair's events, newest first. It is one more b-tree insertion per event;
-- the block index steps aside for app + action filters (auditblocks.go).
CREATE INDEX audit_events_app_action_idx ON audit_events (app, action, id);
