package notify

import (
	"math/rand/v2"
	"time"
)

// backoff is the wait after a failed attempt (1 for the first): the base
// backoff doubled for each attempt before it, at most the maximum, then
// spread by the jitter.
func (w *Worker) backoff(attempt int) time.Duration {
	d, ceiling := w.cfg.BaseBackoff.D(), w.cfg.MaxBackoff.D()
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	return w.o.Jitter(min(d, ceiling))
}

// defaultJitter returns a uniformly random duration in [d/2, d], so that
// deliveries failed together (a receiver that was down) do not all come
// back at once.
func defaultJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d-d/2+1)
}
