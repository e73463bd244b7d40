package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

var auditStatsTests = []subtest{
	{"Audit/Activity", testAuditActivity},
	{"Audit/Event", testAuditEvent},
	{"Audit/CheckpointLookups", testCheckpointLookups},
	{"Audit/SeqFloor", testAuditSeqFloor},
}

// testAuditSeqFloor: AuditSeqFloor never passes an event stamped in the
// range, although times are out of Seq order (one event of the second
// batch is stamped in the fourth batch's hour), and it does skip what it
// can (blocks of 512 ids wholly outside the range); ScanAudit from a seq
// in the middle starts exactly there.
func testAuditSeqFloor(t *testing.T, s store.Store, _ *clock.Fake) {
	sk, ok := s.(store.AuditSeeker)
	if !ok {
		t.Skip("the store does not implement store.AuditSeeker")
	}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	hour := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	// Five batches of 300 (seqs and ids 1..1500), batch b stamped in hour
	// b, a second apart; seq 305 is stamped in hour 3 (batch 4's). The
	// blocks of 512 ids then span hours 0-3 (ids 1..511, with seq 305),
	// 1-3 (512..1023) and 3-4 (1024..1500).
	const batches, size, total = 5, 300, 1500
	var times []time.Time
	for b := range batches {
		batch := make([]*chain.Event, size)
		for i := range batch {
			batch[i] = &chain.Event{Time: hour(b).Add(time.Duration(i) * time.Second), Actor: "a", Action: "AppList", Decision: "allow"}
			if b == 1 && i == 4 {
				batch[i].Time = hour(3).Add(30 * time.Second)
			}
			times = append(times, batch[i].Time)
		}
		must(t, "append", s.AppendAudit(ctx(t), batch))
	}
	for _, tc := range []struct {
		name         string
		since, until time.Time
		atLeast      int64 // the floor skips at least the seqs below this
	}{
		{"first hour", hour(0), hour(1), 1},
		{"hour 2", hour(2), hour(3), 1}, // the first block reaches into hour 3 (seq 305)
		{"hour 3 (holds seq 305)", hour(3), hour(4), 1},
		{"hour 4, open end", hour(4), time.Time{}, 1024},
		{"after the log", hour(9), time.Time{}, total + 1},
		{"before the log", hour(-5), hour(-4), total + 1},
		{"no since", time.Time{}, hour(2), 0},
	} {
		floor, err := sk.AuditSeqFloor(ctx(t), tc.since, tc.until)
		must(t, tc.name, err)
		for i, at := range times {
			seq := int64(i + 1)
			if seq < floor && !at.Before(tc.since) && (tc.until.IsZero() || at.Before(tc.until)) {
				t.Errorf("%s: floor %d passes seq %d, stamped %v in the range", tc.name, floor, seq, at)
			}
		}
		if floor < tc.atLeast {
			t.Errorf("%s: floor %d, want at least %d", tc.name, floor, tc.atLeast)
		}
	}
	// Listings of a range well before the newest event.
	for _, tc := range []struct {
		f    store.AuditFilter
		want string
	}{
		{store.AuditFilter{Since: hour(1), Until: hour(2), Limit: 3}, "[600 599 598]"},
		{store.AuditFilter{Since: hour(1), Until: hour(2), BeforeID: 307}, "[306 304 303 302 301]"},
		{store.AuditFilter{Since: hour(0), Until: hour(1), Decision: "deny"}, "[]"},
		{store.AuditFilter{Since: hour(3), Until: hour(3).Add(3 * time.Second)}, "[903 902 901]"},
		{store.AuditFilter{Since: hour(3).Add(30 * time.Second), Until: hour(3).Add(31 * time.Second)}, "[931 305]"},
	} {
		got, err := s.ListAudit(ctx(t), tc.f)
		must(t, "list", err)
		seqs := make([]int64, len(got))
		for i, e := range got {
			seqs[i] = e.Seq
		}
		if fmt.Sprint(seqs) != tc.want {
			t.Errorf("ListAudit(%+v) = seqs %v, want %s", tc.f, seqs, tc.want)
		}
	}
	for _, from := range []int64{0, 1, 2, 23, 600, total, total + 1} {
		var seqs []int64
		must(t, "scan", s.ScanAudit(ctx(t), from, func(e *chain.Event) error { seqs = append(seqs, e.Seq); return nil }))
		want := total - max(from, 1) + 1
		if int64(len(seqs)) != want || (want > 0 && (seqs[0] != max(from, 1) || seqs[len(seqs)-1] != total)) {
			t.Errorf("ScanAudit(%d): %d events %v..., want %d from seq %d", from, len(seqs), seqs[:min(len(seqs), 3)], want, max(from, 1))
		}
	}
}

