package notify

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres/pgtest"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// Failures are retried after a backoff that doubles up to the maximum,
// and the delivery is given up after the last attempt; each attempt is
// audited, and nothing is tried before it is due.
func TestRetryBackoffAndGiveUp(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 500, 500, 500, 500, 500, 500)
	cfg := notifyConfig(config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook, URL: rcv.URL, Secret: hookSecret})
	cfg.MaxAttempts, cfg.BaseBackoff, cfg.MaxBackoff = 5, config.Duration(30*time.Second), config.Duration(100*time.Second)
	e := newEnv(t, cfg)
	if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	waits := []time.Duration{30 * time.Second, 60 * time.Second, 100 * time.Second, 100 * time.Second}
	for i, wait := range waits {
		e.runOnce(t, 1)
		j := e.job(t)
		now := e.clk.Now()
		if j.Attempts != i+1 || !j.RunAt.Equal(now.Add(wait)) || j.LastError != "HTTP 500" || j.State() != store.JobQueued {
			t.Fatalf("after attempt %d: %+v, want due at %v", i+1, j, now.Add(wait))
		}
		e.clk.Advance(wait - time.Second)
		e.runOnce(t, 0) // not due yet
		e.clk.Advance(time.Second)
	}
	e.runOnce(t, 1)
	j := e.job(t)
	if j.State() != store.JobDead || j.Attempts != 5 || j.LastError != "HTTP 500" {
		t.Fatalf("after the last attempt: %+v", j)
	}
	e.clk.Advance(24 * time.Hour)
	e.runOnce(t, 0)
	if n := len(rcv.requests()); n != 5 {
		t.Errorf("%d attempts reached the receiver, want 5", n)
	}
	wantReasons := []string{ReasonRetry, ReasonRetry, ReasonRetry, ReasonRetry, ReasonGaveUp}
	if got := e.rec.reasons(); !slices.Equal(got, wantReasons) {
		t.Errorf("audited reasons %v, want %v", got, wantReasons)
	}
	for i, d := range e.rec.details(t) {
		ev := e.rec.all()[i]
		if d.Attempt != i+1 || d.HTTPStatus != 500 || d.Channel != "hook" || d.Type != "webhook" || d.Event != ApprovalRequested ||
			ev.Decision != "deny" || ev.Status != 500 || ev.Rack != "production" || ev.App != "web" || ev.ActorType != "system" {
			t.Errorf("attempt %d audited %+v / %+v", i+1, d, ev)
		}
		if (d.NextAttempt == "") != (i == 4) {
			t.Errorf("attempt %d: next attempt %q", i+1, d.NextAttempt)
		}
	}
}

// A receiver's Retry-After (429) sets the next attempt.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, http.StatusTooManyRequests) // Retry-After: 42
	e := newEnv(t, notifyConfig(config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook, URL: rcv.URL, Secret: hookSecret}))
	if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 1)
	if j := e.job(t); !j.RunAt.Equal(t0.Add(42 * time.Second)) {
		t.Fatalf("next attempt at %v, want Retry-After's %v", j.RunAt, t0.Add(42*time.Second))
	}
	e.clk.Advance(42 * time.Second)
	e.runOnce(t, 1)
	if j := e.job(t); j.State() != store.JobDone {
		t.Fatalf("job %+v", j)
	}
}

func TestBackoffJitter(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, 1, 2, time.Second, time.Hour} {
		for range 200 {
			if j := defaultJitter(d); j < d/2 || j > d {
				t.Fatalf("jitter(%v) = %v, outside [%v, %v]", d, j, d/2, d)
			}
		}
	}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[defaultJitter(time.Hour)] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter gave only %d distinct values in 50", len(seen))
	}
}

// opener opens the store of a durability test: the same database each
// time it is called, on clk.
type opener func(t *testing.T, clk clock.Clock) store.Store

