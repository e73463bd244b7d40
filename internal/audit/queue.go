package audit

import (
	"context"
	"sync"

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
	// reserved is room promised to calls being served (reserve); it counts
	// against size like queued events.
	reserved int
	size     int // how many events (and promises) the queue holds

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
	for len(q.buf)+q.reserved >= q.size && !q.closed {
		q.notFull.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
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
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.buf)+q.reserved >= q.size {
		return false
	}
	q.reserved++
	return true
}

// putReserved queues ev in promised room, without waiting. It reports
// false, without queueing, once the queue is closed.
func (q *queue) putReserved(ev *chain.Event) bool {
	q.mu.Lock()
	q.reserved--
	if q.closed {
		q.mu.Unlock()
		q.notFull.Broadcast()
		return false
	}
	q.appendLocked(ev)
	return true
}

// unreserve gives back promised room.
func (q *queue) unreserve() {
	q.mu.Lock()
	q.reserved--
	q.mu.Unlock()
	q.notFull.Broadcast()
}

// take moves up to max events into dst and reports how many are left and
// whether the queue is closed.
func (q *queue) take(dst []*chain.Event, max int) ([]*chain.Event, int, bool) {
	q.mu.Lock()
	n := min(len(q.buf), max)
	dst = append(dst, q.buf[:n]...)
	rest := copy(q.buf, q.buf[n:])
	clear(q.buf[rest:])
	q.buf = q.buf[:rest]
	closed := q.closed
	q.mu.Unlock()
	if n > 0 {
		q.notFull.Broadcast()
	}
	return dst, rest, closed
}

// state reports how many events wait and whether the queue is closed.
func (q *queue) state() (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf), q.closed
}

// done records that n more taken events are written.
func (q *queue) done(n int) {
	q.mu.Lock()
	q.written += uint64(n)
	if q.progress != nil {
		close(q.progress)
		q.progress = nil
	}
	q.mu.Unlock()
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
	q.mu.Unlock()
	q.notFull.Broadcast()
	signal(q.full)
	signal(q.nonEmpty)
}
