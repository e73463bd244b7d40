package audit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// batchStore records the batches the writer appends; gate, if set, holds
// each append until it receives.
type batchStore struct {
	store.Store // nil: only AppendAudit is called
	mu          sync.Mutex
	batches     [][]string
	gate        chan struct{}
}

func (s *batchStore) AppendAudit(_ context.Context, evs []*chain.Event) error {
	if s.gate != nil {
		<-s.gate
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.RequestID
	}
	s.mu.Lock()
	s.batches = append(s.batches, ids)
	s.mu.Unlock()
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

// Routine events are written in batches of at most batchMax, in order, and
// a burst goes out in a few commits rather than one per event.
func TestQueueBatches(t *testing.T) {
	st := &batchStore{}
	a := New(st, nil, nil)
	go a.Run()
	const n = 3*batchMax + 7
	for i := range n {
		a.Record(&chain.Event{RequestID: fmt.Sprint(i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
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
}

// A lone event is written after about batchWait, not held until more come.
func TestQueueLoneEventWritten(t *testing.T) {
	st := &batchStore{}
	a := New(st, nil, nil)
	go a.Run()
	defer a.Close(context.Background()) //nolint:errcheck
	a.Record(&chain.Event{RequestID: "lone"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if all, _ := st.written(); len(all) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a lone event was not written within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// When the store stalls, Record blocks once queueSize events wait: callers
// slow down, and no event is dropped.
func TestQueueBackpressure(t *testing.T) {
	st := &batchStore{gate: make(chan struct{})}
	a := New(st, nil, nil)
	go a.Run()
	recorded := make(chan int, 1)
	go func() {
		i := 0
		for ; i < queueSize+2*batchMax; i++ {
			a.Record(&chain.Event{RequestID: fmt.Sprint(i)})
			if i == queueSize+batchMax { // cannot fit while the store stalls
				recorded <- i
			}
		}
		close(recorded)
	}()
	select {
	case i := <-recorded:
		t.Fatalf("Record accepted event %d while the store was stalled and the queue full", i)
	case <-time.After(300 * time.Millisecond):
	}
	if n, _ := a.q.state(); n != queueSize {
		t.Errorf("queue holds %d events while stalled, want %d", n, queueSize)
	}
	close(st.gate) // the store recovers
	for range recorded {
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	all, _ := st.written()
	if len(all) != queueSize+2*batchMax {
		t.Fatalf("%d events written, want %d", len(all), queueSize+2*batchMax)
	}
	for i, id := range all {
		if id != fmt.Sprint(i) {
			t.Fatalf("event %d is %s: order lost", i, id)
		}
	}
}
