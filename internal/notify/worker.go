package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// WorkerOptions are what a Worker needs besides its configuration.
type WorkerOptions struct {
	// Jobs is the durable queue (the store); required.
	Jobs store.Jobs
	// Recorder audits every delivery attempt; required.
	Recorder Recorder
	// Clock is the worker's now: when jobs are due, signature timestamps,
	// email dates. nil is the system clock.
	Clock clock.Clock
	// Log reports failures (never a URL, token or password); nil is
	// slog.Default().
	Log *slog.Logger
	// ID names this worker in the jobs it leases; default host/pid/random.
	ID string
	// Timeout bounds one delivery attempt (default 30s); Lease is how long
	// a claimed job stays this worker's (default Timeout + 1m), after
	// which another worker may take it over.
	Timeout time.Duration
	Lease   time.Duration
	// Batch is how many jobs RunOnce handles at most (default 10).
	Batch int
	// Jitter spreads a backoff d; default a uniformly random duration in
	// [d/2, d]. Tests pass one that returns d.
	Jitter func(d time.Duration) time.Duration
	// After is time.After (the default); tests pass a channel they fire.
	After func(d time.Duration) <-chan time.Time
	// HTTPClient sends Slack and webhook deliveries; default
	// NewHTTPClient(Timeout).
	HTTPClient *http.Client
	// Hostname is the name given in SMTP EHLO; default os.Hostname().
	Hostname string
}

// Worker delivers notification jobs: it claims due jobs with a lease,
// sends each through its channel, and completes the job, retries it later
// (exponential backoff with jitter, or the receiver's Retry-After) or,
// after the last attempt, gives it up. Every attempt is audited. Workers
// of several replicas share one queue; each job is with one at a time.
type Worker struct {
	cfg      config.Notify
	o        WorkerOptions
	clock    clock.Clock
	log      *slog.Logger
	channels map[string]*channel
	wake     chan struct{}

	mu        sync.Mutex
	lastPrune time.Time
}

// NewWorker returns a worker for the channels of cfg (defaults filled in
// and validated again here: a bad channel fails the start, not a
// delivery).
func NewWorker(cfg config.Notify, o WorkerOptions) (*Worker, error) {
	if o.Jobs == nil || o.Recorder == nil {
		return nil, errors.New("notify: a worker needs the job store and an audit recorder")
	}
	cfg.Channels = slices.Clone(cfg.Channels)
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Lease <= o.Timeout {
		o.Lease = o.Timeout + time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 10
	}
	if o.Jitter == nil {
		o.Jitter = defaultJitter
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.HTTPClient == nil {
		o.HTTPClient = NewHTTPClient(o.Timeout)
	}
	host, _ := os.Hostname()
	if o.Hostname == "" {
		o.Hostname = host
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.ID == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		o.ID = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	w := &Worker{cfg: cfg, o: o, clock: clock.Or(o.Clock), log: o.Log, channels: map[string]*channel{},
		wake: make(chan struct{}, 1)}
	if w.log == nil {
		w.log = slog.Default()
	}
	for i := range cfg.Channels {
		ch, err := newChannel(&cfg.Channels[i], o.HTTPClient, o.Hostname)
		if err != nil {
			return nil, err
		}
		w.channels[ch.name] = ch
	}
	return w, nil
}

// ID is the name this worker leases jobs under.
func (w *Worker) ID() string { return w.o.ID }

// Wake makes Run look for due jobs now rather than at its next poll
// (Publisher calls it through PublisherOptions.Wake). It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers due jobs until ctx ends: it handles what is due, then
// waits for the poll interval or a Wake, and once an hour deletes the
// jobs finished longer ago than the configuration keeps them. A delivery
// interrupted by the end of ctx is put back, due at once.
func (w *Worker) Run(ctx context.Context) {
	for {
		n, err := w.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.log.Warn("notify: worker", "err", err)
		}
		w.maybePrune(ctx)
		if n == w.o.Batch && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-w.o.After(w.cfg.PollInterval.D()):
		}
	}
}

