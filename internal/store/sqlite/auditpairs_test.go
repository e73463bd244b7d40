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
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
)

// pairCase is a filter with the ids it must list, newest first.
type pairCase struct {
	f    store.AuditFilter
	want []int64
}

// expect lists, newest first, the ids of events that match f the way the
// plain query does (actor, app, action, rack equal; time in [Since, Until);
// id below BeforeID), up to f.Limit.
func expect(events []*chain.Event, f store.AuditFilter) []int64 {
	var ids []int64
	for i := len(events) - 1; i >= 0 && len(ids) < store.AuditLimit(f.Limit); i-- {
		e := events[i]
		if (f.Actor != "" && e.Actor != f.Actor) || (f.App != "" && e.App != f.App) ||
			(f.Action != "" && e.Action != f.Action) || (f.Rack != "" && e.Rack != f.Rack) ||
			(!f.Since.IsZero() && e.Time.Before(f.Since)) || (!f.Until.IsZero() && !e.Time.Before(f.Until)) ||
			(f.BeforeID > 0 && e.ID >= f.BeforeID) {
			continue
		}
		ids = append(ids, e.ID)
	}
	return ids
}

func checkPairs(t *testing.T, s *Store, cases []pairCase) {
	t.Helper()
	for _, tc := range cases {
		ids := storetest.ListIDs(t, s, tc.f)
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%+v: listed %d events %v, want %d %v", tc.f, len(ids), head(ids), len(tc.want), head(tc.want))
		}
	}
}

func head(ids []int64) []int64 { return ids[:min(len(ids), 5)] }

