package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// recordSync runs RecordSync in a goroutine; the channel gives its result.
func recordSync(a *Auditor, id string) chan error {
	done := make(chan error, 1)
	go func() { done <- a.RecordSync(context.Background(), &chain.Event{RequestID: id, Action: "AppDelete"}) }()
	return done
}

// A write-ahead event does not wait batchWait for routine events to
// gather: it goes out at once, with the routine events already queued, in
// one commit.
func TestWriteAheadDoesNotWaitForABatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{}
		a := start(t, st)
		synctest.Wait() // the writer is waiting for work
		begin := time.Now()
		a.Record(&chain.Event{RequestID: "read"})
		if err := <-recordSync(a, "write-ahead"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(begin); d != 0 {
			t.Errorf("the write-ahead event waited %v (fake time) for routine events", d)
		}
		if all, sizes := st.written(); fmt.Sprint(all) != "[read write-ahead]" || len(sizes) != 1 {
			t.Errorf("written %v in batches %v, want both in one commit, the routine event first", all, sizes)
		}
	})
}

// A mutating call never waits behind a whole batch of reads: while a
// full routine batch is being written, the write-ahead event waits for
// that commit only, and its own commit carries at most besideWriteAhead
// routine events, however many are queued.
func TestWriteAheadNotQueuedBehindRoutineBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{gate: make(chan struct{})}
		a := start(t, st)
		const routine = 3 * batchMax // below backlogAt: no catching up in full batches
		for i := range routine {
			a.Record(&chain.Event{RequestID: fmt.Sprint(i)})
		}
		synctest.Wait() // the writer holds a full batch in the stalled store
		done := recordSync(a, "write-ahead")
		synctest.Wait()
		st.gate <- struct{}{} // the batch in flight commits
		synctest.Wait()
		st.gate <- struct{}{} // the next commit: the write-ahead event's
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		_, sizes := st.written()
		if !slices.Equal(sizes, []int{batchMax, besideWriteAhead + 1}) {
			t.Fatalf("commits of %v events, want %v", sizes, []int{batchMax, besideWriteAhead + 1})
		}
		all, _ := st.written()
		if all[len(all)-1] != "write-ahead" {
			t.Errorf("the second commit ends with %q, want the write-ahead event", all[len(all)-1])
		}
		st.open()
		if err := a.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		all, _ = st.written()
		if len(all) != routine+1 {
			t.Fatalf("%d events written, want %d", len(all), routine+1)
		}
		for i, id := range slices.DeleteFunc(all, func(s string) bool { return s == "write-ahead" }) {
			if id != fmt.Sprint(i) {
				t.Fatalf("routine event %d is %s: order lost", i, id)
			}
		}
	})
}

// A large backlog of routine events is still written in full batches while
// mutating calls keep coming, so reads are not refused for a full queue.
func TestBacklogDrainsInFullBatchesBesideWriteAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{gate: make(chan struct{})}
		a := start(t, st)
		for i := range backlogAt + batchMax {
			a.Record(&chain.Event{RequestID: fmt.Sprint(i)})
		}
		synctest.Wait()
		done := recordSync(a, "write-ahead")
		synctest.Wait()
		st.gate <- struct{}{}
		synctest.Wait()
		st.gate <- struct{}{}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, sizes := st.written(); !slices.Equal(sizes, []int{batchMax, batchMax + 1}) {
			t.Fatalf("commits of %v events, want %v", sizes, []int{batchMax, batchMax + 1})
		}
	})
}

// When the store refuses the shared commit because of a routine event, the
// write-ahead event is tried on its own and the call goes ahead; the
// refused routine event is set aside as usual. When the store refuses the
// write-ahead event itself, the call is refused.
func TestWriteAheadSurvivesARefusedRoutineEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{up: true, refuse: func(e *chain.Event) bool {
			return (e.RequestID == "poison" || e.RequestID == "bad-write-ahead") && e.Action != "audit.set_aside"
		}}
		a := start(t, st)
		synctest.Wait()
		a.Record(&chain.Event{RequestID: "poison", Action: "AppList"})
		if err := <-recordSync(a, "write-ahead"); err != nil {
			t.Fatalf("the write-ahead event was refused with a routine event: %v", err)
		}
		if err := a.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if all, _ := st.written(); fmt.Sprint(all) != "[write-ahead poison]" || len(st.setAs) != 1 {
			t.Fatalf("written %v, set aside %d; want the write-ahead event, then poison set aside", all, len(st.setAs))
		}
		if err := <-recordSync(a, "bad-write-ahead"); err == nil {
			t.Fatal("a write-ahead event the store refuses was reported written")
		}
	})
}

// While a routine batch waits to be retried (the database is down), a
// write-ahead event is not stuck behind it until SyncTimeout: it gets its
// own attempt at once and the call is refused at once; when the database
// is back, the next one goes ahead at once, before the batch's retry.
func TestWriteAheadAnsweredWhileABatchRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down atomic.Bool
		down.Store(true)
		st := &batchStore{fail: func(int) error {
			if down.Load() {
				return errors.New("database is down")
			}
			return nil
		}}
		a := start(t, st)
		a.Record(&chain.Event{RequestID: "read"})
		time.Sleep(batchWait)
		synctest.Wait() // the batch failed; the writer waits to retry it
		begin := time.Now()
		if err := <-recordSync(a, "refused"); err == nil {
			t.Fatal("a write-ahead event was reported written while the database is down")
		}
		if d := time.Since(begin); d != 0 {
			t.Errorf("the refusal took %v (fake time), want at once", d)
		}
		down.Store(false)
		if err := <-recordSync(a, "accepted"); err != nil {
			t.Fatalf("the database is back but the write-ahead event failed: %v", err)
		}
		if d := time.Since(begin); d != 0 {
			t.Errorf("the write-ahead event waited %v (fake time) for the batch's retry", d)
		}
		if err := a.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if all, _ := st.written(); fmt.Sprint(all) != "[accepted read]" {
			t.Errorf("written %v, want the write-ahead event, then the retried batch", all)
		}
	})
}
