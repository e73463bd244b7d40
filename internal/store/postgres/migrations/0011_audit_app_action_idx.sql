-- An index of the audit log by app and action, for the console's and the
-- API's "app + action" filter; the same as SQLite's 0012.
--
-- The separate app and action indexes each match a large share of the log
-- when both values are common; this index finds exactly the pair's events,
-- newest first.
CREATE INDEX audit_events_app_action_idx ON audit_events (app, action, id);
