package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

func TestDetails(t *testing.T) {
	if got := audit.Details(nil); got != "" {
		t.Errorf("Details(nil) = %q", got)
	}
	if got := audit.Details(map[string]any{}); got != "" {
		t.Errorf("Details({}) = %q", got)
	}
	if got := audit.Details(map[string]any{"b": 1, "a": "x"}); got != `{"a":"x","b":1}` {
		t.Errorf("Details = %q", got)
	}
	if got := audit.Details(map[string]any{"bad": make(chan int)}); got != "" {
		t.Errorf("unencodable Details = %q, want empty", got)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := storeopen.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// listAll returns every event oldest first.
func listAll(t testing.TB, st store.Store) []chain.Event {
	t.Helper()
	evs, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				if c := m.GetCounter(); c != nil {
					sum += c.GetValue()
				}
				if g := m.GetGauge(); g != nil {
					sum += g.GetValue()
				}
			}
			return sum
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestAuditorRecordFlushOrder(t *testing.T) {
	st := openStore(t)
	reg := prometheus.NewRegistry()
	a := audit.New(st, quiet, reg)
	go a.Run()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
		defer cancel()
		_ = a.Close(ctx)
	})

	const n = 700 // more than one batch
	for i := 0; i < n; i++ {
		a.Record(&chain.Event{RequestID: fmt.Sprintf("req-%04d", i), Action: "AppList", Decision: "allow",
			Actor: "alice@example.com", ActorType: "token", Status: 200})
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	evs := listAll(t, st)
	if len(evs) != n {
		t.Fatalf("%d events written, want %d", len(evs), n)
	}
	for i, ev := range evs {
		if want := fmt.Sprintf("req-%04d", i); ev.RequestID != want {
			t.Fatalf("event %d is %s, want %s (order lost)", i, ev.RequestID, want)
		}
		if ev.Time.IsZero() {
			t.Fatalf("event %d has no time", i)
		}
		if i > 0 && ev.ID <= evs[i-1].ID {
			t.Fatalf("IDs not increasing at %d", i)
		}
	}
	if got := counter(t, reg, "rgw_audit_events_written_total"); got != n {
		t.Errorf("written counter = %v, want %d", got, n)
	}
	if got := counter(t, reg, "rgw_audit_queue_length"); got != 0 {
		t.Errorf("queue length = %v after flush", got)
	}

	// An explicit time is kept.
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	a.Record(&chain.Event{RequestID: "timed", Time: at, Action: "x"})
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs = listAll(t, st)
	if last := evs[len(evs)-1]; last.RequestID != "timed" || !last.Time.Equal(at) {
		t.Errorf("last event %s at %v, want timed at %v", last.RequestID, last.Time, at)
	}
}

func TestAuditorConcurrentRecordSync(t *testing.T) {
	st := openStore(t)
	a := audit.New(st, quiet, nil)
	// The write-ahead timeout is not under test: a loaded machine must not
	// turn a slow commit into a refused call.
	a.SyncTimeout = testutil.Patience
	go a.Run()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
		defer cancel()
		_ = a.Close(ctx)
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- a.RecordSync(context.Background(), &chain.Event{RequestID: fmt.Sprintf("sync-%d", i), Action: "AppDelete"})
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("RecordSync: %v", err)
		}
	}
	// RecordSync is durable on return: no Flush needed.
	evs := listAll(t, st)
	if len(evs) != 40 {
		t.Fatalf("%d events after 40 RecordSync calls", len(evs))
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[ev.RequestID] = true
	}
	if len(seen) != 40 {
		t.Errorf("duplicate or missing events: %v", seen)
	}
}

