package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
)

// The listings of denied events by actor, app or action walk the partial
// indexes of migration 0011 newest first, with no sort (10M-event
// measurements: bench/results/audit-10m.txt). The decision is a bound
// parameter; SQLite matches it to the indexes' WHERE at bind time.
func TestDeniedListingsUsePartialIndexes(t *testing.T) {
	ctx := context.Background()
	s := openMigrated(t)
	for _, tc := range []struct {
		f     store.AuditFilter
		index string
	}{
		{store.AuditFilter{Decision: "deny", Actor: "a@example.com"}, "audit_events_denied_actor_idx"},
		{store.AuditFilter{Decision: "deny", App: "web"}, "audit_events_denied_app_idx"},
		{store.AuditFilter{Decision: "deny", Action: "AppGet"}, "audit_events_denied_action_idx"},
	} {
		where, args := sqlstore.AuditWhere(tc.f, Dialect{}.EncodeTime)
		q := "EXPLAIN QUERY PLAN SELECT " + sqlstore.AuditSelectList + " FROM audit_events WHERE " +
			strings.Join(where, " AND ") + " ORDER BY id DESC LIMIT 101"
		rows, err := s.read.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, tc.index) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%+v: plan %q, want a walk of %s without a sort", tc.f, got, tc.index)
		}
	}
}
