package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

var auditTests = []subtest{
	{"Audit/RoundTrip", testAuditRoundTrip},
	{"Audit/Batches", testAuditBatches},
	{"Audit/Filters", testAuditFilters},
	{"Audit/Limits", testAuditLimits},
	{"Audit/Paging", testAuditPaging},
	{"Audit/FilterMatrix", testAuditFilterMatrix},
	{"Audit/ConcurrentAppend", testAuditConcurrent},
	{"Audit/Chain", testAuditChain},
	{"Audit/Checkpoints", testCheckpoints},
	{"Audit/Prune", testPrune},
}

// fullEvent returns an event with every field set to a distinct value.
func fullEvent(i int) *chain.Event {
	return &chain.Event{
		Time:       time.Date(2026, 1, 2, 3, 4, 5, 678912345, time.FixedZone("F", 2*3600)).Add(time.Duration(i) * time.Second),
		RequestID:  fmt.Sprint("req-", i),
		Rack:       "prod",
		ActorType:  "token",
		Actor:      "token:ci",
		ActorID:    int64(40 + i),
		TokenID:    int64(70 + i),
		Role:       "deployer",
		SourceIP:   "2001:db8::1",
		UserAgent:  "convox/3.0 (ü)",
		Method:     "POST",
		Path:       "/apps/web/builds",
		Route:      "BuildCreate",
		Action:     "BuildCreate",
		App:        "web",
		Resource:   "build",
		Permission: "build:create",
		Decision:   "deny",
		Reason:     "role_forbids",
		Status:     403,
		DurationUS: 1234567,
		Details:    `{"manifest":"convox.yml","n":1}`,
	}
}

func testAuditRoundTrip(t *testing.T, s store.Store, clk *clock.Fake) {
	evs := []*chain.Event{fullEvent(0), {Decision: "allow"}, fullEvent(2)}
	want := make([]chain.Event, len(evs))
	for i, e := range evs {
		want[i] = *e
	}
	clk.Advance(time.Minute)
	must(t, "append", s.AppendAudit(ctx(t), evs))
	for i, e := range evs {
		if e.ID <= 0 || i > 0 && e.ID <= evs[i-1].ID {
			t.Fatalf("IDs not increasing within the batch: %d", e.ID)
		}
		want[i].ID, want[i].Seq, want[i].Hash = e.ID, e.Seq, e.Hash
		want[i].Time = store.NormalizeTime(want[i].Time)
	}
	// A zero Time is set to the time of the append.
	checkNow(t, "defaulted Time", evs[1].Time, clk)
	want[1].Time = evs[1].Time
	checkTime(t, "normalized Time", evs[0].Time, want[0].Time)

	got, err := s.ListAudit(ctx(t), store.AuditFilter{})
	must(t, "list", err)
	if len(got) != len(evs) {
		t.Fatalf("listed %d events, want %d", len(got), len(evs))
	}
	for i := range got {
		w := want[len(want)-1-i] // newest first
		checkSame(t, fmt.Sprintf("event %d", w.ID), w, got[i])
		checkTime(t, "Time", got[i].Time, w.Time)
	}
}

func testAuditBatches(t *testing.T, s store.Store, clk *clock.Fake) {
	must(t, "nil batch", s.AppendAudit(ctx(t), nil))
	must(t, "empty batch", s.AppendAudit(ctx(t), []*chain.Event{}))
	bad := []*chain.Event{{Action: "first"}, nil}
	if err := s.AppendAudit(ctx(t), bad); err == nil {
		t.Fatal("batch with a nil event succeeded")
	}
	if bad[0].ID != 0 {
		t.Errorf("failed batch set ID %d", bad[0].ID)
	}
	got, err := s.ListAudit(ctx(t), store.AuditFilter{})
	must(t, "list", err)
	if len(got) != 0 {
		t.Fatalf("failed batch left %d events", len(got))
	}
	var last int64
	for _, n := range []int{1, 5, 64, 2} {
		batch := make([]*chain.Event, n)
		for i := range batch {
			batch[i] = &chain.Event{Action: fmt.Sprint("batch", n), Status: i}
		}
		must(t, fmt.Sprint("batch of ", n), s.AppendAudit(ctx(t), batch))
		for _, e := range batch {
			if e.ID <= last {
				t.Fatalf("ID %d after %d", e.ID, last)
			}
			last = e.ID
		}
	}
	got, err = s.ListAudit(ctx(t), store.AuditFilter{Action: "batch64"})
	must(t, "list", err)
	for i, e := range got {
		if e.Status != 63-i {
			t.Fatalf("batch order lost: event %d has Status %d, want %d", i, e.Status, 63-i)
		}
	}
}

