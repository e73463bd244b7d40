package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Authenticator apps enrolled before a time step was usable once per user
// had a last step each; migration 0007 gives every app of a user the
// user's latest, so a step one app used is refused from the others.
func TestTOTPStepPerUserMigration(t *testing.T) {
	ctx := context.Background()
	s := oldSchema(t, 7)
	defer s.Close()
	for _, q := range []string{
		`INSERT INTO users (id, email, role, created_at, updated_at) VALUES (1, 'a@example.com', 'viewer', 0, 0), (2, 'b@example.com', 'viewer', 0, 0)`,
		`INSERT INTO mfa_methods (id, user_id, kind, name, last_step, created_at) VALUES
			(1, 1, 'totp', 'phone', 100, 0), (2, 1, 'totp', 'tablet', 50, 0), (3, 1, 'yubikey', 'key', 0, 0), (4, 2, 'totp', 'b', 7, 0)`,
	} {
		if _, err := s.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]int64{1: 100, 2: 100, 3: 0, 4: 7} {
		var got int64
		if err := s.read.QueryRowContext(ctx, `SELECT last_step FROM mfa_methods WHERE id = ?`, id).Scan(&got); err != nil || got != want {
			t.Errorf("method %d: last_step %d (%v), want %d", id, got, err, want)
		}
	}
	if err := s.UseMFAMethod(ctx, 2, 100, nil); !errors.Is(err, store.ErrConflict) {
		t.Errorf("step 100 from the tablet after the migration: %v, want a conflict", err)
	}
}
