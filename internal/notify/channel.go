package notify

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/config"
)

// delivery is one attempt to send an event to a channel.
type delivery struct {
	ID    string // the same for every attempt (payload.Delivery)
	Event Event
	Now   time.Time // the worker's clock: webhook signatures, email Date
}

// outcome is what a channel's receiver answered: Err is nil when it took
// the message.
type outcome struct {
	Err        error
	HTTPStatus int // the receiver's HTTP status, if it answered over HTTP
	SMTPCode   int // the mail server's last reply code, if it answered
	// RetryAfter is how long the receiver asked to be left alone (HTTP
	// 429 or 503 Retry-After); the next attempt waits this long.
	RetryAfter time.Duration
}

// sender delivers to one channel.
type sender interface {
	send(ctx context.Context, d *delivery) outcome
}

// channel is a configured destination, ready to send.
type channel struct {
	name, typ string
	sender    sender
	redact    redactor
}

// newChannel builds the sender of c (validated). hc sends HTTP requests.
func newChannel(c *config.NotifyChannel, hc *http.Client, helo string) (*channel, error) {
	ch := &channel{name: c.Name, typ: c.Type}
	switch c.Type {
	case config.NotifySlackWebhook:
		ch.sender = &slackWebhook{url: c.URL, hc: hc}
		ch.redact = newRedactor(c.URL)
	case config.NotifySlackBot:
		ch.sender = &slackBot{api: c.APIURL, token: c.Token, channel: c.Channel, hc: hc}
		ch.redact = newRedactor(c.Token)
	case config.NotifyWebhook:
		ch.sender = &webhook{url: c.URL, secret: []byte(c.Secret), hc: hc}
		ch.redact = newRedactor(c.URL, c.Secret)
	case config.NotifyEmail:
		e, err := newEmail(c, helo)
		if err != nil {
			return nil, err
		}
		ch.sender = e
		ch.redact = newRedactor(c.SMTPPassword)
	default:
		return nil, fmt.Errorf("notify: channel %s: unknown type %q", c.Name, c.Type)
	}
	return ch, nil
}