// activityLog appends a small log over three UTC days, in time order and
// in several batches, and returns the first day's midnight.
func activityLog(t *testing.T, s store.Store) time.Time {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(d int, h, m int) time.Time {
		return day.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	ev := func(tm time.Time, actor, action, decision, app, rack string) *chain.Event {
		return &chain.Event{Time: tm, Actor: actor, Action: action, Decision: decision, App: app, Rack: rack}
	}
	// Day 0 (4 events, 1 denial), day 1 (nothing), day 2 (3 events, 2
	// denials), day 3 (1 event, exactly at midnight). In a zone other
	// than UTC, the last event of day 0 is on day 1 locally: days are UTC.
	east := time.FixedZone("UTC+5", 5*3600)
	batches := [][]*chain.Event{
		{ev(at(0, 0, 0), "alice", "AppList", "allow", "web", "prod"), ev(at(0, 1, 0), "alice", "AppList", "allow", "web", "prod")},
		{ev(at(0, 2, 0), "bob", "BuildCreate", "deny", "web", "prod")},
		{ev(at(0, 23, 59).In(east), "alice", "ProcessExec", "allow", "api", "staging")},
		{ev(at(2, 10, 0), "bob", "AppList", "deny", "api", "prod"), ev(at(2, 11, 0), "carol", "AppList", "deny", "web", "prod"),
			ev(at(2, 12, 0), "carol", "BuildCreate", "allow", "web", "staging")},
		{ev(at(3, 0, 0), "alice", "AppList", "allow", "web", "prod")},
	}
	for _, b := range batches {
		must(t, "append", s.AppendAudit(ctx(t), b))
	}
	return day
}

func ad(day time.Time, events, denials int64) store.AuditDay {
	return store.AuditDay{Day: day, Events: events, Denials: denials}
}

func ac(key string, events, denials int64) store.AuditCount {
	return store.AuditCount{Key: key, Events: events, Denials: denials}
}

func testAuditActivity(t *testing.T, s store.Store, _ *clock.Fake) {
	day := activityLog(t, s)
	d := func(n int) time.Time { return day.AddDate(0, 0, n) }
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		by   string
		top  int
		days []store.AuditDay
		tops []store.AuditCount
	}{
		{"all by actor", store.AuditFilter{Since: d(0), Until: d(4)}, store.ByActor, 10,
			[]store.AuditDay{ad(d(0), 4, 1), ad(d(2), 3, 2), ad(d(3), 1, 0)},
			[]store.AuditCount{ac("alice", 4, 0), ac("bob", 2, 2), ac("carol", 2, 1)}},
		{"top 2 by action", store.AuditFilter{Since: d(0), Until: d(4)}, store.ByAction, 2,
			[]store.AuditDay{ad(d(0), 4, 1), ad(d(2), 3, 2), ad(d(3), 1, 0)},
			[]store.AuditCount{ac("AppList", 5, 2), ac("BuildCreate", 2, 1)}},
		{"until is exclusive", store.AuditFilter{Since: d(0), Until: d(3)}, store.ByActor, 10,
			[]store.AuditDay{ad(d(0), 4, 1), ad(d(2), 3, 2)},
			[]store.AuditCount{ac("alice", 3, 0), ac("bob", 2, 2), ac("carol", 2, 1)}},
		{"since is inclusive, mid-day", store.AuditFilter{Since: d(0).Add(2 * time.Hour), Until: d(2).Add(11 * time.Hour)}, store.ByActor, 10,
			[]store.AuditDay{ad(d(0), 2, 1), ad(d(2), 1, 1)},
			[]store.AuditCount{ac("bob", 2, 2), ac("alice", 1, 0)}},
		{"decision", store.AuditFilter{Since: d(0), Until: d(4), Decision: "deny"}, store.ByActor, 10,
			[]store.AuditDay{ad(d(0), 1, 1), ad(d(2), 2, 2)},
			[]store.AuditCount{ac("bob", 2, 2), ac("carol", 1, 1)}},
		{"actor", store.AuditFilter{Since: d(0), Until: d(4), Actor: "carol"}, store.ByAction, 10,
			[]store.AuditDay{ad(d(2), 2, 1)},
			[]store.AuditCount{ac("AppList", 1, 1), ac("BuildCreate", 1, 0)}},
		{"app and rack", store.AuditFilter{Since: d(0), Until: d(4), App: "web", Rack: "staging"}, store.ByActor, 10,
			[]store.AuditDay{ad(d(2), 1, 0)}, []store.AuditCount{ac("carol", 1, 0)}},
		{"action", store.AuditFilter{Since: d(0), Until: d(4), Action: "ProcessExec"}, store.ByActor, 10,
			[]store.AuditDay{ad(d(0), 1, 0)}, []store.AuditCount{ac("alice", 1, 0)}},
		{"no top", store.AuditFilter{Since: d(3), Until: d(4)}, store.ByActor, 0,
			[]store.AuditDay{ad(d(3), 1, 0)}, nil},
		{"empty range", store.AuditFilter{Since: d(10), Until: d(12)}, store.ByActor, 10, nil, nil},
		{"paging fields are ignored", store.AuditFilter{Since: d(3), Until: d(4), BeforeID: 1, Limit: 1}, store.ByActor, 10,
			[]store.AuditDay{ad(d(3), 1, 0)}, []store.AuditCount{ac("alice", 1, 0)}},
	} {
		got, err := s.AuditActivity(ctx(t), tc.f, tc.by, tc.top)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range got.Days {
			if got.Days[i].Day.Location() != time.UTC {
				t.Errorf("%s: day %v not in UTC", tc.name, got.Days[i].Day)
			}
		}
		if !reflect.DeepEqual(got.Days, tc.days) || !reflect.DeepEqual(got.Top, tc.tops) {
			t.Errorf("%s:\n got %+v\nwant %+v %+v", tc.name, got, tc.days, tc.tops)
		}
	}
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		by   string
	}{
		{"unbounded", store.AuditFilter{Since: d(0)}, store.ByActor},
		{"no start", store.AuditFilter{Until: d(1)}, store.ByActor},
		{"reversed", store.AuditFilter{Since: d(2), Until: d(1)}, store.ByActor},
		{"too long", store.AuditFilter{Since: d(0), Until: d(store.MaxActivityDays + 1)}, store.ByActor},
		{"bad breakdown", store.AuditFilter{Since: d(0), Until: d(1)}, "details; DROP TABLE audit_events"},
	} {
		if _, err := s.AuditActivity(ctx(t), tc.f, tc.by, 5); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func testAuditEvent(t *testing.T, s store.Store, _ *clock.Fake) {
	evs := []*chain.Event{fullEvent(0), fullEvent(1), fullEvent(2)}
	must(t, "append", s.AppendAudit(ctx(t), evs))
	for _, want := range evs {
		got, err := s.AuditEvent(ctx(t), want.Seq)
		if err != nil {
			t.Fatalf("seq %d: %v", want.Seq, err)
		}
		if !reflect.DeepEqual(got, *want) {
			t.Errorf("seq %d:\n got %+v\nwant %+v", want.Seq, got, *want)
		}
	}
	for _, seq := range []int64{0, -1, evs[2].Seq + 1} {
		if _, err := s.AuditEvent(ctx(t), seq); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("seq %d: %v, want ErrNotFound", seq, err)
		}
	}
}

