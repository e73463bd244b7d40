package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

var jobTests = []subtest{
	{"Jobs/Lifecycle", testJobLifecycle},
	{"Jobs/Due", testJobDue},
	{"Jobs/LeaseExpiry", testJobLeaseExpiry},
	{"Jobs/RetryAndKill", testJobRetryAndKill},
	{"Jobs/WrongWorker", testJobWrongWorker},
	{"Jobs/List", testJobList},
	{"Jobs/DeleteFinished", testJobDeleteFinished},
	{"Jobs/ClaimRace", testJobClaimRace},
}

// mustJob enqueues a job for channel due at runAt (zero: now).
func mustJob(t *testing.T, s store.Store, channel string, runAt time.Time) *store.Job {
	t.Helper()
	j := &store.Job{Channel: channel, Event: "approval.requested", Payload: []byte(`{"n":1}`), RunAt: runAt}
	must(t, "enqueue", s.EnqueueJob(ctx(t), j))
	return j
}

// claim claims jobs and returns their ids in the order returned.
func claim(t *testing.T, s store.Store, worker string, limit int, lease time.Duration) []int64 {
	t.Helper()
	jobs, err := s.ClaimJobs(ctx(t), worker, limit, lease)
	must(t, "claim by "+worker, err)
	ids := []int64{}
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func wantIDs(t *testing.T, what string, got []int64, want ...int64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(append([]int64{}, want...)) {
		t.Fatalf("%s: got jobs %v, want %v", what, got, want)
	}
}

func testJobLifecycle(t *testing.T, s store.Store, clk *clock.Fake) {
	for _, bad := range []store.Job{
		{Event: "e", Payload: []byte("{}")},
		{Channel: "c", Payload: []byte("{}")},
		{Channel: "c", Event: "e"},
	} {
		if err := s.EnqueueJob(ctx(t), &bad); err == nil {
			t.Errorf("enqueued %+v", bad)
		}
	}
	j := &store.Job{Channel: "ops", Event: "approval.requested", Payload: []byte(`{"kind":"approval.requested"}`),
		Attempts: 7, LockedBy: "x", LastError: "stale"}
	must(t, "enqueue", s.EnqueueJob(ctx(t), j))
	if j.ID == 0 || j.Attempts != 0 || j.LockedBy != "" || j.LastError != "" || j.State() != store.JobQueued {
		t.Fatalf("enqueued %+v", j)
	}
	checkNow(t, "CreatedAt", j.CreatedAt, clk)
	checkNow(t, "RunAt", j.RunAt, clk)
	got, err := s.GetJob(ctx(t), j.ID)
	must(t, "get", err)
	checkSame(t, "stored job", *j, *got)
	_, err = s.GetJob(ctx(t), 9999)
	wantErr(t, "get a missing job", err, store.ErrNotFound)

	if _, err := s.ClaimJobs(ctx(t), "", 1, time.Minute); err == nil {
		t.Error("claimed without a worker")
	}
	if _, err := s.ClaimJobs(ctx(t), "w1", 0, time.Minute); err == nil {
		t.Error("claimed with limit 0")
	}
	claimedAt := clk.Advance(time.Second)
	jobs, err := s.ClaimJobs(ctx(t), "w1", 10, time.Minute)
	must(t, "claim", err)
	if len(jobs) != 1 || jobs[0].ID != j.ID || jobs[0].Attempts != 1 || jobs[0].LockedBy != "w1" ||
		string(jobs[0].Payload) != `{"kind":"approval.requested"}` || jobs[0].State() != store.JobQueued {
		t.Fatalf("claimed %+v", jobs)
	}
	checkTime(t, "LockedUntil", jobs[0].LockedUntil, claimedAt.Add(time.Minute))
	got, _ = s.GetJob(ctx(t), j.ID)
	checkSame(t, "claimed job as stored", jobs[0], *got)
	wantIDs(t, "a claim while leased", claim(t, s, "w2", 10, time.Minute))

	doneAt := clk.Advance(time.Second)
	must(t, "complete", s.CompleteJob(ctx(t), j.ID, "w1"))
	got, _ = s.GetJob(ctx(t), j.ID)
	checkTime(t, "DoneAt", got.DoneAt, doneAt)
	if got.State() != store.JobDone || !got.LockedUntil.IsZero() || got.LockedBy != "w1" || !got.DeadAt.IsZero() || got.Attempts != 1 {
		t.Fatalf("completed %+v", got)
	}
	wantErr(t, "complete again", s.CompleteJob(ctx(t), j.ID, "w1"), store.ErrConflict)
	wantErr(t, "retry a done job", s.RetryJob(ctx(t), j.ID, "w1", time.Time{}, "x"), store.ErrConflict)
	wantErr(t, "kill a done job", s.KillJob(ctx(t), j.ID, "w1", "x"), store.ErrConflict)
	wantErr(t, "complete a missing job", s.CompleteJob(ctx(t), 9999, "w1"), store.ErrNotFound)
	wantErr(t, "retry a missing job", s.RetryJob(ctx(t), 9999, "w1", time.Time{}, "x"), store.ErrNotFound)
	wantErr(t, "kill a missing job", s.KillJob(ctx(t), 9999, "w1", "x"), store.ErrNotFound)
	clk.Advance(time.Hour)
	wantIDs(t, "a claim after completion", claim(t, s, "w1", 10, time.Minute))
}

// A job is claimed once its RunAt has come, oldest RunAt first, at most
// limit at a time.
func testJobDue(t *testing.T, s store.Store, clk *clock.Fake) {
	t0 := clk.Now()
	later := mustJob(t, s, "ops", t0.Add(10*time.Minute))
	soon := mustJob(t, s, "ops", t0.Add(time.Minute))
	now1 := mustJob(t, s, "ops", time.Time{})
	now2 := mustJob(t, s, "ops", t0.Add(-time.Hour)) // overdue: first
	checkTime(t, "a RunAt in the past", now2.RunAt, t0.Add(-time.Hour))
	wantIDs(t, "due now, limit 1", claim(t, s, "w", 1, 24*time.Hour), now2.ID)
	wantIDs(t, "due now", claim(t, s, "w", 10, 24*time.Hour), now1.ID)
	clk.Set(t0.Add(time.Minute - time.Microsecond))
	wantIDs(t, "a microsecond before the first is due", claim(t, s, "w", 10, 24*time.Hour))
	clk.Set(t0.Add(time.Minute))
	wantIDs(t, "exactly at RunAt", claim(t, s, "w", 10, 24*time.Hour), soon.ID)
	clk.Set(t0.Add(time.Hour))
	wantIDs(t, "the last", claim(t, s, "w", 10, 24*time.Hour), later.ID)
}

// A lease that ran out lets another worker claim the job, and the first
// worker can then no longer finish it.
func testJobLeaseExpiry(t *testing.T, s store.Store, clk *clock.Fake) {
	j := mustJob(t, s, "ops", time.Time{})
	wantIDs(t, "w1 claims", claim(t, s, "w1", 1, time.Minute), j.ID)
	clk.Advance(time.Minute - time.Microsecond)
	wantIDs(t, "w2 while the lease holds", claim(t, s, "w2", 1, time.Minute))
	clk.Advance(time.Microsecond)
	jobs, err := s.ClaimJobs(ctx(t), "w2", 1, time.Minute)
	must(t, "w2 after the lease ran out", err)
	if len(jobs) != 1 || jobs[0].ID != j.ID || jobs[0].Attempts != 2 || jobs[0].LockedBy != "w2" {
		t.Fatalf("re-claimed %+v", jobs)
	}
	wantErr(t, "w1 completes after losing the lease", s.CompleteJob(ctx(t), j.ID, "w1"), store.ErrConflict)
	wantErr(t, "w1 retries after losing the lease", s.RetryJob(ctx(t), j.ID, "w1", time.Time{}, "x"), store.ErrConflict)
	wantErr(t, "w1 kills after losing the lease", s.KillJob(ctx(t), j.ID, "w1", "x"), store.ErrConflict)
	// A worker whose lease ran out but that nobody replaced may still
	// report its work.
	clk.Advance(2 * time.Minute)
	must(t, "w2 completes after its lease ran out", s.CompleteJob(ctx(t), j.ID, "w2"))
}

func testJobRetryAndKill(t *testing.T, s store.Store, clk *clock.Fake) {
	j := mustJob(t, s, "ops", time.Time{})
	wantIDs(t, "claim", claim(t, s, "w", 1, time.Minute), j.ID)
	next := clk.Now().Add(5 * time.Minute)
	must(t, "retry", s.RetryJob(ctx(t), j.ID, "w", next, "HTTP 500"))
	got, _ := s.GetJob(ctx(t), j.ID)
	checkTime(t, "RunAt after retry", got.RunAt, next)
	if got.LastError != "HTTP 500" || !got.LockedUntil.IsZero() || got.Attempts != 1 || got.State() != store.JobQueued {
		t.Fatalf("after retry %+v", got)
	}
	wantErr(t, "retry without a lease", s.RetryJob(ctx(t), j.ID, "w", next, "x"), store.ErrConflict)
	wantErr(t, "complete without a lease", s.CompleteJob(ctx(t), j.ID, "w"), store.ErrConflict)
	wantIDs(t, "before the retry is due", claim(t, s, "w", 1, time.Minute))
	clk.Set(next)
	jobs, err := s.ClaimJobs(ctx(t), "w", 1, time.Minute)
	must(t, "claim the retry", err)
	if len(jobs) != 1 || jobs[0].Attempts != 2 || jobs[0].LastError != "HTTP 500" {
		t.Fatalf("second claim %+v", jobs)
	}
	// A zero runAt is now.
	must(t, "retry now", s.RetryJob(ctx(t), j.ID, "w", time.Time{}, "timeout"))
	jobs, _ = s.ClaimJobs(ctx(t), "w", 1, time.Minute)
	if len(jobs) != 1 || jobs[0].Attempts != 3 {
		t.Fatalf("third claim %+v", jobs)
	}
	deadAt := clk.Advance(time.Second)
	must(t, "kill", s.KillJob(ctx(t), j.ID, "w", "gave up after 3 attempts"))
	got, _ = s.GetJob(ctx(t), j.ID)
	checkTime(t, "DeadAt", got.DeadAt, deadAt)
	if got.State() != store.JobDead || !got.DoneAt.IsZero() || !got.LockedUntil.IsZero() || got.LastError != "gave up after 3 attempts" {
		t.Fatalf("killed %+v", got)
	}
	wantErr(t, "kill again", s.KillJob(ctx(t), j.ID, "w", "x"), store.ErrConflict)
	clk.Advance(24 * time.Hour)
	wantIDs(t, "a claim after the kill", claim(t, s, "w", 1, time.Minute))
}

// Only the worker holding a job's lease finishes it, and a job never
// claimed is held by nobody.
func testJobWrongWorker(t *testing.T, s store.Store, clk *clock.Fake) {
	j := mustJob(t, s, "ops", time.Time{})
	wantErr(t, "complete before any claim", s.CompleteJob(ctx(t), j.ID, ""), store.ErrConflict)
	wantErr(t, "kill before any claim", s.KillJob(ctx(t), j.ID, "w1", "x"), store.ErrConflict)
	wantIDs(t, "claim", claim(t, s, "w1", 1, time.Minute), j.ID)
	for what, err := range map[string]error{
		"complete": s.CompleteJob(ctx(t), j.ID, "w2"),
		"retry":    s.RetryJob(ctx(t), j.ID, "w2", time.Time{}, "x"),
		"kill":     s.KillJob(ctx(t), j.ID, "w2", "x"),
	} {
		wantErr(t, what+" by another worker", err, store.ErrConflict)
	}
	got, _ := s.GetJob(ctx(t), j.ID)
	if got.State() != store.JobQueued || got.LockedBy != "w1" || got.LastError != "" {
		t.Fatalf("another worker changed the job: %+v", got)
	}
	must(t, "complete by the holder", s.CompleteJob(ctx(t), j.ID, "w1"))
}

func testJobList(t *testing.T, s store.Store, clk *clock.Fake) {
	a := mustJob(t, s, "ops", time.Time{})
	b := mustJob(t, s, "dev", time.Time{})
	c := &store.Job{Channel: "ops", Event: "mfa.locked", Payload: []byte("{}")}
	must(t, "enqueue", s.EnqueueJob(ctx(t), c))
	d := mustJob(t, s, "ops", time.Time{})
	claim(t, s, "w", 2, time.Minute) // a, b
	must(t, "complete a", s.CompleteJob(ctx(t), a.ID, "w"))
	must(t, "kill b", s.KillJob(ctx(t), b.ID, "w", "x"))
	ids := func(f store.JobFilter) []int64 {
		t.Helper()
		jobs, err := s.ListJobs(ctx(t), f)
		must(t, "list", err)
		out := []int64{}
		for _, j := range jobs {
			out = append(out, j.ID)
		}
		return out
	}
	wantIDs(t, "all", ids(store.JobFilter{}), d.ID, c.ID, b.ID, a.ID)
	wantIDs(t, "a channel", ids(store.JobFilter{Channel: "ops"}), d.ID, c.ID, a.ID)
	wantIDs(t, "an event", ids(store.JobFilter{Event: "mfa.locked"}), c.ID)
	wantIDs(t, "queued", ids(store.JobFilter{State: store.JobQueued}), d.ID, c.ID)
	wantIDs(t, "done", ids(store.JobFilter{State: store.JobDone}), a.ID)
	wantIDs(t, "dead", ids(store.JobFilter{State: store.JobDead}), b.ID)
	wantIDs(t, "a page", ids(store.JobFilter{BeforeID: c.ID, Limit: 1}), b.ID)
	wantIDs(t, "nothing", ids(store.JobFilter{Channel: "none"}))
	if _, err := s.ListJobs(ctx(t), store.JobFilter{State: "bogus"}); err == nil {
		t.Error("listed jobs of an unknown state")
	}
}

func testJobDeleteFinished(t *testing.T, s store.Store, clk *clock.Fake) {
	done := mustJob(t, s, "ops", time.Time{})
	dead := mustJob(t, s, "ops", time.Time{})
	queued := mustJob(t, s, "ops", time.Time{})
	retried := mustJob(t, s, "ops", time.Time{})
	claim(t, s, "w", 4, time.Minute)
	t1 := clk.Advance(time.Hour)
	must(t, "complete", s.CompleteJob(ctx(t), done.ID, "w"))
	must(t, "retry", s.RetryJob(ctx(t), retried.ID, "w", t1.Add(time.Hour), "x"))
	t2 := clk.Advance(time.Hour)
	must(t, "kill", s.KillJob(ctx(t), dead.ID, "w", "x"))
	clk.Advance(100 * 24 * time.Hour)
	for _, c := range []struct {
		before time.Time
		want   int64
	}{{t1, 0}, {t1.Add(time.Microsecond), 1}, {t2.Add(time.Microsecond), 1}, {clk.Now(), 0}, {time.Time{}, 0}} {
		n, err := s.DeleteFinishedJobs(ctx(t), c.before)
		must(t, "delete finished", err)
		if n != c.want {
			t.Errorf("deleted %d finished before %v, want %d", n, c.before, c.want)
		}
	}
	jobs, err := s.ListJobs(ctx(t), store.JobFilter{})
	must(t, "list", err)
	if len(jobs) != 2 || jobs[0].ID != retried.ID || jobs[1].ID != queued.ID {
		t.Fatalf("left %+v, want the queued and the retried job", jobs)
	}
}

// Workers racing to claim get every job exactly once between them.
func testJobClaimRace(t *testing.T, s store.Store, clk *clock.Fake) {
	const n, workers = 60, 8
	for range n {
		mustJob(t, s, "ops", time.Time{})
	}
	var mu sync.Mutex
	owner := map[int64]string{}
	var dups []string
	var wg, ready sync.WaitGroup
	start := make(chan struct{})
	ready.Add(workers)
	for w := range workers {
		name := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			// Every worker has its own connection before they all start
			// at once.
			err := s.Ping(ctx(t))
			ready.Done()
			if err != nil {
				t.Errorf("%s: ping: %v", name, err)
				return
			}
			<-start
			// Each stops at its first empty claim; the check below
			// then finds whatever a claim missed.
			for range n {
				jobs, err := s.ClaimJobs(ctx(t), name, 3, time.Hour)
				if err != nil {
					t.Errorf("%s: claim: %v", name, err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					if prev, ok := owner[j.ID]; ok {
						dups = append(dups, fmt.Sprintf("job %d by %s and %s", j.ID, prev, name))
					}
					owner[j.ID] = name
					if j.Attempts != 1 || j.LockedBy != name {
						dups = append(dups, fmt.Sprintf("job %d claimed by %s with %d attempts, locked by %q", j.ID, name,
							j.Attempts, j.LockedBy))
					}
				}
				mu.Unlock()
			}
		})
	}
	ready.Wait()
	close(start)
	wg.Wait()
	if len(dups) > 0 {
		t.Fatalf("claimed more than once: %v", dups)
	}
	if len(owner) != n {
		t.Fatalf("the racing workers claimed %d of %d jobs", len(owner), n)
	}
	// Each holder can finish its jobs, and only its jobs.
	for id, w := range owner {
		must(t, "complete by the holder", s.CompleteJob(ctx(t), id, w))
	}
	jobs, err := s.ListJobs(ctx(t), store.JobFilter{State: store.JobQueued})
	must(t, "list", err)
	if len(jobs) != 0 {
		t.Fatalf("%d jobs still queued", len(jobs))
	}
}
