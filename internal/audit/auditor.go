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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Store is what the auditor needs of the database: appends, and whether
// it answers (to tell an outage from refused events).
type Store interface {
	store.AuditAppender
	store.Pinger
}

// Auditor writes audit events to the store.
type Auditor struct {
	store Store
	log   *slog.Logger
	q     *queue // routine events for the batch writer
	done  chan struct{}

	mu     sync.RWMutex // guards closed and syncCh against sends on a closed channel
	closed bool

	// syncCh feeds write-ahead events to the writer (Run); nil until Run
	// starts.
	syncCh chan syncReq

	// appendMu orders appends with their delivery to sinks, so sinks see
	// events in sequence order: the writer appends, and so do RecordSync
	// before Run and late events after Close.
	appendMu sync.Mutex
	sinks    []Sink

	// SyncTimeout bounds a write-ahead audit write.
	SyncTimeout time.Duration

	unrecorded atomic.Int64 // refusals not recorded one by one (Unrecorded)

	written       prometheus.Counter
	failures      prometheus.Counter
	setAsideCount prometheus.Counter
	queue         prometheus.GaugeFunc
}

const (
	// DefaultQueueSize is how many routine events wait for the batch
	// writer at most (while the database is down, the calls they record
	// are served until it is full).
	DefaultQueueSize = 16384
	queueSize        = DefaultQueueSize
	batchMax         = 512
	batchWait        = 50 * time.Millisecond

	// A failed batch write is retried after retryFirst, doubling up to
	// retryMax.
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
	// isolateAfter failed attempts with the database answering, the batch
	// is split to find the events the store refuses (setAside).
	isolateAfter = 3
)

// Option configures an Auditor.
type Option func(*options)

type options struct{ queueSize int }

// WithQueueSize sets how many routine events may wait for the batch writer
// (default DefaultQueueSize).
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

