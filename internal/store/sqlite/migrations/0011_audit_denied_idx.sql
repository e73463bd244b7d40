-- Indexes of the refused calls (decision = 'deny'), for the audit filters
-- that combine "denied" with an actor, an app or an action.
--
-- Measured on 1M events (bench/results/audit-10m.txt): "actor + denied"
-- walked every block of the actor (p99 221 ms) because denials are ~3% of
-- the log. Partial indexes hold only the denied events, so they cost
-- nothing on the allowed calls' hot path and little space. The block
-- index steps aside for these filters (auditblocks.go).
CREATE INDEX audit_events_denied_actor_idx  ON audit_events (actor, id)  WHERE decision = 'deny';
CREATE INDEX audit_events_denied_app_idx    ON audit_events (app, id)    WHERE decision = 'deny';
CREATE INDEX audit_events_denied_action_idx ON audit_events (action, id) WHERE decision = 'deny';
