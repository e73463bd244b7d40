-- The tamper-evident audit log (package audit/chain): every event appended
-- from now on gets a gapless sequence number and a chain hash; events
-- written before this migration keep NULLs and stay outside the chain.
ALTER TABLE audit_events ADD COLUMN seq bigint, ADD COLUMN hash bytea;
CREATE UNIQUE INDEX audit_events_seq_idx ON audit_events (seq);

-- Signed checkpoints of the chain head; anchored_at is set once the
-- checkpoint is in the WORM anchor store.
CREATE TABLE audit_checkpoints (
    seq         bigint      NOT NULL PRIMARY KEY, -- the last event it covers
    statement   text        NOT NULL,             -- the signed text
    signature   bytea       NOT NULL,             -- Ed25519
    head_hash   bytea       NOT NULL,             -- the chain hash at seq (continues the chain after a prune)
    created_at  timestamptz NOT NULL,
    anchored_at timestamptz
);

-- Append-only, second guard: the first is that the gateway's runtime role is
-- granted only SELECT and INSERT on audit_events (README, "Append-only
-- storage"). These triggers refuse UPDATE, DELETE and TRUNCATE for every
-- role; pruning (rack-gateway audit prune, run as the owner) disables them
-- inside its own transaction, and only behind an anchored checkpoint.
CREATE FUNCTION rgw_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rack-gateway: % on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION rgw_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION rgw_audit_append_only();
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION rgw_audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION rgw_audit_append_only();
CREATE FUNCTION rgw_checkpoint_only_anchor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS DISTINCT FROM OLD.seq OR NEW.statement IS DISTINCT FROM OLD.statement
       OR NEW.signature IS DISTINCT FROM OLD.signature OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR NEW.head_hash IS DISTINCT FROM OLD.head_hash
       OR OLD.anchored_at IS NOT NULL THEN
        RAISE EXCEPTION 'rack-gateway: audit checkpoints are append-only' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_checkpoints_only_anchor BEFORE UPDATE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION rgw_checkpoint_only_anchor();
