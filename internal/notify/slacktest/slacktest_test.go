package slacktest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// post sends body to url with the headers and returns the status, the
// Retry-After header and the answer.
func post(t *testing.T, url, body string, header map[string]string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(string(b))
}

const section = `{"type":"section","text":{"type":"mrkdwn","text":"hi"}}`

// actions is an actions block of the elements.
func actions(elements ...string) string {
	return `{"type":"actions","elements":[` + strings.Join(elements, ",") + `]}`
}

// button is an actions block of one button to url.
func button(url string) string {
	return actions(`{"type":"button","text":{"type":"plain_text","text":"Open"},"url":"` + url + `"}`)
}

// blocks is a message of the blocks, with text.
func blocks(b ...string) string { return `{"text":"t","blocks":[` + strings.Join(b, ",") + `]}` }

// The payloads Slack refuses are refused with Slack's error codes, on
// both endpoints.
func TestValidation(t *testing.T) {
	long := strings.Repeat("x", MaxSectionText+1)
	for _, c := range []struct {
		name, body, code string
	}{
		{"text only", `{"text":"hello"}`, ""},
		{"blocks only", `{"blocks":[` + section + `]}`, ""},
		{"every block type we use", `{"text":"t","blocks":[` + section + `,` + button("https://gw.example.com/a/1") +
			`,{"type":"context","elements":[{"type":"mrkdwn","text":"c"}]},{"type":"divider"},` +
			`{"type":"header","text":{"type":"plain_text","text":"h"}}]}`, ""},
		{"a section of exactly 3000", `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` +
			strings.Repeat("é", MaxSectionText) + `"}}]}`, ""},
		{"neither text nor blocks", `{}`, "no_text"},
		{"empty text, no blocks", `{"text":""}`, "no_text"},
		{"an unknown block type", blocks(`{"type":"banner","text":{"type":"mrkdwn","text":"x"}}`), "invalid_blocks"},
		{"a section too long", blocks(`{"type":"section","text":{"type":"mrkdwn","text":"` + long + `"}}`), "invalid_blocks"},
		{"a section without text", blocks(`{"type":"section"}`), "invalid_blocks"},
		{"a text object of an unknown type", blocks(`{"type":"section","text":{"type":"html","text":"x"}}`), "invalid_blocks"},
		{"a button without url", blocks(actions(`{"type":"button","text":{"type":"plain_text","text":"Go"}}`)), "invalid_blocks"},
		{"a button with a javascript url", blocks(button("javascript:alert(1)")), "invalid_blocks"},
		{"a button label in mrkdwn", blocks(actions(`{"type":"button","text":{"type":"mrkdwn","text":"Go"},"url":"https://x.example"}`)),
			"invalid_blocks"},
		{"a button label too long", blocks(actions(`{"type":"button","text":{"type":"plain_text","text":"` +
			strings.Repeat("b", MaxButtonText+1) + `"},"url":"https://x.example"}`)), "invalid_blocks"},
		{"an empty actions block", blocks(`{"type":"actions","elements":[]}`), "invalid_blocks"},
		{"an empty context block", blocks(`{"type":"context"}`), "invalid_blocks"},
		{"too many blocks", blocks(strings.Split(strings.Repeat(`{"type":"divider"}|`, MaxBlocks+1), "|")[:MaxBlocks+1]...),
			"invalid_blocks"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(t)
			status, _, answer := post(t, s.WebhookURL, c.body, nil)
			wantStatus, wantAnswer := http.StatusOK, "ok"
			if c.code != "" {
				wantStatus, wantAnswer = http.StatusBadRequest, c.code
			}
			if status != wantStatus || answer != wantAnswer {
				t.Errorf("webhook answered %d %q, want %d %q", status, answer, wantStatus, wantAnswer)
			}
			var m map[string]any
			_ = json.Unmarshal([]byte(c.body), &m)
			m["channel"] = DefaultChannel
			b, _ := json.Marshal(m)
			status, _, answer = post(t, s.APIURL+"/chat.postMessage", string(b), map[string]string{"Authorization": "Bearer " + s.Token})
			var r struct {
				OK      bool   `json:"ok"`
				Error   string `json:"error"`
				Channel string `json:"channel"`
				TS      string `json:"ts"`
			}
			if err := json.Unmarshal([]byte(answer), &r); err != nil || status != http.StatusOK || r.OK != (c.code == "") || r.Error != c.code {
				t.Errorf("chat.postMessage answered %d %s, want ok=%v error %q", status, answer, c.code == "", c.code)
			}
			if c.code == "" && (r.Channel != DefaultChannelID || r.TS == "") {
				t.Errorf("chat.postMessage answered %s", answer)
			}
			wantReceived := 2
			if c.code != "" {
				wantReceived = 0
			}
			if got := s.Received(); len(got) != wantReceived {
				t.Errorf("received %d messages, want %d", len(got), wantReceived)
			}
		})
	}
}

