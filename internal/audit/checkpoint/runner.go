package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Anchors is the write-once store that checkpoints are anchored in
// (implemented by package anchor: S3 with Object Lock, or a directory).
type Anchors interface {
	// Put writes data under key once; it fails if the key exists.
	Put(ctx context.Context, key string, data []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	List(ctx context.Context, prefix string) ([]string, error)
	Describe() string
}

// Store is what the runner needs of the database: the chain's head and
// the checkpoints.
type Store interface {
	store.AuditReader
	store.Checkpoints
}

// Runner makes a checkpoint every Every events or every Interval (whichever
// comes first, and only if there are new events), and anchors checkpoints
// in order, retrying with backoff while the anchor store is unreachable.
// Several gateway replicas may each run one against the same database:
// checkpoints are serialized by the store and anchors are write-once.
type Runner struct {
	Store    Store
	Signer   *Signer
	Anchors  Anchors
	Every    int64         // default 1000
	Interval time.Duration // default 60s
	Poll     time.Duration // how often the head is read; default 1s
	Log      *slog.Logger
	// Clock tells the time for the interval, the anchoring backoff and the
	// lag metrics; nil is the system clock. (Run's ticker and the
	// statements' times, Signer.Now, do not use it.)
	Clock clock.Clock

	mu       sync.Mutex
	lastMade time.Time
	retryAt  time.Time
	backoff  time.Duration
	lastErr  error
	// anchoredThrough is the newest checkpoint known to be anchored; the
	// runner lists checkpoints from there.
	anchoredThrough int64
	checkpoints     prometheus.Counter
	anchored        prometheus.Counter
	errs            prometheus.Counter
	pending         prometheus.Gauge
	lagSeconds      prometheus.Gauge
	lagEvents       prometheus.Gauge
	initOnce        sync.Once
}

func (r *Runner) init() {
	r.initOnce.Do(func() {
		if r.Every <= 0 {
			r.Every = 1000
		}
		if r.Interval <= 0 {
			r.Interval = 60 * time.Second
		}
		if r.Poll <= 0 {
			r.Poll = time.Second
		}
		if r.Log == nil {
			r.Log = slog.Default()
		}
		r.Clock = clock.Or(r.Clock)
		r.checkpoints = prometheus.NewCounter(prometheus.CounterOpts{Name: "rgw_audit_checkpoints_total", Help: "Signed audit checkpoints made by this process."})
		r.anchored = prometheus.NewCounter(prometheus.CounterOpts{Name: "rgw_audit_anchors_total", Help: "Checkpoints this process wrote (or found) in the anchor store."})
		r.errs = prometheus.NewCounter(prometheus.CounterOpts{Name: "rgw_audit_anchor_errors_total", Help: "Failed attempts to write an anchor."})
		r.pending = prometheus.NewGauge(prometheus.GaugeOpts{Name: "rgw_audit_unanchored_checkpoints", Help: "Checkpoints not yet in the anchor store."})
		r.lagSeconds = prometheus.NewGauge(prometheus.GaugeOpts{Name: "rgw_audit_anchor_lag_seconds", Help: "Age of the oldest checkpoint not yet anchored (0 if none)."})
		r.lagEvents = prometheus.NewGauge(prometheus.GaugeOpts{Name: "rgw_audit_anchor_lag_events", Help: "Events after the newest anchored checkpoint."})
	})
}

// Collectors returns the runner's metrics for registration.
func (r *Runner) Collectors() []prometheus.Collector {
	r.init()
	return []prometheus.Collector{r.checkpoints, r.anchored, r.errs, r.pending, r.lagSeconds, r.lagEvents}
}

// Run ticks until ctx ends, then makes and anchors a final checkpoint with
// a short grace period.
func (r *Runner) Run(ctx context.Context) {
	r.init()
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			r.mu.Lock()
			r.retryAt = time.Time{}
			r.mu.Unlock()
			_ = r.Tick(fctx, true)
			cancel()
			return
		case <-t.C:
			if err := r.Tick(ctx, false); err != nil && ctx.Err() == nil {
				r.Log.Warn("audit checkpoint", "err", err)
			}
		}
	}
}

// Tick makes a checkpoint if one is due (or force is set and there are new
// events) and anchors every pending checkpoint in order.
func (r *Runner) Tick(ctx context.Context, force bool) error {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.maybeCheckpoint(ctx, force); err != nil {
		return err
	}
	return r.anchorPending(ctx)
}

