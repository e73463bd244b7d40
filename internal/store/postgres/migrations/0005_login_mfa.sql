-- A CLI login's browser step proves a second factor; the proof is carried
-- to the CLI session the claim creates.
ALTER TABLE login_requests ADD COLUMN mfa_method text NOT NULL DEFAULT '';
ALTER TABLE login_requests ADD COLUMN mfa_at timestamptz;
