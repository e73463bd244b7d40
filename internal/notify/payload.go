package notify

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// payload is what a job holds: the event and where it goes. It holds no
// secret: the channel's settings (URLs, tokens, passwords) are read from
// the configuration when the job is delivered.
type payload struct {
	Channel string `json:"channel"`
	// Delivery identifies this event's delivery to this channel, the same
	// for every attempt, so that receivers can drop duplicates (webhook
	// header Rack-Gateway-Delivery, email Message-ID).
	Delivery string `json:"delivery"`
	Event    Event  `json:"event"`
}

var deliveryID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// newDeliveryID returns 16 random bytes in hex.
func newDeliveryID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// decodePayload reads a job's payload.
func decodePayload(b []byte) (*payload, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("unreadable job payload: %w", err)
	}
	if p.Channel == "" || !deliveryID.MatchString(p.Delivery) || p.Event.Time.IsZero() {
		return nil, errors.New("job payload lacks its channel, delivery id or event")
	}
	// What Publish stored is normalized already; a row changed since is
	// held to the same rules before anything is sent.
	if err := p.Event.normalize(p.Event.Time); err != nil {
		return nil, fmt.Errorf("job payload: %w", err)
	}
	return &p, nil
}