func TestAuditorRecordSyncWithoutRun(t *testing.T) {
	st := openStore(t)
	a := audit.New(st, quiet, nil)
	ev := &chain.Event{RequestID: "direct", Action: "AppDelete"}
	if err := a.RecordSync(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID == 0 || ev.Time.IsZero() {
		t.Errorf("event not stamped: id %d time %v", ev.ID, ev.Time)
	}
	if evs := listAll(t, st); len(evs) != 1 || evs[0].RequestID != "direct" {
		t.Errorf("events = %+v", evs)
	}
}

func TestAuditorRecordSyncStoreClosed(t *testing.T) {
	for _, running := range []bool{false, true} {
		t.Run(fmt.Sprintf("running=%v", running), func(t *testing.T) {
			st := openStore(t)
			reg := prometheus.NewRegistry()
			a := audit.New(st, quiet, reg)
			a.SyncTimeout = testutil.Patience // the first write is not about timeouts
			if running {
				go a.Run()
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					defer cancel()
					_ = a.Close(ctx)
				}()
			}
			if err := a.RecordSync(context.Background(), &chain.Event{RequestID: "ok", Action: "x"}); err != nil {
				t.Fatalf("before close: %v", err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			// Set after the first write returned, which the write-ahead
			// writer's next read of it follows (through its channel).
			a.SyncTimeout = 2 * time.Second
			start := time.Now()
			err := a.RecordSync(context.Background(), &chain.Event{RequestID: "after", Action: "AppDelete"})
			if err == nil {
				t.Fatal("RecordSync succeeded with the store closed")
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("RecordSync took %v", time.Since(start))
			}
			if got := counter(t, reg, "rgw_audit_write_failures_total"); got < 1 {
				t.Errorf("failure counter = %v", got)
			}
		})
	}
}

func TestAuditorRecordSyncContextCancelled(t *testing.T) {
	st := openStore(t)
	a := audit.New(st, quiet, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.RecordSync(ctx, &chain.Event{RequestID: "c", Action: "x"}); err == nil {
		t.Error("RecordSync with a cancelled context returned nil")
	}
}

func TestAuditorCloseFlushesQueue(t *testing.T) {
	st := openStore(t)
	a := audit.New(st, quiet, nil)
	go a.Run()
	const n = 900 // more than one batch; ListAudit returns at most 1000
	for i := 0; i < n; i++ {
		a.Record(&chain.Event{RequestID: fmt.Sprintf("q-%05d", i), Action: "AppGet"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	evs := listAll(t, st)
	if len(evs) != n {
		t.Fatalf("%d of %d queued events written by Close", len(evs), n)
	}
	for i, ev := range evs {
		if want := fmt.Sprintf("q-%05d", i); ev.RequestID != want {
			t.Fatalf("event %d = %s, want %s", i, ev.RequestID, want)
		}
	}
	// Close is idempotent.
	if err := a.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Events recorded after Close are written directly, not dropped.
	a.Record(&chain.Event{RequestID: "late", Action: "AppLogs"})
	evs = listAll(t, st)
	if evs[len(evs)-1].RequestID != "late" {
		t.Errorf("late event not written: last is %s", evs[len(evs)-1].RequestID)
	}
	if err := a.RecordSync(context.Background(), &chain.Event{RequestID: "late-sync", Action: "x"}); err != nil {
		t.Errorf("RecordSync after Close: %v", err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
}

func TestAuditorFlushHonoursContext(t *testing.T) {
	// With the writer not running, queued events cannot be written, and
	// Flush returns when its context ends.
	st := openStore(t)
	a := audit.New(st, quiet, nil)
	a.Record(&chain.Event{RequestID: "stuck", Action: "x"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.Flush(ctx); err == nil {
		t.Error("Flush returned nil with an event still queued")
	}
	go a.Run()
	ctx2, cancel2 := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel2()
	if err := a.Close(ctx2); err != nil {
		t.Fatal(err)
	}
	if evs := listAll(t, st); len(evs) != 1 {
		t.Errorf("%d events after a late Run and Close", len(evs))
	}
}

// A change's details encoded once (Phased) say what WithPhase + Details
// say, for either phase, with exactly one "phase" even when the details
// brought their own.
func TestPhased(t *testing.T) {
	for _, d := range []map[string]any{
		nil,
		{},
		{"params": map[string]any{"a": "1", "b": []any{"x", "\u2028<"}}, "mfa": "totp"},
		{"phase": "forged", "env_keys_added": []any{"K"}},
	} {
		p := audit.NewPhased(d)
		for _, phase := range []string{"attempt", "outcome"} {
			got := p.With(phase)
			if !json.Valid([]byte(got)) || strings.Count(got, `"phase"`) != 1 {
				t.Fatalf("%v: %s: %q", d, phase, got)
			}
			var a, b map[string]any
			if err := json.Unmarshal([]byte(got), &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(audit.Details(audit.WithPhase(d, phase))), &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%v: %s: %v, want %v", d, phase, a, b)
			}
		}
	}
}

func TestWithPhase(t *testing.T) {
	d := map[string]any{"params": map[string]string{"a": "1"}}
	out := audit.WithPhase(d, "attempt")
	if out["phase"] != "attempt" || out["params"] == nil {
		t.Errorf("WithPhase = %v", out)
	}
	if _, leaked := d["phase"]; leaked {
		t.Error("WithPhase modified its input")
	}
	if got := audit.WithPhase(nil, "outcome"); len(got) != 1 || got["phase"] != "outcome" {
		t.Errorf("audit.WithPhase(nil) = %v", got)
	}
}
