package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// testAuditFilterMatrix checks ListAudit against a brute-force reading of
// the whole log: thousands of events appended in batches of very different
// sizes (larger than any index block), with interleaved actors, apps and
// actions (one actor rare), times out of order (a request's time is when it
// started), every filter alone and combined, time bounds on event times,
// paging from many points, and several limits.
func testAuditFilterMatrix(t *testing.T, s store.Store, clk *clock.Fake) {
	rng := rand.New(rand.NewPCG(7, 11))
	actors := []string{"a@example.com", "b@example.com", "ci-token", "d@example.com"}
	apps := []string{"", "web", "api", "worker"}
	actions := []string{"AppList", "AppGet", "ReleaseCreate", "ProcessExec", "EnvSet", "token.create"}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := 0
	for _, size := range []int{1, 700, 3, 513, 1, 1200, 200, 64} {
		batch := make([]*chain.Event, size)
		for i := range batch {
			n++
			at := base.Add(time.Duration(n)*time.Second - time.Duration(rng.IntN(20))*time.Second)
			if rng.IntN(100) == 0 {
				at = at.Add(-2 * time.Hour) // a long stream, recorded when it ended
			}
			actor := actors[rng.IntN(len(actors))]
			if n%997 == 0 {
				actor = "rare@example.com"
			}
			batch[i] = &chain.Event{Time: at, Actor: actor, App: apps[rng.IntN(len(apps))],
				Action: actions[rng.IntN(len(actions))], Decision: []string{"allow", "deny"}[rng.IntN(2)],
				Rack: []string{"prod", "staging"}[rng.IntN(2)], RequestID: fmt.Sprint("m", n)}
		}
		must(t, "append", s.AppendAudit(ctx(t), batch))
	}

	// The whole log, newest first, read in pages without filters.
	var all []chain.Event
	for f := (store.AuditFilter{Limit: store.MaxAuditLimit}); ; {
		page, err := s.ListAudit(ctx(t), f)
		must(t, "list all", err)
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		f.BeforeID = page[len(page)-1].ID
	}
	if len(all) < n {
		t.Fatalf("read %d events, appended %d", len(all), n)
	}
	mine := all[:0:0]
	for _, e := range all {
		if len(e.RequestID) > 1 && e.RequestID[0] == 'm' {
			mine = append(mine, e)
		}
	}
	if len(mine) != n {
		t.Fatalf("read %d of the %d appended events", len(mine), n)
	}

	matches := func(f store.AuditFilter, e chain.Event) bool {
		return (f.Actor == "" || e.Actor == f.Actor) && (f.App == "" || e.App == f.App) &&
			(f.Action == "" || e.Action == f.Action) && (f.Decision == "" || e.Decision == f.Decision) &&
			(f.Rack == "" || e.Rack == f.Rack) && (f.Since.IsZero() || !e.Time.Before(f.Since)) &&
			(f.Until.IsZero() || e.Time.Before(f.Until)) && (f.BeforeID == 0 || e.ID < f.BeforeID)
	}
	timeAt := func(k int) time.Time { return mine[k].Time }
	idAt := func(k int) int64 { return mine[k].ID }
	filters := []store.AuditFilter{
		{Actor: "rare@example.com"},
		{Actor: "b@example.com"},
		{App: "api"},
		{Action: "token.create"},
		{Decision: "deny"},
		{Rack: "staging"},
		{Actor: "ci-token", App: "web"},
		{Actor: "a@example.com", Action: "EnvSet", Decision: "allow"},
		{App: "worker", Action: "ProcessExec", Rack: "prod"},
		{Since: timeAt(n / 2)},
		{Until: timeAt(n / 3)},
		{Since: timeAt(n / 4), Until: timeAt(n / 4)}, // empty range
		{Since: timeAt(2 * n / 3), Until: timeAt(n / 5)},
		{Since: timeAt(n - 10).Add(time.Nanosecond)}, // not on a microsecond
		{Actor: "d@example.com", Since: timeAt(n / 2), Until: timeAt(n / 10)},
		{Action: "AppList", Until: timeAt(n / 2)},
		{Actor: "rare@example.com", BeforeID: idAt(n / 2)},
		{App: "web", BeforeID: idAt(n / 3)},
		{Since: timeAt(n / 2), BeforeID: idAt(n / 4)},
		{BeforeID: idAt(n / 7)},
		{Actor: "nobody@example.com"},
	}
	for _, base := range filters {
		for _, limit := range []int{1, 7, 100, store.MaxAuditLimit} {
			f := base
			f.Limit = limit
			var want []int64
			for _, e := range all {
				if matches(f, e) {
					want = append(want, e.ID)
				}
			}
			want = want[:min(len(want), limit)]
			page, err := s.ListAudit(ctx(t), f)
			must(t, "list", err)
			got := make([]int64, len(page))
			for i, e := range page {
				got[i] = e.ID
				if !matches(f, e) {
					t.Fatalf("%+v: event %d does not match", f, e.ID)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%+v: got %d events %v…, want %d %v…", f, len(got), head(got), len(want), head(want))
			}
		}
	}
}

func head(ids []int64) []int64 { return ids[:min(len(ids), 5)] }
