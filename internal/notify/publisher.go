package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Publisher turns events into durable delivery jobs: one per channel whose
// event patterns match. It is safe for concurrent use.
type Publisher struct {
	jobs     store.Jobs
	channels []config.NotifyChannel
	clock    clock.Clock
	log      *slog.Logger
	wake     func()
}

// PublisherOptions are a Publisher's optional parts.
type PublisherOptions struct {
	// Clock stamps events without a time; nil is the system clock.
	Clock clock.Clock
	// Log reports failures of Notify (which returns none); nil is
	// slog.Default().
	Log *slog.Logger
	// Wake is called after jobs were enqueued, e.g. Worker.Wake, so that
	// this replica delivers them at once rather than at its next poll.
	Wake func()
}

// NewPublisher returns a publisher to the channels of cfg.
func NewPublisher(cfg config.Notify, jobs store.Jobs, o PublisherOptions) *Publisher {
	p := &Publisher{jobs: jobs, channels: cfg.Channels, clock: clock.Or(o.Clock), log: o.Log, wake: o.Wake}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p
}

// Publish enqueues one delivery job of ev per matching channel. When it
// returns nil, each delivery is durable: a worker on any replica sends it,
// retrying until it succeeds or gives up, restarts notwithstanding. ev
// must have a known Kind and a Title; it is normalized first (see Event).
func (p *Publisher) Publish(ctx context.Context, ev Event) error {
	if err := ev.normalize(p.clock.Now()); err != nil {
		return err
	}
	var errs []error
	enqueued := false
	for i := range p.channels {
		c := &p.channels[i]
		if !c.Matches(ev.Kind) {
			continue
		}
		b, err := json.Marshal(payload{Channel: c.Name, Delivery: newDeliveryID(), Event: ev})
		if err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		if err := p.jobs.EnqueueJob(ctx, &store.Job{Channel: c.Name, Event: ev.Kind, Payload: b}); err != nil {
			errs = append(errs, fmt.Errorf("notify: enqueue %s for channel %s: %w", ev.Kind, c.Name, err))
			continue
		}
		enqueued = true
	}
	if enqueued && p.wake != nil {
		p.wake()
	}
	return errors.Join(errs...)
}