// A delivery that failed is retried after a restart: a new store on the
// same database and a new worker deliver it, with the attempts counted on
// and every attempt audited.
func TestRestartDeliversPending(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		open func(t *testing.T) opener
	}{
		{"sqlite", sqliteOpener},
		{"postgres", postgresOpener},
	} {
		t.Run(c.name, func(t *testing.T) {
			open := c.open(t)
			clk := clock.NewFake(t0)
			rec := &recorder{}
			rcv := newReceiver(t, http.StatusInternalServerError)
			cfg := notifyConfig(config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook, URL: rcv.URL, Secret: hookSecret})
			newWorker := func(st store.Store, id string) *Worker {
				w, err := NewWorker(cfg, WorkerOptions{Jobs: st, Recorder: rec, Clock: clk, ID: id,
					Jitter: func(d time.Duration) time.Duration { return d }})
				if err != nil {
					t.Fatal(err)
				}
				return w
			}

			st := open(t, clk)
			if err := NewPublisher(cfg, st, PublisherOptions{Clock: clk}).Publish(t.Context(), sampleEvent()); err != nil {
				t.Fatal(err)
			}
			if n, err := newWorker(st, "before").RunOnce(t.Context()); n != 1 || err != nil {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			clk.Advance(30 * time.Second)
			st = open(t, clk)
			defer st.Close()
			if n, err := newWorker(st, "after").RunOnce(t.Context()); n != 1 || err != nil {
				t.Fatalf("RunOnce after the restart = %d, %v", n, err)
			}
			jobs, err := st.ListJobs(t.Context(), store.JobFilter{})
			if err != nil || len(jobs) != 1 {
				t.Fatalf("jobs %+v, %v", jobs, err)
			}
			if j := jobs[0]; j.State() != store.JobDone || j.Attempts != 2 || j.LockedBy != "after" {
				t.Fatalf("job after the restart %+v", j)
			}
			reqs := rcv.requests()
			if len(reqs) != 2 || reqs[0].header.Get(HeaderDelivery) != reqs[1].header.Get(HeaderDelivery) {
				t.Fatalf("receiver got %d requests", len(reqs))
			}
			d := rec.details(t)
			if len(d) != 2 || d[0].Attempt != 1 || d[0].HTTPStatus != 500 || d[1].Attempt != 2 || d[1].HTTPStatus != 200 {
				t.Fatalf("audited %+v", d)
			}
			if r := rec.reasons(); !slices.Equal(r, []string{ReasonRetry, ReasonDelivered}) {
				t.Fatalf("audited reasons %v", r)
			}
		})
	}
}

func sqliteOpener(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "gw.db")
	return func(t *testing.T, clk clock.Clock) store.Store {
		st, err := sqlite.Open(path, store.WithClock(clk))
		return storetest.Migrated(t, st, err)
	}
}

