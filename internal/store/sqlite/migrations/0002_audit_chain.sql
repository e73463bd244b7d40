-- The tamper-evident audit log (package audit/chain): every event appended
-- from now on gets a gapless sequence number and a chain hash; events
-- written before this migration keep NULLs and stay outside the chain.
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN hash BLOB;
CREATE UNIQUE INDEX audit_events_seq_idx ON audit_events (seq);

-- Signed checkpoints of the chain head; anchored_at is set once the
-- checkpoint is in the WORM anchor store.
CREATE TABLE audit_checkpoints (
    seq         INTEGER NOT NULL PRIMARY KEY, -- the last event it covers
    statement   TEXT    NOT NULL,             -- the signed text
    signature   BLOB    NOT NULL,             -- Ed25519
    head_hash   BLOB    NOT NULL,             -- the chain hash at seq (continues the chain after a prune)
    created_at  INTEGER NOT NULL,
    anchored_at INTEGER
) STRICT;

-- Append-only: the gateway never changes or deletes audit rows. Pruning
-- (rack-gateway audit prune) drops and recreates these triggers inside its
-- own transaction, and only behind an anchored checkpoint.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'rack-gateway: audit checkpoints are append-only'); END;
CREATE TRIGGER audit_checkpoints_only_anchor BEFORE UPDATE ON audit_checkpoints
WHEN NEW.seq IS NOT OLD.seq OR NEW.statement IS NOT OLD.statement
  OR NEW.signature IS NOT OLD.signature OR NEW.created_at IS NOT OLD.created_at
  OR NEW.head_hash IS NOT OLD.head_hash
  OR OLD.anchored_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'rack-gateway: audit checkpoints are append-only'); END;
