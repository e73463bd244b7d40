// Package audit records every proxied rack call (allowed or denied) and every
// gateway administration action. Routine events are written in batches off
// the request path; dangerous calls are written durably before they are
// forwarded (RecordSync), and refused if that write fails.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Auditor writes audit events to the store.
type Auditor struct {
	store store.Store
	log   *slog.Logger
	q     *queue // routine events for the batch writer
	done  chan struct{}

	mu     sync.RWMutex // guards closed and syncCh against sends on a closed channel
	closed bool

	// syncCh feeds the group-commit writer for write-ahead events; nil
	// until Run starts it.
	syncCh chan syncReq

	// appendMu orders appends with their delivery to sinks, so sinks see
	// events in sequence order although two writers append.
	appendMu sync.Mutex
	sinks    []Sink

	// SyncTimeout bounds a write-ahead audit write.
	SyncTimeout time.Duration

	written  prometheus.Counter
	failures prometheus.Counter
	queue    prometheus.GaugeFunc
}

const (
	queueSize = 16384
	batchMax  = 512
	batchWait = 50 * time.Millisecond

	// A failed batch write is retried after retryFirst, doubling up to
	// retryMax.
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
)

// New returns an auditor; call Run in a goroutine and Close at shutdown.
// reg may be nil.
func New(s store.Store, log *slog.Logger, reg prometheus.Registerer) *Auditor {
	if log == nil {
		log = slog.Default()
	}
	a := &Auditor{
		store: s, log: log, q: newQueue(), done: make(chan struct{}),
		SyncTimeout: 3 * time.Second,
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rgw_audit_events_written_total", Help: "Audit events durably written."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rgw_audit_write_failures_total", Help: "Failed audit writes (retried for batched events)."}),
	}
	a.queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rgw_audit_queue_length", Help: "Audit events waiting to be written."},
		func() float64 { n, _ := a.q.state(); return float64(n) })
	if reg != nil {
		reg.MustRegister(a.written, a.failures, a.queue)
	}
	return a
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("audit: closed")

// Record queues an event for a batched write. It never drops an event: when
// the queue is full it blocks, slowing callers rather than losing records.
func (a *Auditor) Record(ev *chain.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	sanitize(ev)
	if a.q.put(ev) {
		return
	}
	// Late events (streams cut at shutdown) are written directly, once.
	_ = a.RecordSync(context.Background(), ev)
}

type syncReq struct {
	ev   *chain.Event
	done chan error
}

// RecordSync writes an event durably before returning. A non-nil error means
// the event is not recorded and the caller must refuse the action.
//
// Concurrent calls are group-committed: while one transaction is being
// written, the next calls queue and go out together in the following one,
// so many mutating calls in flight share one commit instead of one each.
func (a *Auditor) RecordSync(ctx context.Context, ev *chain.Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	sanitize(ev)
	ctx, cancel := context.WithTimeout(ctx, a.SyncTimeout)
	defer cancel()
	a.mu.RLock()
	if !a.closed && a.syncCh != nil {
		req := syncReq{ev: ev, done: make(chan error, 1)}
		select {
		case a.syncCh <- req:
			a.mu.RUnlock()
		case <-ctx.Done():
			a.mu.RUnlock()
			return a.syncFailed(ev, ctx.Err())
		}
		select {
		case err := <-req.done:
			if err != nil {
				return a.syncFailed(ev, err)
			}
			return nil
		case <-ctx.Done():
			// The event may still be written; the call is refused anyway,
			// so the log shows an attempt that never went ahead.
			return a.syncFailed(ev, ctx.Err())
		}
	}
	a.mu.RUnlock()
	if err := a.append(ctx, []*chain.Event{ev}); err != nil {
		return a.syncFailed(ev, err)
	}
	a.written.Inc()
	return nil
}

func (a *Auditor) syncFailed(ev *chain.Event, err error) error {
	a.failures.Inc()
	a.log.Error("audit write-ahead failed", "err", err, "action", ev.Action, "actor", ev.Actor)
	return err
}

