package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// slackWebhook posts to a Slack incoming webhook. Its URL is a secret
// (whoever holds it can post to the channel): it is never logged or
// audited, and errors are redacted of it.
type slackWebhook struct {
	url string
	hc  *http.Client
}

// send implements sender: Slack answers 200 "ok", or 4xx with a short
// error code (invalid_payload, no_service, channel_not_found, ...), or
// 429 with Retry-After.
func (s *slackWebhook) send(ctx context.Context, d *delivery) outcome {
	body, err := json.Marshal(slackMessageOf(&d.Event))
	if err != nil {
		return outcome{Err: err}
	}
	o, answer := postJSON(ctx, s.hc, s.url, nil, body, d.Now)
	if o.Err != nil {
		return withCode(o, shortCode(answer))
	}
	if strings.TrimSpace(string(answer)) != "ok" {
		o.Err = fmt.Errorf("slack webhook: %w", errNoAnswer)
	}
	return o
}