func (r *Runner) maybeCheckpoint(ctx context.Context, force bool) error {
	now := r.Clock.Now()
	if r.lastMade.IsZero() {
		r.lastMade = now // the interval counts from start
	}
	head, _, err := r.Store.AuditHead(ctx)
	if err != nil {
		return err
	}
	cs, err := r.Store.ListCheckpoints(ctx, r.anchoredThrough)
	if err != nil {
		return err
	}
	last := r.anchoredThrough
	if len(cs) > 0 {
		last = cs[len(cs)-1].Seq
	}
	if head <= last {
		return nil
	}
	if !force && head-last < r.Every && now.Sub(r.lastMade) < r.Interval {
		return nil
	}
	c, err := r.Store.AddCheckpoint(ctx, r.Signer.Make)
	if err != nil {
		if errors.Is(err, store.ErrConflict) { // another replica made it first
			return nil
		}
		return fmt.Errorf("make checkpoint: %w", err)
	}
	r.lastMade = r.Clock.Now()
	if c != nil {
		r.checkpoints.Inc()
	}
	return nil
}

// anchorPending writes unanchored checkpoints to the anchor store, oldest
// first, stopping at the first failure so anchors land in order.
func (r *Runner) anchorPending(ctx context.Context) error {
	cs, err := r.Store.ListCheckpoints(ctx, r.anchoredThrough)
	if err != nil {
		return err
	}
	head, _, err := r.Store.AuditHead(ctx)
	if err != nil {
		return err
	}
	now := r.Clock.Now()
	defer func() {
		var pending, oldest int
		for _, c := range cs {
			if c.AnchoredAt.IsZero() {
				if pending == 0 {
					oldest = int(r.Clock.Now().Sub(c.CreatedAt).Seconds())
				}
				pending++
			}
		}
		r.pending.Set(float64(pending))
		r.lagSeconds.Set(float64(oldest))
		r.lagEvents.Set(float64(head - r.anchoredThrough))
	}()
	if !r.retryAt.IsZero() && now.Before(r.retryAt) {
		return nil
	}
	for i := range cs {
		c := &cs[i]
		if c.AnchoredAt.IsZero() {
			if err := r.anchor(ctx, c); err != nil {
				r.errs.Inc()
				r.backoff = min(max(2*r.backoff, time.Second), time.Minute)
				r.retryAt = r.Clock.Now().Add(r.backoff)
				r.lastErr = err
				r.Log.Warn("audit anchor store unreachable; checkpoints are kept and will be anchored in order",
					"anchors", r.Anchors.Describe(), "checkpoint_seq", c.Seq, "unanchored_events", head-r.anchoredThrough,
					"retry_in", r.backoff.String(), "err", err)
				return fmt.Errorf("anchor checkpoint %d: %w", c.Seq, err)
			}
			c.AnchoredAt = r.Clock.Now()
			r.anchored.Inc()
			if r.lastErr != nil {
				r.Log.Info("audit anchor store reachable again", "anchors", r.Anchors.Describe(), "checkpoint_seq", c.Seq)
				r.lastErr = nil
			}
		}
		r.anchoredThrough = c.Seq
		r.backoff, r.retryAt = 0, time.Time{}
	}
	return nil
}

// anchor writes one checkpoint. An anchor that already exists (written by
// another replica, or by this one before a crash) counts only if it holds
// the same checkpoint.
func (r *Runner) anchor(ctx context.Context, c *store.Checkpoint) error {
	key := AnchorKey(c.Seq)
	data := EncodeAnchor(c, r.Signer.KeyID())
	if err := r.Anchors.Put(ctx, key, data); err != nil {
		// Already there (another replica, or this one before a crash)? It
		// counts only if it holds the same checkpoint.
		got, gerr := r.Anchors.Get(ctx, key)
		if gerr != nil {
			return err
		}
		a, derr := DecodeAnchor(got)
		if derr != nil || a.Statement != c.Statement || !bytes.Equal(a.Signature, c.Signature) {
			return fmt.Errorf("anchor %s exists with different content: the anchor store or the database was tampered with", key)
		}
	}
	return r.Store.MarkAnchored(ctx, c.Seq, time.Time{})
}

// Status reports the newest anchored checkpoint and the last anchoring
// error, if the anchor store is currently failing.
func (r *Runner) Status() (anchoredThrough int64, lastErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.anchoredThrough, r.lastErr
}