func testAuditFilters(t *testing.T, s store.Store, clk *clock.Fake) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var evs []*chain.Event
	for i := range 30 {
		evs = append(evs, &chain.Event{
			Time: base.Add(time.Duration(i) * time.Minute), RequestID: fmt.Sprint("req", i),
			Rack:      []string{"prod", "staging", "prod"}[i%3],
			ActorType: "user", Actor: []string{"a@example.com", "b@example.com"}[i%2], ActorID: int64(i%2 + 1),
			Method: "GET", Path: "/apps", Route: "AppList",
			Action:   []string{"AppList", "AppList", "AppList", "BuildCreate", "AppList"}[i%5],
			App:      []string{"web", "api", "web"}[i%3],
			Decision: []string{"allow", "deny"}[i%2],
			Status:   200,
		})
	}
	must(t, "append", s.AppendAudit(ctx(t), evs[:10]))
	must(t, "append", s.AppendAudit(ctx(t), evs[10:]))

	count := func(pred func(i int, e *chain.Event) bool) int {
		n := 0
		for i, e := range evs {
			if pred(i, e) {
				n++
			}
		}
		return n
	}
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	tests := []struct {
		name string
		f    store.AuditFilter
		want func(i int, e *chain.Event) bool
	}{
		{"none", store.AuditFilter{}, func(int, *chain.Event) bool { return true }},
		{"actor", store.AuditFilter{Actor: "a@example.com"}, func(_ int, e *chain.Event) bool { return e.Actor == "a@example.com" }},
		{"actor is exact", store.AuditFilter{Actor: "a@example"}, func(int, *chain.Event) bool { return false }},
		{"actor is case-sensitive", store.AuditFilter{Actor: "A@example.com"}, func(int, *chain.Event) bool { return false }},
		{"app", store.AuditFilter{App: "api"}, func(_ int, e *chain.Event) bool { return e.App == "api" }},
		{"action", store.AuditFilter{Action: "BuildCreate"}, func(_ int, e *chain.Event) bool { return e.Action == "BuildCreate" }},
		{"decision", store.AuditFilter{Decision: "deny"}, func(_ int, e *chain.Event) bool { return e.Decision == "deny" }},
		{"rack", store.AuditFilter{Rack: "staging"}, func(_ int, e *chain.Event) bool { return e.Rack == "staging" }},
		{"unknown rack", store.AuditFilter{Rack: "dev"}, func(int, *chain.Event) bool { return false }},
		{"since is inclusive", store.AuditFilter{Since: at(20)}, func(i int, _ *chain.Event) bool { return i >= 20 }},
		{"since between events", store.AuditFilter{Since: at(20).Add(time.Nanosecond)}, func(i int, _ *chain.Event) bool { return i > 20 }},
		{"until is exclusive", store.AuditFilter{Until: at(20)}, func(i int, _ *chain.Event) bool { return i < 20 }},
		{"until between events", store.AuditFilter{Until: at(20).Add(time.Nanosecond)}, func(i int, _ *chain.Event) bool { return i <= 20 }},
		{"window", store.AuditFilter{Since: at(5), Until: at(7)}, func(i int, _ *chain.Event) bool { return i == 5 || i == 6 }},
		{"window in another zone", store.AuditFilter{Since: at(5).In(time.FixedZone("K", 14*3600)), Until: at(7).In(time.FixedZone("L", -12*3600))},
			func(i int, _ *chain.Event) bool { return i == 5 || i == 6 }},
		{"empty window", store.AuditFilter{Since: at(7), Until: at(7)}, func(int, *chain.Event) bool { return false }},
		{"before id", store.AuditFilter{BeforeID: evs[10].ID}, func(i int, _ *chain.Event) bool { return i < 10 }},
		{"before first id", store.AuditFilter{BeforeID: evs[0].ID}, func(int, *chain.Event) bool { return false }},
		{"combined", store.AuditFilter{Actor: "a@example.com", App: "web", Decision: "allow", Rack: "prod"},
			func(_ int, e *chain.Event) bool {
				return e.Actor == "a@example.com" && e.App == "web" && e.Decision == "allow" && e.Rack == "prod"
			}},
		{"combined with time and id", store.AuditFilter{Actor: "b@example.com", Since: at(3), Until: at(25), BeforeID: evs[20].ID},
			func(i int, e *chain.Event) bool { return e.Actor == "b@example.com" && i >= 3 && i < 20 }},
	}
	for _, tt := range tests {
		got, err := s.ListAudit(ctx(t), tt.f)
		must(t, tt.name, err)
		if want := count(tt.want); len(got) != want {
			t.Errorf("%s: %d events, want %d", tt.name, len(got), want)
			continue
		}
		for k, e := range got {
			i := -1
			for j, ev := range evs {
				if ev.ID == e.ID {
					i = j
				}
			}
			if i < 0 || !tt.want(i, evs[i]) {
				t.Errorf("%s: unexpected event %d (%+v)", tt.name, e.ID, e)
			}
			if k > 0 && e.ID >= got[k-1].ID {
				t.Errorf("%s: not newest first: %d after %d", tt.name, e.ID, got[k-1].ID)
			}
		}
	}
}

