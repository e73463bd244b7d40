package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// The tests of the batch writer run in testing/synctest bubbles: time is
// fake and moves only when every goroutine of the test is blocked, and
// synctest.Wait returns once they all are. So "the writer is stalled and
// Record blocks" and "nothing is sent before batchWait" are observed
// exactly, with no real waiting and no dependence on the machine's speed.

// batchStore records the batches the writer appends; gate, if set, holds
// each append until it receives; fail, if set, is asked first whether an
// attempt fails.
type batchStore struct {
	store.Store // nil: only AppendAudit is called
	mu          sync.Mutex
	batches     [][]string
	attempts    []time.Time
	gate        chan struct{}
	openGate    sync.Once
	fail        func(attempt int) error
	// refuse, if set, refuses any append holding an event it names (a
	// database that answers but will not take that event).
	refuse func(ev *chain.Event) bool
	up     bool // Ping answers
	setAs  []chain.Event
}

// Ping answers when the database is up.
func (s *batchStore) Ping(context.Context) error {
	if s.up {
		return nil
	}
	return errors.New("database is down")
}

// open lets every append through from now on.
func (s *batchStore) open() {
	s.openGate.Do(func() {
		if s.gate != nil {
			close(s.gate)
		}
	})
}

func (s *batchStore) AppendAudit(_ context.Context, evs []*chain.Event) error {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, time.Now())
	if s.fail != nil {
		if err := s.fail(len(s.attempts)); err != nil {
			return err
		}
	}
	for _, e := range evs {
		if s.refuse != nil && s.refuse(e) {
			return errors.New(`invalid input value for "` + e.RequestID + `"`)
		}
	}
	for _, e := range evs {
		if e.Action == "audit.set_aside" {
			s.setAs = append(s.setAs, *e)
		}
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.RequestID
	}
	s.batches = append(s.batches, ids)
	return nil
}

func (s *batchStore) written() (all []string, sizes []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		all = append(all, b...)
		sizes = append(sizes, len(b))
	}
	return all, sizes
}

func (s *batchStore) attemptTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.attempts...)
}

var quietLog = slog.New(slog.DiscardHandler)

// counterValue reads one counter.
func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v, %d families", err, len(mfs))
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}

// start returns a running auditor writing to st. When the test ends, even
// by failing, st's gate opens and the auditor is closed, so that no
// goroutine is left blocked in the bubble.
func start(t *testing.T, st *batchStore) *Auditor {
	a := New(st, quietLog, nil)
	go a.Run()
	t.Cleanup(func() {
		st.open()
		closeAuditor(t, a)
	})
	return a
}

func closeAuditor(t *testing.T, a *Auditor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// Routine events are written in batches of at most batchMax, in order, and
// a burst goes out in a few commits rather than one per event.
func TestQueueBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{}
		a := start(t, st)
		const n = 3*batchMax + 7
		for i := range n {
			a.Record(&chain.Event{RequestID: fmt.Sprint(i)})
		}
		closeAuditor(t, a)
		all, sizes := st.written()
		if len(all) != n {
			t.Fatalf("%d events written, want %d", len(all), n)
		}
		for i, id := range all {
			if id != fmt.Sprint(i) {
				t.Fatalf("event %d is %s: order lost", i, id)
			}
		}
		for _, sz := range sizes {
			if sz > batchMax {
				t.Fatalf("a batch of %d, more than %d", sz, batchMax)
			}
		}
		if len(sizes) > 8 {
			t.Errorf("%d batches for %d events recorded at once: %v", len(sizes), n, sizes)
		}
	})
}

// A lone event is written after batchWait, not held until more come — and
// not before: the writer gives a batch that long to fill.
func TestQueueLoneEventWritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{}
		a := start(t, st)
		begin := time.Now()
		a.Record(&chain.Event{RequestID: "lone"})
		time.Sleep(batchWait - time.Nanosecond)
		synctest.Wait()
		if all, _ := st.written(); len(all) != 0 {
			t.Fatalf("a lone event was written after %v, before batchWait (%v)", time.Since(begin), batchWait)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if all, _ := st.written(); len(all) != 1 {
			t.Fatalf("a lone event was not written after batchWait (%v)", batchWait)
		}
	})
}

// When the store stalls, Record blocks once queueSize events are unwritten
// (queued, or in the batch the writer holds): callers slow down, and no
// event is dropped.
//
// This test used to wait 300ms of real time and then expect the queue to be
// full; on a loaded machine under -race, the recording goroutine had not
// filled it yet (it held 6670 of 16384). It now waits, with synctest.Wait,
// until the writer is blocked in the stalled store and the recorder is
// blocked in Record: the state the test is about, however slow the machine.
func TestQueueBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{gate: make(chan struct{})}
		a := start(t, st)
		recorded := make(chan int, 1)
		go func() {
			i := 0
			for ; i < queueSize+2*batchMax; i++ {
				a.Record(&chain.Event{RequestID: fmt.Sprint(i)})
				if i == queueSize { // cannot fit while the store stalls
					recorded <- i
				}
			}
			close(recorded)
		}()
		synctest.Wait() // every goroutine is blocked: the store stalls, Record waits
		select {
		case i := <-recorded:
			t.Fatalf("Record accepted event %d while the store was stalled and the queue full", i)
		default:
		}
		if n := a.q.count.Load(); n != queueSize {
			t.Errorf("queue holds %d unwritten events while stalled, want %d", n, queueSize)
		}
		if n, _ := a.q.state(); n != queueSize-batchMax {
			t.Errorf("%d events wait beside the writer's batch, want %d", n, queueSize-batchMax)
		}
		if all, _ := st.written(); len(all) != 0 {
			t.Errorf("%d events written while the store stalled", len(all))
		}
		st.open() // the store recovers
		for range recorded {
		}
		closeAuditor(t, a)
		all, _ := st.written()
		if len(all) != queueSize+2*batchMax {
			t.Fatalf("%d events written, want %d", len(all), queueSize+2*batchMax)
		}
		for i, id := range all {
			if id != fmt.Sprint(i) {
				t.Fatalf("event %d is %s: order lost", i, id)
			}
		}
	})
}

