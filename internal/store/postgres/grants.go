package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
)

var identName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// RuntimeGrants returns the SQL that gives the gateway's runtime role what it
// needs and no more: read/write on users, bindings, tokens, settings,
// sessions, MFA state, deploy requests and background jobs, but only SELECT
// and INSERT on audit_events and its block index (plus the widening of a
// time block's range, which a trigger holds to widening), and on
// audit_checkpoints INSERT plus UPDATE of anchored_at alone. It must run as
// the owner of the tables (the role that ran `rack-gateway migrate`). The triggers of migration 0002
// refuse UPDATE, DELETE and TRUNCATE of audit rows even to the owner.
func RuntimeGrants(role, schema string) (string, error) {
	for _, n := range []string{role, schema} {
		if !identName.MatchString(n) {
			return "", fmt.Errorf("postgres: %q: a role or schema name must be lower-case letters, digits and _", n)
		}
	}
	return fmt.Sprintf(`GRANT USAGE ON SCHEMA %[2]s TO %[1]s;
GRANT SELECT, INSERT, UPDATE, DELETE ON %[2]s.users, %[2]s.role_bindings, %[2]s.api_tokens, %[2]s.settings,
	%[2]s.sessions, %[2]s.login_requests, %[2]s.mfa_methods, %[2]s.mfa_backup_codes, %[2]s.mfa_accounts,
	%[2]s.mfa_challenges, %[2]s.trusted_devices, %[2]s.deploy_requests, %[2]s.deploy_approvals,
	%[2]s.jobs TO %[1]s;
GRANT SELECT ON %[2]s.schema_migrations TO %[1]s;
REVOKE ALL ON %[2]s.audit_events, %[2]s.audit_checkpoints, %[2]s.audit_blocks, %[2]s.audit_time_blocks FROM %[1]s;
GRANT SELECT, INSERT ON %[2]s.audit_events, %[2]s.audit_blocks, %[2]s.audit_time_blocks TO %[1]s;
GRANT UPDATE (first_id, min_at, max_at) ON %[2]s.audit_time_blocks TO %[1]s;
GRANT SELECT, INSERT ON %[2]s.audit_checkpoints TO %[1]s;
GRANT UPDATE (anchored_at) ON %[2]s.audit_checkpoints TO %[1]s;
`, role, schema), nil
}

// GrantRuntime applies RuntimeGrants(role, current schema) as the caller,
// who must own the tables.
func (s *Store) GrantRuntime(ctx context.Context, role string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: grant runtime role: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := grantRuntime(ctx, tx, role); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: grant runtime role: %w", err)
	}
	return nil
}

func grantRuntime(ctx context.Context, tx *sql.Tx, role string) error {
	var schema string
	if err := tx.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: grant runtime role: %w", err)
	}
	q, err := RuntimeGrants(role, schema)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("postgres: grant runtime role: %w", err)
	}
	return nil
}