func testAuditLimits(t *testing.T, s store.Store, clk *clock.Fake) {
	const total = store.MaxAuditLimit + 50
	batch := make([]*chain.Event, total)
	for i := range batch {
		batch[i] = &chain.Event{Action: "x", Status: i}
	}
	must(t, "append", s.AppendAudit(ctx(t), batch))
	tests := []struct {
		limit, want int
	}{
		{0, store.DefaultAuditLimit},
		{-1, store.DefaultAuditLimit},
		{1, 1},
		{250, 250},
		{store.MaxAuditLimit, store.MaxAuditLimit},
		{store.MaxAuditLimit + 1, store.MaxAuditLimit},
		{1 << 30, store.MaxAuditLimit},
	}
	for _, tt := range tests {
		got, err := s.ListAudit(ctx(t), store.AuditFilter{Limit: tt.limit})
		must(t, fmt.Sprint("limit ", tt.limit), err)
		if len(got) != tt.want {
			t.Errorf("Limit %d: %d events, want %d", tt.limit, len(got), tt.want)
			continue
		}
		if got[0].ID != batch[total-1].ID {
			t.Errorf("Limit %d: first event %d, want the newest %d", tt.limit, got[0].ID, batch[total-1].ID)
		}
	}
}

func testAuditPaging(t *testing.T, s store.Store, clk *clock.Fake) {
	var all []*chain.Event
	for b := range 5 {
		batch := make([]*chain.Event, 7)
		for i := range batch {
			batch[i] = &chain.Event{Actor: []string{"p", "q"}[i%2], Action: fmt.Sprint(b)}
		}
		must(t, "append", s.AppendAudit(ctx(t), batch))
		all = append(all, batch...)
	}
	for _, tt := range []struct {
		name string
		f    store.AuditFilter
		want int
	}{
		{"all", store.AuditFilter{Limit: 8}, len(all)},
		{"filtered", store.AuditFilter{Limit: 3, Actor: "p"}, 20},
		{"page size 1", store.AuditFilter{Limit: 1, Actor: "q"}, 15},
	} {
		var (
			seen []int64
			f    = tt.f
		)
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatalf("%s: paging does not end", tt.name)
			}
			page, err := s.ListAudit(ctx(t), f)
			must(t, tt.name, err)
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				if len(seen) > 0 && e.ID >= seen[len(seen)-1] {
					t.Fatalf("%s: event %d after %d", tt.name, e.ID, seen[len(seen)-1])
				}
				seen = append(seen, e.ID)
			}
			f.BeforeID = page[len(page)-1].ID
		}
		if len(seen) != tt.want {
			t.Errorf("%s: paging saw %d events, want %d", tt.name, len(seen), tt.want)
		}
	}
}

func testAuditConcurrent(t *testing.T, s store.Store, clk *clock.Fake) {
	const writers, batches, size = 8, 20, 4
	var (
		wg   sync.WaitGroup
		errs = make(chan error, writers)
		ids  [writers][]int64
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				batch := make([]*chain.Event, size)
				for i := range batch {
					batch[i] = &chain.Event{Actor: fmt.Sprint("w", w), Action: fmt.Sprint(b), Status: i}
				}
				if err := s.AppendAudit(ctx(t), batch); err != nil {
					errs <- err
					return
				}
				for _, e := range batch {
					ids[w] = append(ids[w], e.ID)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	unique := map[int64]bool{}
	for w := range writers {
		for i, id := range ids[w] {
			if i > 0 && id <= ids[w][i-1] {
				t.Fatalf("writer %d: ID %d after %d", w, id, ids[w][i-1])
			}
			if unique[id] {
				t.Fatalf("ID %d assigned twice", id)
			}
			unique[id] = true
		}
	}
	got, err := s.ListAudit(ctx(t), store.AuditFilter{Limit: store.MaxAuditLimit})
	must(t, "list", err)
	if len(got) != writers*batches*size {
		t.Fatalf("listed %d events, want %d", len(got), writers*batches*size)
	}
	for i, e := range got {
		if !unique[e.ID] {
			t.Fatalf("listed event %d was never returned by AppendAudit", e.ID)
		}
		if i > 0 && e.ID >= got[i-1].ID {
			t.Fatalf("not newest first: %d after %d", e.ID, got[i-1].ID)
		}
	}
	checkChain(t, s, writers*batches*size)
	for w := range writers {
		got, err := s.ListAudit(ctx(t), store.AuditFilter{Actor: fmt.Sprint("w", w), Limit: store.MaxAuditLimit})
		must(t, "list writer", err)
		if len(got) != batches*size {
			t.Errorf("writer %d: %d events, want %d", w, len(got), batches*size)
		}
	}
}

// ListIDs returns the ids of the events ListAudit gives for f, in its
// order; an error fails t.
func ListIDs(t testing.TB, s store.AuditReader, f store.AuditFilter) []int64 {
	t.Helper()
	evs, err := s.ListAudit(context.Background(), f)
	if err != nil {
		t.Fatalf("list audit %+v: %v", f, err)
	}
	ids := make([]int64, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}
