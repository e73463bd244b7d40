package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/migrate"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
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
	// Blocks are append-only like the events; a time block's range may
	// only widen.
	for _, q := range []string{`DELETE FROM audit_blocks`, `DELETE FROM audit_time_blocks`,
		`UPDATE audit_time_blocks SET min_at = max_at + 1`, `UPDATE audit_time_blocks SET max_at = min_at - 1`,
		`UPDATE audit_time_blocks SET last_id = last_id + 1`, `UPDATE audit_time_blocks SET first_id = first_id + 1`} {
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

// BenchmarkListAuditQuietGateway lists time ranges out of a log written the
// way a quiet gateway writes it: a commit for every two events (each
// mutating call's attempt, then its outcome with the next one), 40,000
// events. Time listings must not read a row per commit of the whole log.
func BenchmarkListAuditQuietGateway(b *testing.B) {
	ctx := context.Background()
	s := openMigrated(b)
	const total = 40_000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < total; i += 2 {
		batch := []*chain.Event{
			{Time: t0.Add(time.Duration(i) * time.Second), Actor: "ann@example.com", Action: "ReleaseCreate", Decision: "allow"},
			{Time: t0.Add(time.Duration(i+1) * time.Second), Actor: "ann@example.com", Action: "AppGet", Decision: "allow"},
		}
		if err := s.AppendAudit(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	var rows int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM audit_time_blocks`).Scan(&rows); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rows), "time-rows")
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want int
	}{
		{"one minute long ago", store.AuditFilter{Since: t0.Add(1000 * time.Second), Until: t0.Add(1060 * time.Second)}, 60},
		{"actor, one minute long ago", store.AuditFilter{Actor: "ann@example.com", Since: t0.Add(1000 * time.Second), Until: t0.Add(1060 * time.Second)}, 60},
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

// Migration 0014 turns the time rows of appends into one row per aligned
// block whose range covers every old row that overlaps it, including rows
// that straddle blocks, so time listings find every event they found
// before; appends after it widen those rows.
func TestTimeBlocksAligned(t *testing.T) {
	ctx := context.Background()
	s := oldSchema(t, 14)
	defer s.Close()
	t0 := int64(1_700_000_000_000_000)
	sec := int64(1_000_000)
	// 1,600 events in time order but for id 700, stamped far later (an
	// outcome of a long call); old time rows of 100 events each up to id
	// 900, one of them straddling blocks 0 and 1 (ids 501..600), then one
	// row for ids 901..1600, which spans blocks 1 to 3 (as no append ever
	// wrote: block 2 has no row of its own, so its range comes from
	// walking the span).
	at := func(id int64) int64 {
		if id == 700 {
			return t0 + 5000*sec
		}
		return t0 + id*sec
	}
	for id := int64(1); id <= 1600; id++ {
		if _, err := s.write.ExecContext(ctx, `INSERT INTO audit_events (id, occurred_at, actor, action, seq, hash) VALUES (?, ?, 'a', 'AppGet', ?, ?)`,
			id, at(id), id, []byte{byte(id)}); err != nil {
			t.Fatal(err)
		}
	}
	insertTime := func(first, last, minAt, maxAt int64) {
		t.Helper()
		if _, err := s.write.ExecContext(ctx, `INSERT INTO audit_time_blocks (last_id, first_id, min_at, max_at) VALUES (?, ?, ?, ?)`,
			last, first, minAt, maxAt); err != nil {
			t.Fatal(err)
		}
	}
	for first := int64(1); first <= 900; first += 100 {
		lo, hi := at(first), at(first+99)
		if first <= 700 && 700 <= first+99 {
			hi = at(700)
		}
		insertTime(first, first+99, lo, hi)
	}
	insertTime(901, 1600, at(901), at(1600))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM audit_time_blocks`).Scan(&rows); err != nil || rows != 4 {
		t.Fatalf("%d time rows (%v), want 4 (blocks 0-3 of 512 ids)", rows, err)
	}
	list := func(from, to int64) []int64 {
		t.Helper()
		return storetest.ListIDs(t, s, store.AuditFilter{Since: time.UnixMicro(from), Until: time.UnixMicro(to), Limit: 1000})
	}
	if got := list(at(510), at(515)); !slices.Equal(got, []int64{514, 513, 512, 511, 510}) {
		t.Errorf("across blocks 0 and 1: ids %v", got)
	}
	if got := list(at(1100), at(1102)); !slices.Equal(got, []int64{1101, 1100}) {
		t.Errorf("block 2, inside the spanning row: ids %v", got)
	}
	if got := list(t0+5000*sec, t0+5001*sec); !slices.Equal(got, []int64{700}) {
		t.Errorf("the late-stamped event: ids %v", got)
	}
	// A new event stamped long before its block's range widens it.
	e := &chain.Event{Time: time.UnixMicro(t0 - 100*sec), Actor: "a", Action: "AppGet"}
	if err := s.AppendAudit(ctx, []*chain.Event{e}); err != nil {
		t.Fatal(err)
	}
	if got := list(t0-100*sec, t0-99*sec); !slices.Equal(got, []int64{e.ID}) {
		t.Errorf("an append stamped early: ids %v, want [%d]", got, e.ID)
	}
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM audit_time_blocks`).Scan(&rows); err != nil || rows != 4 {
		t.Fatalf("%d time rows after an append into block 3 (%v), want 4", rows, err)
	}
}
