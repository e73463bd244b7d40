package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/migrate"
)

// A log written before the block index existed is indexed by migration
// 0004: filtered listings find its events, and new appends join them.
func TestBlockIndexBackfill(t *testing.T) {
	ctx := context.Background()
	s := oldSchema(t, 4)
	defer s.Close()
	// 1,300 events the way the old code wrote them: no blocks.
	for i := range 1300 {
		actor := fmt.Sprint("user", i%3, "@example.com")
		if i == 77 || i == 1201 {
			actor = "rare@example.com"
		}
		if _, err := s.write.ExecContext(ctx, `INSERT INTO audit_events (occurred_at, actor, app, action, seq, hash)
			VALUES (?, ?, ?, ?, ?, ?)`, int64(1_700_000_000_000_000+i), actor, []string{"", "web"}[i%2], "AppGet", i+1, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, []*chain.Event{{Actor: "rare@example.com", Action: "AppGet"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    store.AuditFilter
		want int
	}{
		{store.AuditFilter{Actor: "rare@example.com"}, 3},
		{store.AuditFilter{Actor: "user1@example.com", Limit: 1000}, 432}, // 433 minus event 1201
		{store.AuditFilter{App: "web", Limit: 1000}, 650},
		{store.AuditFilter{Action: "AppGet", Limit: 1000}, 1000},
		{store.AuditFilter{Actor: "rare@example.com", BeforeID: 1201}, 1},
	} {
		got, err := s.ListAudit(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Errorf("%+v: %d events, want %d", tc.f, len(got), tc.want)
		}
	}
	// The filter indexes are gone; the blocks stand in for them.
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN
		('audit_events_occurred_at_idx', 'audit_events_actor_idx', 'audit_events_app_idx', 'audit_events_action_idx')`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d filter indexes left (%v)", n, err)
	}
	// Blocks are append-only like the events.
	for _, q := range []string{`DELETE FROM audit_blocks`, `UPDATE audit_time_blocks SET min_at = 0`} {
		if _, err := s.write.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: allowed", q)
		}
	}
}

// BenchmarkListAuditFiltered lists a rare actor's events, a common
// action's and a one-hour window out of 200,000 events (the block index at
// work), against the newest page without filters.
func BenchmarkListAuditFiltered(b *testing.B) {
	ctx := context.Background()
	s := openMigrated(b)
	const total = 200_000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]*chain.Event, 0, 256)
	for i := range total {
		actor := "ci@example.com"
		if i%20_000 == 0 {
			actor = "rare@example.com"
		}
		batch = append(batch, &chain.Event{Time: t0.Add(time.Duration(i) * time.Second), Actor: actor,
			Action: []string{"AppList", "AppGet", "EnvSet"}[i%3], Method: "GET", Path: "/apps", Decision: "allow"})
		if len(batch) == cap(batch) {
			if err := s.AppendAudit(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want int
	}{
		{"newest page", store.AuditFilter{}, 100},
		{"rare actor", store.AuditFilter{Actor: "rare@example.com"}, 10},
		{"common action", store.AuditFilter{Action: "EnvSet"}, 100},
		{"one hour long ago", store.AuditFilter{Since: t0.Add(50_000 * time.Second), Until: t0.Add(53_600 * time.Second), Limit: 1000}, 1000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				got, err := s.ListAudit(ctx, tc.f)
				if err != nil || len(got) != tc.want {
					b.Fatalf("%d events (%v), want %d", len(got), err, tc.want)
				}
			}
		})
	}
}

// oldSchema opens a database migrated only up to (not including) version
// before, as a gateway of that time left it.
func oldSchema(t *testing.T, before int) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version >= before {
			break
		}
		if _, err := s.write.ExecContext(ctx, m.SQL); err != nil {
			t.Fatal(m.Name, err)
		}
		if _, err := s.write.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 0)`, m.Version); err != nil {
			t.Fatal(err)
		}
	}
	return s
}
