package postgres_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/migrate"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres/pgtest"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
)

// schemaBefore returns a schema migrated up to (not including) version
// before, and a connection to it as its owner.
func schemaBefore(t *testing.T, before int) (string, *pgx.Conn) {
	t.Helper()
	dsn := pgtest.FreshSchema(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	ms, err := migrate.Load(os.DirFS("."), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), postgres.Dialect{}.MigrationsTable()); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version >= before {
			break
		}
		if _, err := conn.Exec(t.Context(), m.SQL); err != nil {
			t.Fatal(m.Name, err)
		}
		if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
			t.Fatal(err)
		}
	}
	return dsn, conn
}

// A log written with the per-event indexes (before migration 0013) gets
// its block index at upgrade: the indexes go, the old events are found by
// every filter the blocks serve (pairs spelled as PairValue spells them,
// multi-byte values included), new appends join them, and a runtime role
// granted before the upgrade can still append.
func TestBlockIndexMigration(t *testing.T) {
	ctx := t.Context()
	dsn, conn := schemaBefore(t, 13)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// 1,300 events the way the old code wrote them: no blocks.
	for i := range 1300 {
		actor, app := fmt.Sprint("user", i%3, "@example.com"), []string{"", "web"}[i%2]
		if i == 77 || i == 1201 {
			actor, app = "zoë", "web" // rare, and two bytes in one character
		}
		if _, err := conn.Exec(ctx, `INSERT INTO audit_events (occurred_at, actor, app, action, rack, seq, hash)
			VALUES ($1, $2, $3, $4, 'prod', $5, $6)`, base.Add(time.Duration(i)*time.Minute), actor, app, "AppGet", i+1, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	role := "rgw_rt_" + strings.ToLower(t.Name())
	rtDSN := pgtest.LoginRole(t, dsn, role)
	// The grants of the version before, as an operator ran them then.
	if _, err := conn.Exec(ctx, fmt.Sprintf(`GRANT USAGE ON SCHEMA %[2]s TO %[1]s;
		GRANT SELECT, INSERT ON audit_events, audit_checkpoints TO %[1]s;
		GRANT SELECT ON schema_migrations TO %[1]s`, role, currentSchema(t, conn))); err != nil {
		t.Fatal(err)
	}

	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	start := time.Now()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("migration 0013 of 1,300 events: %v", time.Since(start))

	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'audit_events'
		AND indexname NOT LIKE '%denied%' AND indexname NOT IN ('audit_events_pkey') AND indexdef NOT LIKE '%(seq)%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d per-event filter indexes left (%v), want 0", n, err)
	}
	var got string
	if err := conn.QueryRow(ctx, `SELECT value FROM audit_blocks WHERE kind = $1 AND value LIKE '%zo%'`, sqlstore.KindActorApp).Scan(&got); err != nil ||
		got != sqlstore.PairValue("zoë", "web") {
		t.Errorf("SQL pair value %q (%v), want %q", got, err, sqlstore.PairValue("zoë", "web"))
	}

	// The runtime role granted before the upgrade appends after it.
	rt, err := postgres.Open(ctx, rtDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	if err := rt.AppendAudit(ctx, []*chain.Event{{Time: base.Add(2000 * time.Minute), Actor: "zoë", App: "web", Action: "AppGet", Rack: "prod"}}); err != nil {
		t.Fatalf("append by the runtime role granted before 0013: %v", err)
	}

	for _, c := range []struct {
		f    store.AuditFilter
		want []int64
	}{
		{store.AuditFilter{Actor: "zoë"}, []int64{1301, 1202, 78}},
		{store.AuditFilter{Actor: "zoë", App: "web"}, []int64{1301, 1202, 78}},
		{store.AuditFilter{Actor: "zoë", Rack: "prod"}, []int64{1301, 1202, 78}},
		{store.AuditFilter{App: "web", Action: "AppGet", Limit: 2}, []int64{1301, 1300}},
		{store.AuditFilter{Actor: "zoë", Since: base.Add(70 * time.Minute), Until: base.Add(80 * time.Minute)}, []int64{78}},
		{store.AuditFilter{Since: base.Add(100 * time.Minute), Until: base.Add(103 * time.Minute)}, []int64{103, 102, 101}},
		{store.AuditFilter{Actor: "zoë", App: "worker"}, []int64{}},
	} {
		if got := storetest.ListIDs(t, s, c.f); !slices.Equal(got, c.want) {
			t.Errorf("%+v: ids %v, want %v", c.f, got, c.want)
		}
	}
	// A day's export starts at the day's first event (the time blocks).
	if seq, err := s.AuditSeqFloor(ctx, base.Add(600*time.Minute), base.Add(601*time.Minute)); err != nil || seq > 601 || seq < 1 {
		t.Errorf("seq floor = %d, %v, want at most 601", seq, err)
	}
}

func currentSchema(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
