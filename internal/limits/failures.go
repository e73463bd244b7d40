// Package limits protects the gateway from floods: a per-address budget
// of failing requests (FailureLimiter), and caps on open connections per
// address and overall (Listener).
package limits

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/rack-gateway/rack-gateway/internal/clock"
)

// FailureLimiter gives each client address a budget of failing requests
// (bad credentials, unknown routes, bad paths): a token bucket refilled at
// PerMinute and holding Burst. Callers that succeed spend nothing. Once an
// address has spent its budget, its requests are refused with 429 until
// the bucket refills; those refusals are counted, not audited one by one
// (Refused, TakeRefused), so a flood cannot grow the audit log without
// bound.
type FailureLimiter struct {
	perMinute int
	burst     int
	clock     clock.Clock

	// tracked is how many addresses have buckets: while none has, Blocked
	// answers without taking the lock (the common case: no failures).
	tracked atomic.Int64

	mu      sync.Mutex
	buckets map[string]*bucket
	refused map[string]int // refusals since the last TakeRefused
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxAddresses bounds the addresses tracked; idle ones are dropped first.
const maxAddresses = 100_000

// NewFailureLimiter returns a limiter; perMinute <= 0 disables it. c may
// be nil (the system clock).
func NewFailureLimiter(perMinute, burst int, c clock.Clock) *FailureLimiter {
	if burst < 1 {
		burst = 1
	}
	return &FailureLimiter{perMinute: perMinute, burst: burst, clock: clock.Or(c),
		buckets: map[string]*bucket{}, refused: map[string]int{}}
}

// Blocked reports whether addr has no failures left, and when it will
// have one again. It spends nothing.
func (l *FailureLimiter) Blocked(addr string) (retryAfter time.Duration, blocked bool) {
	if l == nil || l.perMinute <= 0 || l.tracked.Load() == 0 {
		return 0, false
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		return 0, false
	}
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return 0, false
	}
	perToken := time.Minute / time.Duration(l.perMinute)
	return time.Duration((1 - tokens) * float64(perToken)), true
}

// Failed spends one of addr's failures.
func (l *FailureLimiter) Failed(addr string) {
	if l == nil || l.perMinute <= 0 {
		return
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) >= maxAddresses {
			l.dropIdle(now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Every(time.Minute/time.Duration(l.perMinute)), l.burst)}
		l.buckets[addr] = b
		l.tracked.Store(int64(len(l.buckets)))
	}
	b.seen = now
	b.lim.AllowN(now, 1)
}

// dropIdle forgets the addresses whose buckets are full again (they owe
// nothing), and if that is not enough, arbitrary ones.
func (l *FailureLimiter) dropIdle(now time.Time) {
	for k, b := range l.buckets {
		if b.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < maxAddresses*9/10 {
			break
		}
		delete(l.buckets, k)
	}
	l.tracked.Store(int64(len(l.buckets)))
}

// Refused counts a request refused because addr was blocked.
func (l *FailureLimiter) Refused(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.refused) >= maxAddresses {
		l.refused["(other addresses)"]++
		return
	}
	l.refused[addr]++
}

// TakeRefused returns the refusals counted per address since the last
// call, and starts counting afresh. It also forgets the addresses that owe
// nothing any more (full buckets), so that a quiet gateway goes back to
// not locking at all (Blocked's fast path). The proxy calls it every
// minute.
func (l *FailureLimiter) TakeRefused() map[string]int {
	if l == nil {
		return nil
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.refused
	l.refused = map[string]int{}
	for k, b := range l.buckets {
		if b.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	l.tracked.Store(int64(len(l.buckets)))
	return out
}
