package storetest

import (
	"errors"
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
