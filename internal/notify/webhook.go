package notify

import (
	"context"
	"encoding/json"
	"net/http"
)

// Headers of a webhook delivery.
const (
	// HeaderSignature is "t=<unix seconds>,v1=<hex HMAC-SHA256>" (see
	// Sign and VerifyWebhook).
	HeaderSignature = "Rack-Gateway-Signature"
	// HeaderEvent is the event's kind, e.g. approval.requested.
	HeaderEvent = "Rack-Gateway-Event"
	// HeaderDelivery identifies the delivery, the same in every attempt:
	// receivers drop a delivery id they have seen.
	HeaderDelivery = "Rack-Gateway-Delivery"
)

// webhook POSTs the event as JSON to any endpoint, signed with the
// channel's secret. Its URL may hold a token: it is never logged or
// audited, nor is the secret.
type webhook struct {
	url    string
	secret []byte
	hc     *http.Client
}

// send implements sender: any 2xx answer is a success; 429 and 503 may
// say when to try again (Retry-After). Each attempt is signed anew at the
// worker's now, so that a retry is not refused as stale.
func (w *webhook) send(ctx context.Context, d *delivery) outcome {
	body, err := json.Marshal(d.Event)
	if err != nil {
		return outcome{Err: err}
	}
	h := http.Header{
		HeaderSignature: {Sign(w.secret, d.Now, body)},
		HeaderEvent:     {d.Event.Kind},
		HeaderDelivery:  {d.ID},
	}
	o, _ := postJSON(ctx, w.hc, w.url, h, body, d.Now)
	return o
}