// New returns an auditor; call Run in a goroutine and Close at shutdown.
// reg may be nil.
func New(s Store, log *slog.Logger, reg prometheus.Registerer, opts ...Option) *Auditor {
	if log == nil {
		log = slog.Default()
	}
	o := options{queueSize: DefaultQueueSize}
	for _, f := range opts {
		f(&o)
	}
	if o.queueSize < 1 {
		o.queueSize = DefaultQueueSize
	}
	a := &Auditor{
		store: s, log: log, q: newQueue(o.queueSize), done: make(chan struct{}),
		SyncTimeout: 3 * time.Second,
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rgw_audit_events_written_total", Help: "Audit events durably written."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rgw_audit_write_failures_total", Help: "Failed audit writes (retried for batched events)."}),
		setAsideCount: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rgw_audit_set_aside_total", Help: "Audit events the database refused, recorded as audit.set_aside."}),
	}
	a.queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rgw_audit_queue_length", Help: "Audit events waiting to be written."},
		func() float64 { n, _ := a.q.state(); return float64(n) })
	if reg != nil {
		reg.MustRegister(a.written, a.failures, a.setAsideCount, a.queue)
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

// Slot is room in the queue for one event, taken before a call is served
// (Reserve), so that the call's record never waits: when the queue is
// full, the call is refused at once instead. Use it once: Record, or
// Release if there is nothing to record.
type Slot struct {
	a    *Auditor
	held bool
}

// Reserve takes room for one event without waiting; false when the queue
// is full (the database has been down for a while) or closed.
func (a *Auditor) Reserve() (Slot, bool) {
	if !a.q.reserve() {
		return Slot{}, false
	}
	return Slot{a: a, held: true}, true
}

// Held reports whether the slot still holds room.
func (s *Slot) Held() bool { return s.held }

// Record queues ev in the slot's room (never waiting); without room it
// records ev as Auditor.Record does.
func (s *Slot) Record(ev *chain.Event) {
	if !s.held {
		if s.a != nil {
			s.a.Record(ev)
		}
		return
	}
	s.held = false
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	sanitize(ev)
	if !s.a.q.putReserved(ev) {
		_ = s.a.RecordSync(context.Background(), ev) // closed: late events are written directly
	}
}

// Release gives the room back unused.
func (s *Slot) Release() {
	if s.held {
		s.held = false
		s.a.q.unreserve()
	}
}

// Unrecorded counts an event that could not be queued because the queue
// was full; the count is recorded as one audit.unrecorded event as soon
// as the writer has written again, so that the log says how many refusals
// it could not hold one by one.
func (a *Auditor) Unrecorded() {
	a.unrecorded.Add(1)
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

// writeBatch retries with backoff until the store takes the batch; events
// are never dropped, and the queue backs up (and is visible in metrics) while
// the database is down (write-ahead events are still answered meanwhile:
// pause). When the database answers but keeps refusing the batch, retrying
// cannot help: the batch is split until the events the store refuses are
// found, and those are set aside (setAside) so that one bad event cannot
// stop the log. The backoff waits on the runtime's timers, so a test in a
// testing/synctest bubble sees the retries at their exact fake times
// without waiting for real.
func (a *Auditor) writeBatch(batch []*chain.Event) {
	backoff := retryFirst
	for attempt := 0; ; attempt++ {
		err := a.appendBounded(batch)
		if err == nil {
			a.written.Add(float64(len(batch)))
			a.recordUnrecorded() // before done: a Flush that sees the batch sees the count too
			a.q.done(len(batch))
			return
		}
		a.failures.Inc()
		if attempt+1 >= isolateAfter && a.storeAnswers() {
			a.log.Error("audit batch refused by a database that answers; looking for the events it refuses",
				"err", err, "events", len(batch))
			a.isolate(batch)
			a.q.done(len(batch))
			return
		}
		a.log.Error("audit batch write failed; retrying", "err", err, "events", len(batch), "attempt", attempt,
			"retry_in", backoff.String())
		a.pause(backoff)
		backoff = min(backoff*2, retryMax)
	}
}

// recordUnrecorded writes the count of refusals that could not be
// queued, once the database takes writes again.
func (a *Auditor) recordUnrecorded() {
	n := a.unrecorded.Swap(0)
	if n == 0 {
		return
	}
	ev := &chain.Event{Time: time.Now(), ActorType: "system", Actor: "rack-gateway", Action: "audit.unrecorded",
		Decision: "deny", Reason: "audit_unavailable",
		Details: Details(map[string]any{"refused_calls": n, "why": "the audit queue was full, so each refusal could not be recorded"})}
	if err := a.appendBounded([]*chain.Event{ev}); err != nil {
		a.unrecorded.Add(n) // next time
		return
	}
	a.written.Inc()
}

func (a *Auditor) appendBounded(evs []*chain.Event) error {
	return a.appendWithin(10*time.Second, evs)
}

// storeAnswers reports whether the database is up (so a refused write is
// about the events, not an outage).
func (a *Auditor) storeAnswers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return a.store.Ping(ctx) == nil
}

// isolate writes batch in halves, in order, down to single events; an
// event the store still refuses while the database answers is set aside.
// If the database stops answering meanwhile, the part is retried as a
// whole like any batch.
func (a *Auditor) isolate(batch []*chain.Event) {
	err := a.appendBounded(batch)
	if err == nil {
		a.written.Add(float64(len(batch)))
		return
	}
	a.failures.Inc()
	if !a.storeAnswers() {
		a.retryUntilWritten(batch)
		return
	}
	if len(batch) == 1 {
		a.setAside(batch[0], err)
		return
	}
	mid := len(batch) / 2
	a.isolate(batch[:mid])
	a.isolate(batch[mid:])
}

// retryUntilWritten retries with backoff until the store takes evs.
func (a *Auditor) retryUntilWritten(evs []*chain.Event) {
	backoff := retryFirst
	for a.appendBounded(evs) != nil {
		a.failures.Inc()
		a.pause(backoff)
		backoff = min(backoff*2, retryMax)
	}
	a.written.Add(float64(len(evs)))
}

// setAside records, in place of an event the store refuses, an event that
// says so: who, what and when, with the store's error class, so the chain
// shows that a record was refused instead of hiding it. The refused
// event's fields go to the log.
func (a *Auditor) setAside(ev *chain.Event, err error) {
	a.setAsideCount.Inc()
	a.log.Error("audit event refused by the database and set aside; recorded as audit.set_aside",
		"err", err, "request_id", ev.RequestID, "action", ev.Action, "actor", ev.Actor, "path", ev.Path,
		"time", ev.Time)
	rec := &chain.Event{Time: ev.Time, RequestID: ev.RequestID, Rack: ev.Rack, ActorType: ev.ActorType,
		Actor: ev.Actor, ActorID: ev.ActorID, TokenID: ev.TokenID, Method: ev.Method, Action: "audit.set_aside",
		Decision: ev.Decision, Reason: ev.Reason, Status: ev.Status,
		Details: Details(map[string]any{"refused_action": ev.Action, "error": "the database refused the event"})}
	sanitize(rec)
	if err := a.appendBounded([]*chain.Event{rec}); err == nil {
		a.written.Inc()
		return
	}
	if a.storeAnswers() {
		// Even the summary is refused: record that an event was set
		// aside, with nothing of it but the time.
		rec = &chain.Event{Time: ev.Time, ActorType: "system", Actor: "rack-gateway", Action: "audit.set_aside",
			Decision: "deny", Details: Details(map[string]any{"error": "the database refused the event and its summary"})}
	}
	a.retryUntilWritten([]*chain.Event{rec})
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