// A batch the store refuses is retried, after 100ms, then twice as long
// each time up to 5s, until it is written; nothing is dropped, and Flush
// returns once it is written.
func TestWriteBatchRetriesWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failures = 8
		st := &batchStore{fail: func(attempt int) error {
			if attempt <= failures {
				return errors.New("database is down")
			}
			return nil
		}}
		a := start(t, st)
		begin := time.Now()
		a.Record(&chain.Event{RequestID: "r1"})
		a.Record(&chain.Event{RequestID: "r2"})
		if err := a.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if all, sizes := st.written(); fmt.Sprint(all, sizes) != "[r1 r2] [2]" {
			t.Fatalf("written %v in batches %v, want [r1 r2] in one", all, sizes)
		}
		at := st.attemptTimes()
		if len(at) != failures+1 {
			t.Fatalf("%d attempts, want %d", len(at), failures+1)
		}
		if at[0].Sub(begin) != batchWait {
			t.Errorf("first attempt after %v, want batchWait %v", at[0].Sub(begin), batchWait)
		}
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
			800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}
		for i := 1; i < len(at); i++ {
			if got := at[i].Sub(at[i-1]); got != want[i-1] {
				t.Errorf("retry %d after %v, want %v", i, got, want[i-1])
			}
		}
		if got := counterValue(t, a.failures); got != failures {
			t.Errorf("failure counter %v, want %d", got, failures)
		}
		if got := counterValue(t, a.written); got != 2 {
			t.Errorf("written counter %v, want 2", got)
		}
	})
}

// Flush waits for the events recorded before it is called, and only for
// those: a steady stream of later events does not hold it up.
func TestFlushWaitsForEarlierEventsOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{gate: make(chan struct{})}
		a := start(t, st)
		a.Record(&chain.Event{RequestID: "before"})
		flushed := make(chan error, 1)
		go func() { flushed <- a.Flush(context.Background()) }()
		time.Sleep(batchWait) // the writer takes [before] and stalls in the store
		synctest.Wait()
		select {
		case err := <-flushed:
			t.Fatalf("Flush returned (%v) before the event was written", err)
		default:
		}
		a.Record(&chain.Event{RequestID: "after"})
		st.gate <- struct{}{} // the store takes [before]
		synctest.Wait()
		select {
		case err := <-flushed:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("Flush still waits although every event recorded before it is written")
		}
		if all, _ := st.written(); fmt.Sprint(all) != "[before]" {
			t.Fatalf("written %v", all)
		}
		st.open()
		closeAuditor(t, a)
		if all, _ := st.written(); fmt.Sprint(all) != "[before after]" {
			t.Fatalf("written %v", all)
		}
	})
}

// An event the store refuses while the database answers (retrying cannot
// help) is set aside after a few attempts: the others are written, in
// order, and the refused one is recorded as audit.set_aside naming it, so
// one bad event cannot stop the log. Time is synctest's.
func TestRefusedEventSetAside(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{up: true, refuse: func(e *chain.Event) bool { return e.RequestID == "poison" && e.Action != "audit.set_aside" }}
		a := start(t, st)
		for _, id := range []string{"r1", "r2", "poison", "r3", "r4"} {
			a.Record(&chain.Event{RequestID: id, Action: "AppList", Actor: "mallory"})
		}
		if err := a.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		all, _ := st.written()
		if got := fmt.Sprint(all); got != "[r1 r2 poison r3 r4]" {
			t.Fatalf("written %s, want every event in order, poison as its set-aside record", got)
		}
		if len(st.setAs) != 1 || st.setAs[0].RequestID != "poison" || st.setAs[0].Actor != "mallory" ||
			!strings.Contains(st.setAs[0].Details, `"refused_action":"AppList"`) {
			t.Fatalf("set-aside records: %+v", st.setAs)
		}
		if got := counterValue(t, a.setAsideCount); got != 1 {
			t.Errorf("set-aside counter %v, want 1", got)
		}
		// Later events go through at once.
		a.Record(&chain.Event{RequestID: "r5"})
		if err := a.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if all, _ := st.written(); all[len(all)-1] != "r5" {
			t.Fatalf("the log stopped after the refused event: %v", all)
		}
	})
}

// If even the summary of a refused event is refused, a bare record of the
// set-aside (time only) takes its place: the log never stops.
func TestRefusedSummarySetAsideBare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &batchStore{up: true, refuse: func(e *chain.Event) bool { return e.RequestID == "poison" }}
		a := start(t, st)
		a.Record(&chain.Event{RequestID: "poison", Action: "AppList"})
		a.Record(&chain.Event{RequestID: "r1"})
		if err := a.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(st.setAs) != 1 || st.setAs[0].RequestID != "" || st.setAs[0].Actor != "rack-gateway" {
			t.Fatalf("set-aside records: %+v", st.setAs)
		}
		if all, _ := st.written(); fmt.Sprint(all) != "[ r1]" {
			t.Fatalf("written %v", all)
		}
	})
}