// RunOnce claims and handles due jobs, one at a time (so that each is
// handled well within its lease), until none is due or it handled Batch.
// It returns how many it handled; its error is the store's (a delivery
// that failed is not an error of RunOnce: it is retried or given up).
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	for n < w.o.Batch && ctx.Err() == nil {
		jobs, err := w.o.Jobs.ClaimJobs(ctx, w.o.ID, 1, w.o.Lease)
		if err != nil {
			errs = append(errs, fmt.Errorf("notify: claim jobs: %w", err))
			break
		}
		if len(jobs) == 0 {
			break
		}
		n++
		if err := w.handle(ctx, &jobs[0]); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// handle makes one delivery attempt of j and records its outcome.
func (w *Worker) handle(ctx context.Context, j *store.Job) error {
	start := w.clock.Now()
	p, err := decodePayload(j.Payload)
	if err != nil {
		// Nothing to send: give it up at once.
		p = &payload{Channel: j.Channel, Event: Event{Kind: j.Event}}
		return w.finish(ctx, j, p, &channel{name: j.Channel}, outcome{Err: err}, start, true)
	}
	ch := w.channels[p.Channel]
	if ch == nil {
		err := fmt.Errorf("channel %s is not configured (any more)", p.Channel)
		return w.finish(ctx, j, p, &channel{name: p.Channel}, outcome{Err: err}, start, true)
	}
	sctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	o := ch.sender.send(sctx, &delivery{ID: p.Delivery, Event: p.Event, Now: start})
	cancel()
	return w.finish(ctx, j, p, ch, o, start, false)
}

// finish audits the attempt and completes, retries or kills the job; a
// hopeless job is killed at once.
func (w *Worker) finish(ctx context.Context, j *store.Job, p *payload, ch *channel, o outcome, start time.Time,
	hopeless bool) error {
	now := w.clock.Now()
	a := &attempt{at: now, took: now.Sub(start), p: p, ch: ch, job: j.ID, n: j.Attempts, o: o, errText: ch.redact.clean(o.Err)}
	// The outcome is recorded even when ctx ended during the attempt.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	log := w.log.With("channel", p.Channel, "event", p.Event.Kind, "job", j.ID, "attempt", j.Attempts)
	if o.Err == nil {
		w.o.Recorder.Record(a.event(ReasonDelivered, time.Time{}))
		log.Info("notify: delivered")
		if err := w.o.Jobs.CompleteJob(sctx, j.ID, w.o.ID); err != nil {
			return fmt.Errorf("notify: complete job %d: %w", j.ID, err)
		}
		return nil
	}
	interrupted := ctx.Err() != nil
	if hopeless || (j.Attempts >= w.cfg.MaxAttempts && !interrupted) {
		w.o.Recorder.Record(a.event(ReasonGaveUp, time.Time{}))
		log.Error("notify: delivery given up", "err", a.errText)
		if err := w.o.Jobs.KillJob(sctx, j.ID, w.o.ID, a.errText); err != nil {
			return fmt.Errorf("notify: give up job %d: %w", j.ID, err)
		}
		return nil
	}
	next := now.Add(w.backoff(j.Attempts))
	switch {
	case interrupted:
		next = now
	case o.RetryAfter > 0:
		next = now.Add(o.RetryAfter)
	}
	w.o.Recorder.Record(a.event(ReasonRetry, next))
	log.Warn("notify: delivery failed", "err", a.errText, "next_attempt", next)
	if err := w.o.Jobs.RetryJob(sctx, j.ID, w.o.ID, next, a.errText); err != nil {
		return fmt.Errorf("notify: retry job %d: %w", j.ID, err)
	}
	return nil
}

// Prune deletes the jobs finished longer ago than the configuration keeps
// them and returns how many.
func (w *Worker) Prune(ctx context.Context) (int64, error) {
	return w.o.Jobs.DeleteFinishedJobs(ctx, w.clock.Now().Add(-w.cfg.KeepFinished.D()))
}

// maybePrune prunes if the last prune is an hour old.
func (w *Worker) maybePrune(ctx context.Context) {
	now := w.clock.Now()
	w.mu.Lock()
	due := w.lastPrune.IsZero() || now.Sub(w.lastPrune) >= time.Hour
	if due {
		w.lastPrune = now
	}
	w.mu.Unlock()
	if !due {
		return
	}
	if n, err := w.Prune(ctx); err != nil && ctx.Err() == nil {
		w.log.Warn("notify: prune finished jobs", "err", err)
	} else if n > 0 {
		w.log.Info("notify: pruned finished jobs", "count", n)
	}
}