func testCheckpointLookups(t *testing.T, s store.Store, clk *clock.Fake) {
	if _, _, err := s.CoveringCheckpoint(ctx(t), 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("covering, no checkpoints: %v", err)
	}
	for _, anchored := range []bool{false, true} {
		if _, err := s.LastCheckpoint(ctx(t), anchored); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("last (anchored %v), no checkpoints: %v", anchored, err)
		}
	}
	// Checkpoints at 2 and 5 (anchored), and 6 (not anchored).
	for i, through := range []int{2, 5, 6} {
		for n := 0; ; n++ {
			head, _, err := s.AuditHead(ctx(t))
			must(t, "head", err)
			if head >= int64(through) {
				break
			}
			must(t, "append", s.AppendAudit(ctx(t), []*chain.Event{fullEvent(n)}))
		}
		clk.Advance(time.Minute)
		_, err := s.AddCheckpoint(ctx(t), func(_ *store.Checkpoint, seq int64, _ []byte) (*store.Checkpoint, error) {
			return &store.Checkpoint{Seq: seq, Statement: fmt.Sprint("cp ", i), Signature: []byte{byte(i)}}, nil
		})
		must(t, "checkpoint", err)
		if through < 6 {
			must(t, "anchor", s.MarkAnchored(ctx(t), int64(through), time.Time{}))
		}
	}
	for _, tc := range []struct{ seq, cp, from int64 }{{1, 2, 1}, {2, 2, 1}, {3, 5, 3}, {5, 5, 3}, {6, 6, 6}} {
		c, from, err := s.CoveringCheckpoint(ctx(t), tc.seq)
		if err != nil || c.Seq != tc.cp || from != tc.from || c.Statement == "" || len(c.Signature) != 1 {
			t.Errorf("covering %d = %+v from %d, %v; want checkpoint %d from %d", tc.seq, c, from, err, tc.cp, tc.from)
		}
	}
	if _, _, err := s.CoveringCheckpoint(ctx(t), 7); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("covering 7 (past the last checkpoint): %v", err)
	}
	if c, err := s.LastCheckpoint(ctx(t), false); err != nil || c.Seq != 6 || !c.AnchoredAt.IsZero() {
		t.Errorf("last = %+v, %v; want 6, not anchored", c, err)
	}
	if c, err := s.LastCheckpoint(ctx(t), true); err != nil || c.Seq != 5 || c.AnchoredAt.IsZero() {
		t.Errorf("last anchored = %+v, %v; want 5", c, err)
	}
}