// postgresOpener migrates a fresh schema as its owner and opens it as a
// runtime role with only the grants of postgres.RuntimeGrants, as in
// production.
func postgresOpener(t *testing.T) opener {
	dsn := pgtest.FreshSchema(t)
	owner, err := postgres.Open(t.Context(), dsn)
	storetest.Migrated(t, owner, err)
	role := fmt.Sprintf("rgw_rt_notify_%d", time.Now().UnixNano())
	rtDSN := pgtest.LoginRole(t, dsn, role)
	if err := owner.GrantRuntime(t.Context(), role); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, clk clock.Clock) store.Store {
		st, err := postgres.Open(t.Context(), rtDSN, store.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
}

// A job whose channel left the configuration, or whose payload cannot be
// read, is given up at once.
func TestHopelessJobsAreGivenUp(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	e := newEnv(t, notifyConfig(config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook, URL: rcv.URL, Secret: hookSecret}))
	p := NewPublisher(notifyConfig(config.NotifyChannel{Name: "gone", Type: config.NotifyWebhook, URL: rcv.URL, Secret: hookSecret}),
		e.st, PublisherOptions{Clock: e.clk})
	if err := p.Publish(t.Context(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	if err := e.st.EnqueueJob(t.Context(), &store.Job{Channel: "hook", Event: ApprovalRequested, Payload: []byte(`{"junk":1}`)}); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 2)
	jobs, _ := e.st.ListJobs(t.Context(), store.JobFilter{State: store.JobDead})
	if len(jobs) != 2 || !strings.Contains(jobs[1].LastError, "channel gone is not configured") ||
		!strings.Contains(jobs[0].LastError, "payload") || jobs[0].Attempts != 1 {
		t.Fatalf("dead jobs %+v", jobs)
	}
	if r := e.rec.reasons(); !slices.Equal(r, []string{ReasonGaveUp, ReasonGaveUp}) {
		t.Fatalf("audited %v", r)
	}
	if len(rcv.requests()) != 0 {
		t.Fatal("something was sent")
	}
}

// Run delivers what is published at once (Wake), later deliveries at its
// polls, and stops with its context.
func TestRunLoop(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, http.StatusInternalServerError)
	cfg := notifyConfig(config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook, URL: rcv.URL, Secret: hookSecret})
	e := newEnv(t, cfg)
	ticks := make(chan time.Time)
	polls := make(chan time.Duration, 100)
	e.w.o.After = func(d time.Duration) <-chan time.Time { polls <- d; return ticks }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { e.w.Run(ctx); close(done) }()
	if d := <-polls; d != 5*time.Second {
		t.Fatalf("polls every %v, want the default 5s", d)
	}
	if err := e.pub.Publish(t.Context(), sampleEvent()); err != nil { // wakes the worker
		t.Fatal(err)
	}
	testutil.Eventually(t, "the first attempt", func() bool { return len(rcv.requests()) == 1 })
	<-polls
	// The retry is due in 30s: a poll before then finds nothing.
	e.clk.Advance(29 * time.Second)
	ticks <- e.clk.Now()
	<-polls
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("%d attempts before the retry was due", n)
	}
	e.clk.Advance(time.Second)
	ticks <- e.clk.Now()
	testutil.Eventually(t, "the retry", func() bool { return len(rcv.requests()) == 2 })
	<-polls
	cancel()
	<-done
	if j := e.job(t); j.State() != store.JobDone {
		t.Fatalf("job %+v", j)
	}
}

// Finished jobs are kept for KeepFinished, then pruned; queued ones stay.
func TestPrune(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	cfg := notifyConfig(config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook, URL: rcv.URL, Secret: hookSecret})
	cfg.KeepFinished = config.Duration(48 * time.Hour)
	e := newEnv(t, cfg)
	ev := sampleEvent()
	if err := e.pub.Publish(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t, 1)
	ev.Time = time.Time{}
	e.clk.Advance(time.Hour)
	if err := e.pub.Publish(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Duration
		want int64
	}{{47 * time.Hour, 0}, {48*time.Hour + time.Second, 1}, {100 * time.Hour, 0}} {
		e.clk.Set(t0.Add(c.at))
		if n, err := e.w.Prune(t.Context()); err != nil || n != c.want {
			t.Errorf("Prune at +%v = %d, %v; want %d", c.at, n, err, c.want)
		}
	}
	if jobs, _ := e.st.ListJobs(t.Context(), store.JobFilter{}); len(jobs) != 1 || jobs[0].State() != store.JobQueued {
		t.Fatalf("left %+v", jobs)
	}
}

func TestNewWorkerRefuses(t *testing.T) {
	t.Parallel()
	st := newEnv(t, notifyConfig()).st
	good := config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook, URL: "https://hooks.example.com/x", Secret: hookSecret}
	for _, c := range []struct {
		name string
		cfg  config.Notify
		o    WorkerOptions
		want string
	}{
		{"no store", notifyConfig(good), WorkerOptions{Recorder: &recorder{}}, "job store"},
		{"no audit", notifyConfig(good), WorkerOptions{Jobs: st}, "audit recorder"},
		{"a short secret", notifyConfig(config.NotifyChannel{Name: "hook", Type: config.NotifyWebhook,
			URL: "https://hooks.example.com/x", Secret: "short"}), WorkerOptions{Jobs: st, Recorder: &recorder{}}, "secret"},
		{"a missing CA file", notifyConfig(config.NotifyChannel{Name: "mail", Type: config.NotifyEmail, SMTPAddr: "smtp.example.com:587",
			SMTPCAFile: "/nonexistent/ca.pem", From: "gw@example.com", To: []string{"a@example.com"}}),
			WorkerOptions{Jobs: st, Recorder: &recorder{}}, "smtp_ca_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewWorker(c.cfg, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewWorker error %v, want one about %s", err, c.want)
			}
		})
	}
}
