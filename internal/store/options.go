package store

import "github.com/rack-gateway/rack-gateway/internal/clock"

// Options are the settings every backend's Open accepts, as Option
// arguments after its required ones.
type Options struct {
	// Clock is the store's notion of now: CreatedAt and UpdatedAt, a zero
	// audit event Time, "revoke now", the expiry of old login requests.
	// Nil means the system clock.
	Clock clock.Clock
}

// Option sets one of the Options.
type Option func(*Options)

// WithClock makes the store read the time from c (tests pass a
// clock.Fake).
func WithClock(c clock.Clock) Option { return func(o *Options) { o.Clock = c } }

// ApplyOptions returns the Options that opts set, with defaults filled in.
func ApplyOptions(opts ...Option) Options {
	var o Options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	o.Clock = clock.Or(o.Clock)
	return o
}
