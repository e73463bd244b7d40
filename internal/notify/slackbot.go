package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// slackBot posts with a Slack app's bot token (chat.postMessage). The
// token is never logged or audited.
type slackBot struct {
	api, token, channel string
	hc                  *http.Client
}

// send implements sender. The Web API reports errors with HTTP 200 and
// {"ok": false, "error": "channel_not_found"}: that is a failure too.
func (s *slackBot) send(ctx context.Context, d *delivery) outcome {
	m := slackMessageOf(&d.Event)
	m.Channel = s.channel
	body, err := json.Marshal(m)
	if err != nil {
		return outcome{Err: err}
	}
	h := http.Header{"Authorization": {"Bearer " + s.token}}
	o, answer := postJSON(ctx, s.hc, strings.TrimSuffix(s.api, "/")+"/chat.postMessage", h, body, d.Now)
	var r struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	jsonErr := json.Unmarshal(answer, &r)
	switch {
	case o.Err != nil && jsonErr == nil:
		return withCode(o, shortCode([]byte(r.Error)))
	case o.Err != nil:
		return o
	case jsonErr != nil:
		o.Err = fmt.Errorf("slack: %w", errNoAnswer)
	case !r.OK:
		o.Err = errors.New("slack: " + cmp.Or(shortCode([]byte(r.Error)), "not ok"))
	}
	return o
}