// openMigrated opens a migrated store in a temporary directory, closed
// when tb ends.
func openMigrated(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "gateway.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}

// pairLog is 3,000 events over 4 actors, 5 apps, 4 actions and 2 racks in
// which each value is common but some pairs are rare (bob + worker) or
// absent (ann + api, ann + worker); the tests write them in batches of
// uneven size, which straddle the aligned blocks. Two actors would forge
// each other's pair value if the encoding were a plain concatenation.
func pairLog() []*chain.Event {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	actors := []string{"ann@example.com", "bob@example.com", "a", "ab"}
	apps := []string{"web", "api", "worker", "bc", "c"}
	actions := []string{"AppGet", "ReleaseCreate", "EnvSet", "ObjectStore"}
	racks := []string{"prod", "staging"}
	var events []*chain.Event
	for i := range 3000 {
		app := apps[i%2] // ann and a: web; bob and ab: api
		if i%5 == 0 && i%4 >= 2 {
			app = "worker" // a and ab only
		}
		e := &chain.Event{Time: t0.Add(time.Duration(i) * time.Minute), Actor: actors[i%4], App: app,
			Action: actions[(i/4)%3], Rack: racks[(i/8)%2], Decision: "allow", Method: "GET", Path: "/apps"}
		switch {
		case i%997 == 0: // a rare pair: bob never meets worker otherwise
			e.Actor, e.App = "bob@example.com", "worker"
		case i == 1500:
			e.Actor, e.Action, e.Rack = "ann@example.com", "ObjectStore", "dr"
		case i == 2100:
			e.Actor, e.App = "a", "bc"
		}
		events = append(events, e)
	}
	return events
}

func pairCases(events []*chain.Event) []pairCase {
	var cases []pairCase
	add := func(f store.AuditFilter) { cases = append(cases, pairCase{f, expect(events, f)}) }
	// Single values too: where postings of different shapes overlap (a log
	// written before blocks were aligned), none of their events may come
	// twice.
	for _, f := range []store.AuditFilter{{App: "web"}, {App: "worker"}, {Action: "EnvSet"}, {Actor: "a"}, {Actor: "ab", Since: events[2500].Time}} {
		f.Limit = 1000
		add(f)
	}
	for _, actor := range []string{"ann@example.com", "bob@example.com", "a", "ab", "nobody"} {
		for _, app := range []string{"web", "api", "worker", "bc", "c", "none"} {
			add(store.AuditFilter{Actor: actor, App: app})
			add(store.AuditFilter{Actor: actor, App: app, Rack: "staging", Limit: 7})
		}
		for _, action := range []string{"AppGet", "ReleaseCreate", "EnvSet", "ObjectStore"} {
			add(store.AuditFilter{Actor: actor, Action: action, Limit: 1000})
			add(store.AuditFilter{Actor: actor, Action: action, BeforeID: 1700, Limit: 3})
		}
		for _, action := range []string{"AppGet", "EnvSet", "ObjectStore"} {
			app := []string{"web", "api", "worker", "bc", "c", "none"}[len(actor)%6]
			add(store.AuditFilter{App: app, Action: action, Limit: 1000})
			add(store.AuditFilter{App: app, Action: action, Actor: actor, Since: events[400].Time, Until: events[2200].Time})
		}
		for _, rack := range []string{"prod", "staging", "dr"} {
			add(store.AuditFilter{Actor: actor, Rack: rack, Limit: 1000})
			add(store.AuditFilter{Actor: actor, Rack: rack, Since: events[900].Time, Until: events[1000].Time})
		}
	}
	return cases
}

// Pair filters list exactly what the plain query lists: rare and absent
// pairs, paging, time ranges and values that would collide if pairs were
// concatenated.
func TestPairPostings(t *testing.T) {
	ctx := context.Background()
	s := openMigrated(t)
	events := pairLog()
	for start, n := 0, 1; start < len(events); start, n = start+n, n*3%700+1 {
		if err := s.AppendAudit(ctx, events[start:min(start+n, len(events))]); err != nil {
			t.Fatal(err)
		}
	}
	cases := pairCases(events)
	checkPairs(t, s, cases)
	// An absent pair has no postings at all, so nothing is read for it; the
	// rare pair's postings are its blocks alone.
	for _, tc := range []struct {
		kind, actor, other string
		want               int
	}{
		{sqlstore.KindActorApp, "ann@example.com", "worker", 0},
		{sqlstore.KindActorApp, "ab", "c", 0},
		{sqlstore.KindActorApp, "bob@example.com", "worker", 4}, // ids 1, 998, 1995, 2992: four blocks of 512
		{sqlstore.KindActorRack, "ann@example.com", "dr", 1},
	} {
		var n int
		if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM audit_blocks WHERE kind = ? AND value = ?`,
			tc.kind, sqlstore.PairValue(tc.actor, tc.other)).Scan(&n); err != nil || n != tc.want {
			t.Errorf("%s %s + %s: %d postings (%v), want %d", tc.kind, tc.actor, tc.other, n, err, tc.want)
		}
	}
	// Postings carry every byte of a value (the store takes what the
	// auditor's sanitizing would have replaced, too).
	odd := &chain.Event{Actor: "x\xffy", App: "a\x00b", Action: "AppGet", Rack: "zoë"}
	if err := s.AppendAudit(ctx, []*chain.Event{odd}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.AuditFilter{{Actor: odd.Actor, App: odd.App}, {Actor: odd.Actor, Rack: odd.Rack}, {Actor: odd.Actor}} {
		if got, err := s.ListAudit(ctx, f); err != nil || len(got) != 1 || got[0].ID != odd.ID {
			t.Errorf("%q + %q + %q: %d events (%v), want event %d", f.Actor, f.App, f.Rack, len(got), err, odd.ID)
		}
	}
	if sqlstore.PairValue("a", "bc") == sqlstore.PairValue("ab", "c") {
		t.Error("pair values collide")
	}
}

// A log written before migration 0013 gets its pair postings from it, the
// same as the gateway writes them, and appends after it join them; the
// postings of single values, which the old code wrote per append batch,
// overlap the aligned ones of later appends without listing an event twice.
func TestPairPostingsBackfill(t *testing.T) {
	ctx := context.Background()
	s := oldSchema(t, 13)
	defer s.Close()
	events := pairLog()
	old, later := events[:2600], events[2600:]
	for i, e := range old { // the way the old code wrote them (blocks without pairs)
		e.ID = int64(i + 1)
		if _, err := s.write.ExecContext(ctx, `INSERT INTO audit_events (id, occurred_at, actor, app, action, rack, decision, method, path, seq, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.Time.UnixMicro(), e.Actor, e.App, e.Action, e.Rack, e.Decision, e.Method, e.Path,
			e.ID, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// ... and the blocks it wrote for them: values and times, no pairs.
	for _, q := range []string{
		`INSERT INTO audit_blocks (kind, value, last_id, first_id)
			SELECT 'actor', actor, MAX(id), MIN(id) FROM audit_events GROUP BY id / 512, actor`,
		`INSERT INTO audit_blocks (kind, value, last_id, first_id)
			SELECT 'app', app, MAX(id), MIN(id) FROM audit_events WHERE app <> '' GROUP BY id / 512, app`,
		`INSERT INTO audit_blocks (kind, value, last_id, first_id)
			SELECT 'action', action, MAX(id), MIN(id) FROM audit_events GROUP BY id / 512, action`,
		`INSERT INTO audit_time_blocks (last_id, first_id, min_at, max_at)
			SELECT MAX(id), MIN(id), MIN(occurred_at), MAX(occurred_at) FROM audit_events GROUP BY id / 512`,
	} {
		if _, err := s.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, later); err != nil {
		t.Fatal(err)
	}
	// The backfill is the SQL twin of pairValue: the same values, byte for
	// byte, including an actor with a multi-byte character.
	var n int
	// The app + action index of migration 0012 gave way to the pair postings.
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'audit_events_app_action_idx'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("app + action index: %d (%v), want dropped", n, err)
	}
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM audit_blocks WHERE kind = ? AND value = ? AND first_id = 0 AND last_id = 511`,
		sqlstore.KindActorApp, sqlstore.PairValue(old[0].Actor, old[0].App)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("backfilled posting of the first event's pair: %d (%v), want 1 in the aligned block 0-511", n, err)
	}
	var got string
	if _, err := s.write.ExecContext(ctx, `INSERT INTO audit_blocks (kind, value, last_id, first_id)
		SELECT 'probe', length(CAST(? AS BLOB)) || ':' || ? || ?, 0, 0`, "zoë", "zoë", "web"); err != nil {
		t.Fatal(err)
	}
	if err := s.read.QueryRowContext(ctx, `SELECT value FROM audit_blocks WHERE kind = 'probe'`).Scan(&got); err != nil ||
		got != sqlstore.PairValue("zoë", "web") {
		t.Errorf("SQL pair value %q (%v), want %q", got, err, sqlstore.PairValue("zoë", "web"))
	}
	checkPairs(t, s, pairCases(events))
}

// BenchmarkListAuditRarePair lists an actor and an app that are each in
// every block but together in one event of 200,000.
func BenchmarkListAuditRarePair(b *testing.B) {
	ctx := context.Background()
	s := openMigrated(b)
	batch := make([]*chain.Event, 0, 256)
	for i := range 200_000 {
		actor, app := []string{"ci@example.com", "ops@example.com"}[i%2], []string{"api", "web"}[i%2]
		if i == 1000 {
			app = "web"
		}
		batch = append(batch, &chain.Event{Actor: actor, App: app, Action: "AppGet", Decision: "allow"})
		if len(batch) == cap(batch) {
			if err := s.AppendAudit(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, app := range []string{"web", "none"} {
		b.Run(fmt.Sprint("ci+", app), func(b *testing.B) {
			want := map[string]int{"web": 1, "none": 0}[app]
			for b.Loop() {
				got, err := s.ListAudit(ctx, store.AuditFilter{Actor: "ci@example.com", App: app})
				if err != nil || len(got) != want {
					b.Fatalf("%d events (%v), want %d", len(got), err, want)
				}
			}
		})
	}
}

// BenchmarkAppendAuditDiverse appends batches of 1000 events in which
// nearly every event has its own actor + app, actor + action and app +
// action (231 actors, 50 apps, 102 actions, 3 racks spread evenly, as
// bench/cmd/auditgen draws them): the worst case for the block index, whose
// pair postings then cost about a row per event each.
func BenchmarkAppendAuditDiverse(b *testing.B) {
	ctx := context.Background()
	s := openMigrated(b)
	i, n := 0, 0
	for b.Loop() {
		batch := make([]*chain.Event, 1000)
		for j := range batch {
			i++
			batch[j] = &chain.Event{Actor: fmt.Sprint("user", i*7919%231, "@example.com"), App: fmt.Sprint("app", i*104729%50),
				Action: fmt.Sprint("Action", i*15485863%102), Rack: fmt.Sprint("rack", i%3), Decision: "allow", Method: "GET", Path: "/apps/x"}
		}
		if err := s.AppendAudit(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n += len(batch)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
