package audit

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// queue holds routine events until the batch writer takes them.
//
// It replaces a channel on purpose: a writer blocked on a channel is woken
// for every event sent, which on a busy gateway costs a goroutine switch
// per proxied call. Here the writer is woken twice per batch at most: when
// the queue stops being empty, and when a full batch is waiting.
type queue struct {
	mu      sync.Mutex
	notFull sync.Cond // Record waits on it while the queue is full
	buf     []*chain.Event
	closed  bool
	size    int // how many unwritten events (and promises) the queue holds

	// count is the events not yet written (queued, or taken by the writer
	// and being written) plus the room promised to calls being served
	// (reserve). Taken events keep their room until done: while the
	// database is down the writer retries a batch it holds, and that batch
	// must count against the bound, or the bound would be size plus a batch. It is atomic so that reserve, once per call, takes
	// no lock; put and take change it under mu. A reserve racing a put may
	// pass size by a few: the bound is soft, which is all it needs to be.
	count   atomic.Int64
	waiters atomic.Int32 // puts waiting for room
	shut    atomic.Bool  // closed, readable without mu

	// queued counts the events ever queued and written those ever
	// written; the queue is FIFO, so written >= n means the first n are.
	queued, written uint64
	progress        chan struct{} // closed when written grows; nil if no one waits

	nonEmpty chan struct{} // capacity 1: the queue went from empty to not
	full     chan struct{} // capacity 1: a full batch waits, or the queue closed
}

func newQueue(size int) *queue {
	q := &queue{size: size, nonEmpty: make(chan struct{}, 1), full: make(chan struct{}, 1)}
	q.notFull.L = &q.mu
	return q
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// put appends ev, blocking while size events wait. It reports false,
// without queueing, once the queue is closed.
func (q *queue) put(ev *chain.Event) bool {
	q.mu.Lock()
	// Counted as waiting before looking, so that an unreserve that frees
	// room after the look sees a waiter to wake (both are atomic).
	q.waiters.Add(1)
	for q.count.Load() >= int64(q.size) && !q.closed {
		q.notFull.Wait()
	}
	q.waiters.Add(-1)
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.count.Add(1)
	q.appendLocked(ev)
	return true
}

// appendLocked queues ev and unlocks q.mu.
func (q *queue) appendLocked(ev *chain.Event) {
	q.buf = append(q.buf, ev)
	q.queued++
	n := len(q.buf)
	q.mu.Unlock()
	switch n {
	case 1:
		signal(q.nonEmpty)
	case batchMax:
		signal(q.full)
	}
}

// reserve promises room for one event without waiting; false when the
// queue (with what is promised) is full or closed.
func (q *queue) reserve() bool {
	for {
		n := q.count.Load()
		if q.shut.Load() || n >= int64(q.size) {
			return false
		}
		if q.count.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// putReserved queues ev in promised room, without waiting. It reports
// false, without queueing, once the queue is closed.
func (q *queue) putReserved(ev *chain.Event) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.unreserve()
		return false
	}
	q.appendLocked(ev) // its room is counted already
	return true
}

// unreserve gives back promised room.
func (q *queue) unreserve() {
	q.count.Add(-1)
	if q.waiters.Load() > 0 {
		q.mu.Lock()
		q.notFull.Broadcast()
		q.mu.Unlock()
	}
}

// take moves up to max events into dst and reports how many are left and
// whether the queue is closed. The events keep their room until done.
func (q *queue) take(dst []*chain.Event, max int) ([]*chain.Event, int, bool) {
	q.mu.Lock()
	n := min(len(q.buf), max)
	dst = append(dst, q.buf[:n]...)
	rest := copy(q.buf, q.buf[n:])
	clear(q.buf[rest:])
	q.buf = q.buf[:rest]
	closed := q.closed
	q.mu.Unlock()
	return dst, rest, closed
}

// state reports how many events wait and whether the queue is closed.
func (q *queue) state() (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf), q.closed
}

// done records that n more taken events are written (or set aside) and
// gives their room back.
func (q *queue) done(n int) {
	q.mu.Lock()
	q.written += uint64(n)
	q.count.Add(-int64(n))
	if q.progress != nil {
		close(q.progress)
		q.progress = nil
	}
	q.mu.Unlock()
	if n > 0 {
		q.notFull.Broadcast()
	}
}

// waitWritten waits until every event queued before the call is written,
// or ctx ends.
func (q *queue) waitWritten(ctx context.Context) error {
	q.mu.Lock()
	target := q.queued
	for q.written < target {
		if q.progress == nil {
			q.progress = make(chan struct{})
		}
		ch := q.progress
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		q.mu.Lock()
	}
	q.mu.Unlock()
	return nil
}

// close refuses further events; those already queued stay to be taken.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.shut.Store(true)
	q.mu.Unlock()
	q.notFull.Broadcast()
	signal(q.full)
	signal(q.nonEmpty)
}