func TestWebhookAnswers(t *testing.T) {
	s := New(t)
	if status, _, answer := post(t, s.URL+"/services/TRGWTEST/BRGWTEST/wrong", `{"text":"x"}`, nil); status != 404 || answer != "no_service" {
		t.Errorf("unknown webhook: %d %q", status, answer)
	}
	if status, _, answer := post(t, s.WebhookURL, `{"text":`, nil); status != 400 || answer != "invalid_payload" {
		t.Errorf("bad JSON: %d %q", status, answer)
	}
	s.RateLimit(1, 30*time.Second)
	if status, after, answer := post(t, s.WebhookURL, `{"text":"x"}`, nil); status != 429 || after != "30" || answer != "rate_limited" {
		t.Errorf("rate limited: %d %q %q", status, after, answer)
	}
	s.FailNext("action_prohibited")
	if status, _, answer := post(t, s.WebhookURL, `{"text":"x"}`, nil); status != 403 || answer != "action_prohibited" {
		t.Errorf("failure: %d %q", status, answer)
	}
	if status, _, answer := post(t, s.WebhookURL, `{"text":"x"}`, nil); status != 200 || answer != "ok" {
		t.Errorf("then: %d %q", status, answer)
	}
	if got := s.Refused(); strings.Join(got, ",") != "no_service,invalid_payload,rate_limited,action_prohibited" {
		t.Errorf("refused %v", got)
	}
}

func TestPostMessageAnswers(t *testing.T) {
	s := New(t)
	other := s.AddChannel("ops")
	url := s.APIURL + "/chat.postMessage"
	auth := map[string]string{"Authorization": "Bearer " + s.Token}
	for _, c := range []struct {
		name, body string
		header     map[string]string
		status     int
		answer     string
	}{
		{"no token", `{"channel":"deploys","text":"x"}`, nil, 200, `"error":"not_authed"`},
		{"a wrong token", `{"channel":"deploys","text":"x"}`, map[string]string{"Authorization": "Bearer xoxb-wrong"}, 200,
			`"error":"invalid_auth"`},
		{"not bearer", `{"channel":"deploys","text":"x"}`, map[string]string{"Authorization": "Basic " + s.Token}, 200,
			`"error":"invalid_auth"`},
		{"an unknown channel", `{"channel":"nowhere","text":"x"}`, auth, 200, `"error":"channel_not_found"`},
		{"no channel", `{"text":"x"}`, auth, 200, `"error":"channel_not_found"`},
		{"bad JSON", `{"channel":`, auth, 200, `"error":"invalid_json"`},
		{"by name with #", `{"channel":"#ops","text":"x"}`, auth, 200, `"channel":"` + other + `"`},
		{"by id", `{"channel":"` + DefaultChannelID + `","text":"x"}`, auth, 200, `"ok":true`},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, answer := post(t, url, c.body, c.header)
			if status != c.status || !strings.Contains(answer, c.answer) {
				t.Errorf("answered %d %s, want %d with %s", status, answer, c.status, c.answer)
			}
		})
	}
	s.RateLimit(1, 2*time.Second)
	if status, after, answer := post(t, url, `{"channel":"deploys","text":"x"}`, auth); status != 429 || after != "2" ||
		!strings.Contains(answer, `"error":"ratelimited"`) {
		t.Errorf("rate limited: %d %q %s", status, after, answer)
	}
	s.FailNext("msg_blocks_too_long")
	status, _, answer := post(t, url, `{"channel":"deploys","text":"x"}`, auth)
	var r struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(answer), &r); err != nil || status != 200 || r.OK || r.Error != "msg_blocks_too_long" {
		t.Errorf("failure: %d %s", status, answer)
	}
	if got := s.Received(); len(got) != 2 || got[0].Channel != other || got[1].Channel != DefaultChannelID ||
		got[0].Endpoint != "chat.postMessage" {
		t.Errorf("received %+v", got)
	}
}