// runSync group-commits write-ahead events until the channel closes.
func (a *Auditor) runSync(ch chan syncReq) {
	reqs := make([]syncReq, 0, batchMax)
	evs := make([]*chain.Event, 0, batchMax)
	for req := range ch {
		reqs, evs = append(reqs[:0], req), append(evs[:0], req.ev)
	drain:
		for len(reqs) < batchMax {
			select {
			case r, ok := <-ch:
				if !ok {
					break drain
				}
				reqs, evs = append(reqs, r), append(evs, r.ev)
			default:
				break drain
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), a.SyncTimeout)
		err := a.append(ctx, evs)
		cancel()
		if err == nil {
			a.written.Add(float64(len(evs)))
		}
		for _, r := range reqs {
			r.done <- err
		}
	}
}

// Run writes queued events in batches until Close.
func (a *Auditor) Run() {
	defer close(a.done)
	a.mu.Lock()
	if a.syncCh == nil && !a.closed {
		a.syncCh = make(chan syncReq, batchMax)
		go a.runSync(a.syncCh)
	}
	a.mu.Unlock()
	batch := make([]*chain.Event, 0, batchMax)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		n, closed := a.q.state()
		if n == 0 {
			if closed {
				return
			}
			<-a.q.nonEmpty
			continue
		}
		if n < batchMax && !closed {
			// Give the batch batchWait to fill: one commit for many events
			// costs far less than one each.
			timer.Reset(batchWait)
			select {
			case <-a.q.full:
			case <-timer.C:
			}
			timer.Stop()
		}
		batch, _, _ = a.q.take(batch[:0], batchMax)
		// Tokens raised while this batch filled are stale now.
		select {
		case <-a.q.full:
		default:
		}
		a.writeBatch(batch)
		clear(batch) // let the written events be collected
	}
}

// writeBatch retries with backoff until the store takes the batch; events
// are never dropped, and the queue backs up (and is visible in metrics) while
// the database is down. The backoff waits on the runtime's timers, so a test
// in a testing/synctest bubble sees the retries at their exact fake times
// without waiting for real.
func (a *Auditor) writeBatch(batch []*chain.Event) {
	backoff := retryFirst
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := a.append(ctx, batch)
		cancel()
		if err == nil {
			a.written.Add(float64(len(batch)))
			a.q.done(len(batch))
			return
		}
		a.failures.Inc()
		a.log.Error("audit batch write failed; retrying", "err", err, "events", len(batch), "attempt", attempt,
			"retry_in", backoff.String())
		time.Sleep(backoff)
		backoff = min(backoff*2, retryMax)
	}
}

// Flush waits until every event recorded before the call is written, or ctx
// ends. Events recorded after the call do not hold it up.
func (a *Auditor) Flush(ctx context.Context) error {
	return a.q.waitWritten(ctx)
}

// Close stops accepting events and waits (up to ctx) for queued events to be
// written.
func (a *Auditor) Close(ctx context.Context) error {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		a.q.close()
		if a.syncCh != nil {
			close(a.syncCh)
		}
	}
	a.mu.Unlock()
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sink receives committed events in sequence order (see package siem). Send
// must not block for long.
type Sink interface {
	Send(events []chain.Event)
}

// AddSink streams every event committed from now on to s. Call it before
// Run.
func (a *Auditor) AddSink(s Sink) { a.sinks = append(a.sinks, s) }

// append writes events to the store and hands them to the sinks.
func (a *Auditor) append(ctx context.Context, evs []*chain.Event) error {
	a.appendMu.Lock()
	defer a.appendMu.Unlock()
	if err := a.store.AppendAudit(ctx, evs); err != nil {
		return err
	}
	if len(a.sinks) > 0 {
		out := make([]chain.Event, len(evs))
		for i, e := range evs {
			out[i] = *e
		}
		for _, s := range a.sinks {
			s.Send(out)
		}
	}
	return nil
}
