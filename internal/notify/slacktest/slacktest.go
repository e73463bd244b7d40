// Package slacktest is a fake Slack for tests, on loopback: an incoming
// webhook and the Web API's chat.postMessage. It checks each message
// against Slack's documented rules (text or blocks present, known block
// types, a section's text at most 3000 characters, buttons' labels and
// URLs, the bearer token, the channel) and answers as Slack does:
//
//   - incoming webhook: 200 "ok"; 400 invalid_payload, no_text or
//     invalid_blocks; 404 no_service for an unknown webhook URL; 429 with
//     Retry-After when rate limited.
//   - chat.postMessage: always HTTP 200 with {"ok": true, "channel",
//     "ts", "message"} or {"ok": false, "error": "not_authed" |
//     "invalid_auth" | "channel_not_found" | "no_text" | "invalid_blocks" |
//     "msg_too_long" | "invalid_json"}, except 429 {"ok": false, "error":
//     "ratelimited"} with Retry-After.
//
// It is stricter than Slack in one way: a button must have a url. The
// gateway has no interactivity endpoint, so a button without one would do
// nothing.
package slacktest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Slack's limits, as documented for Block Kit and chat.postMessage.
const (
	MaxBlocks      = 50
	MaxSectionText = 3000
	MaxFieldText   = 2000
	MaxFields      = 10
	MaxHeaderText  = 150
	MaxButtonText  = 75
	MaxButtonURL   = 3000
	MaxContextElts = 10
	MaxActionElts  = 25
	MaxBlockID     = 255
	MaxMessageText = 40000
)

// DefaultChannel is the channel every Server has: its name and id.
const (
	DefaultChannel   = "deploys"
	DefaultChannelID = "C0RGW00001"
)

// Message is a message Slack accepted.
type Message struct {
	// Endpoint is "webhook" or "chat.postMessage".
	Endpoint string
	// Channel is the channel id it was posted to.
	Channel string
	Text    string
	Blocks  []Block
	// Body and Header are the request as received.
	Body   []byte
	Header http.Header
}

// Block is a Block Kit layout block.
type Block struct {
	Type     string    `json:"type"`
	BlockID  string    `json:"block_id,omitempty"`
	Text     *Text     `json:"text,omitempty"`
	Fields   []Text    `json:"fields,omitempty"`
	Elements []Element `json:"elements,omitempty"`
	ImageURL string    `json:"image_url,omitempty"`
	AltText  string    `json:"alt_text,omitempty"`
}

// Text is a text object: mrkdwn or plain_text.
type Text struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji,omitempty"`
	Verbatim *bool  `json:"verbatim,omitempty"`
}

// Element is an element of a context block (a text object or an image)
// or of an actions block (a button).
type Element struct {
	Type string `json:"type"`
	// Text is a string for mrkdwn and plain_text elements, an object
	// (Text) for a button's label.
	Text     json.RawMessage `json:"text,omitempty"`
	URL      string          `json:"url,omitempty"`
	ActionID string          `json:"action_id,omitempty"`
	Value    string          `json:"value,omitempty"`
	Style    string          `json:"style,omitempty"`
	ImageURL string          `json:"image_url,omitempty"`
	AltText  string          `json:"alt_text,omitempty"`
}

// Label is a button's label, or "" if e is not a button.
func (e Element) Label() string {
	var t Text
	if e.Type != "button" || json.Unmarshal(e.Text, &t) != nil {
		return ""
	}
	return t.Text
}

// String is a text element's text, or "" if e is not one.
func (e Element) String() string {
	var s string
	if json.Unmarshal(e.Text, &s) != nil {
		return ""
	}
	return s
}

// Buttons returns the message's buttons.
func (m Message) Buttons() []Element {
	var out []Element
	for _, b := range m.Blocks {
		for _, e := range b.Elements {
			if e.Type == "button" {
				out = append(out, e)
			}
		}
	}
	return out
}

// AllText returns every text of the message, its fallback text first, one
// per line.
func (m Message) AllText() string {
	parts := []string{m.Text}
	for _, b := range m.Blocks {
		if b.Text != nil {
			parts = append(parts, b.Text.Text)
		}
		for _, f := range b.Fields {
			parts = append(parts, f.Text)
		}
		for _, e := range b.Elements {
			if s := e.String(); s != "" {
				parts = append(parts, s)
			}
			if s := e.Label(); s != "" {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, "\n")
}

// Server is a running fake Slack.
type Server struct {
	// URL is the server's base URL (http://127.0.0.1:PORT).
	URL string
	// WebhookURL is the one incoming webhook that exists; it posts to
	// DefaultChannel.
	WebhookURL string
	// APIURL is the Web API base (URL + "/api"), e.g. for chat.postMessage.
	APIURL string
	// Token is the bot token chat.postMessage accepts.
	Token string

	webhookPath string
	mu          sync.Mutex
	channels    map[string]string // id or name → id
	received    []Message
	refused     []string
	rateLimit   []time.Duration
	failures    []string
	seq         int
}

// New starts a fake Slack for the test and stops it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{webhookPath: "/services/TRGWTEST/BRGWTEST/" + random(12), Token: "xoxb-rgw-test-" + random(12),
		channels: map[string]string{DefaultChannel: DefaultChannelID, DefaultChannelID: DefaultChannelID}}
	mux := http.NewServeMux()
	mux.HandleFunc("/services/", s.webhook)
	mux.HandleFunc("/api/chat.postMessage", s.postMessage)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	s.WebhookURL = srv.URL + s.webhookPath
	s.APIURL = srv.URL + "/api"
	return s
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AddChannel adds a channel the bot is in and returns its id.
func (s *Server) AddChannel(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("C0RGW%05d", len(s.channels)+1)
	s.channels[name], s.channels[id] = id, id
	return id
}

// RateLimit makes the next n requests (to either endpoint) fail with 429
// and Retry-After: retryAfter (whole seconds).
func (s *Server) RateLimit(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.rateLimit = append(s.rateLimit, retryAfter)
	}
}

// FailNext makes the next request fail with Slack's error code (e.g.
// "channel_not_found", "action_prohibited", "invalid_auth"), answered as
// the endpoint answers that error.
func (s *Server) FailNext(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, code)
}

// Received returns the messages accepted so far, oldest first.
func (s *Server) Received() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.received...)
}

// Refused returns the error codes of the requests refused so far.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// scripted pops a queued rate limit or failure.
func (s *Server) scripted() (retryAfter time.Duration, limited bool, failure string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rateLimit) > 0 {
		retryAfter, s.rateLimit = s.rateLimit[0], s.rateLimit[1:]
		s.refused = append(s.refused, "rate_limited")
		return retryAfter, true, ""
	}
	if len(s.failures) > 0 {
		failure, s.failures = s.failures[0], s.failures[1:]
		s.refused = append(s.refused, failure)
	}
	return 0, false, failure
}

func (s *Server) refuse(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused = append(s.refused, code)
}

func (s *Server) accept(m Message) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, m)
	s.seq++
	return fmt.Sprintf("%d.%06d", 1700000000+s.seq, s.seq)
}

// webhook is an incoming webhook: POST JSON, answered in plain text.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	text := func(status int, body string) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
	if r.URL.Path != s.webhookPath {
		s.refuse("no_service")
		text(http.StatusNotFound, "no_service")
		return
	}
	if r.Method != http.MethodPost {
		s.refuse("invalid_method")
		text(http.StatusMethodNotAllowed, "invalid_method")
		return
	}
	if after, limited, failure := s.scripted(); limited {
		w.Header().Set("Retry-After", strconv.Itoa(int(after/time.Second)))
		text(http.StatusTooManyRequests, "rate_limited")
		return
	} else if failure != "" {
		status := http.StatusBadRequest
		switch failure {
		case "no_service", "channel_not_found", "user_not_found":
			status = http.StatusNotFound
		case "action_prohibited", "invalid_token", "posting_to_general_channel_denied":
			status = http.StatusForbidden
		case "channel_is_archived", "no_active_hooks":
			status = http.StatusGone
		}
		text(status, failure)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var m wire
	if err != nil || ct != "application/json" || json.Unmarshal(body, &m) != nil {
		s.refuse("invalid_payload")
		text(http.StatusBadRequest, "invalid_payload")
		return
	}
	if code := m.check(); code != "" {
		s.refuse(code)
		text(http.StatusBadRequest, code)
		return
	}
	s.accept(Message{Endpoint: "webhook", Channel: DefaultChannelID, Text: m.Text, Blocks: m.Blocks, Body: body,
		Header: r.Header.Clone()})
	text(http.StatusOK, "ok")
}

// postMessage is chat.postMessage with a JSON body.
func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	answer := func(status int, v map[string]any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(code string) {
		s.refuse(code)
		answer(http.StatusOK, map[string]any{"ok": false, "error": code})
	}
	if r.Method != http.MethodPost {
		fail("invalid_request")
		return
	}
	auth := r.Header.Get("Authorization")
	token, bearer := strings.CutPrefix(auth, "Bearer ")
	switch {
	case auth == "":
		fail("not_authed")
		return
	case !bearer || token != s.Token:
		fail("invalid_auth")
		return
	}
	if after, limited, failure := s.scripted(); limited {
		w.Header().Set("Retry-After", strconv.Itoa(int(after/time.Second)))
		answer(http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		return
	} else if failure != "" {
		answer(http.StatusOK, map[string]any{"ok": false, "error": failure})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var m wire
	if err != nil || ct != "application/json" || json.Unmarshal(body, &m) != nil {
		fail("invalid_json")
		return
	}
	s.mu.Lock()
	id, ok := s.channels[strings.TrimPrefix(m.Channel, "#")]
	s.mu.Unlock()
	if !ok {
		fail("channel_not_found")
		return
	}
	if code := m.check(); code != "" {
		fail(code)
		return
	}
	ts := s.accept(Message{Endpoint: "chat.postMessage", Channel: id, Text: m.Text, Blocks: m.Blocks, Body: body,
		Header: r.Header.Clone()})
	answer(http.StatusOK, map[string]any{"ok": true, "channel": id, "ts": ts,
		"message": map[string]any{"type": "message", "text": m.Text, "ts": ts}})
}

// wire is a message as posted.
type wire struct {
	Channel string  `json:"channel"`
	Text    string  `json:"text"`
	Blocks  []Block `json:"blocks"`
}

// check returns Slack's error code for m, or "" if Slack takes it.
func (m *wire) check() string {
	if m.Text == "" && len(m.Blocks) == 0 {
		return "no_text"
	}
	if utf8.RuneCountInString(m.Text) > MaxMessageText {
		return "msg_too_long"
	}
	if len(m.Blocks) > MaxBlocks {
		return "invalid_blocks"
	}
	actionIDs := map[string]bool{}
	for _, b := range m.Blocks {
		if !b.valid(actionIDs) {
			return "invalid_blocks"
		}
	}
	return ""
}

func (t *Text) valid(limit int) bool {
	return t != nil && (t.Type == "mrkdwn" || t.Type == "plain_text") && t.Text != "" &&
		utf8.RuneCountInString(t.Text) <= limit && (t.Emoji == nil || t.Type == "plain_text")
}

func (b *Block) valid(actionIDs map[string]bool) bool {
	if utf8.RuneCountInString(b.BlockID) > MaxBlockID {
		return false
	}
	switch b.Type {
	case "section":
		if b.Text == nil && len(b.Fields) == 0 || len(b.Fields) > MaxFields || len(b.Elements) > 0 {
			return false
		}
		if b.Text != nil && !b.Text.valid(MaxSectionText) {
			return false
		}
		for _, f := range b.Fields {
			if !f.valid(MaxFieldText) {
				return false
			}
		}
	case "header":
		return b.Text.valid(MaxHeaderText) && b.Text.Type == "plain_text" && len(b.Elements) == 0
	case "divider":
		return b.Text == nil && len(b.Elements) == 0 && len(b.Fields) == 0
	case "image":
		return b.ImageURL != "" && b.AltText != ""
	case "context":
		if len(b.Elements) == 0 || len(b.Elements) > MaxContextElts || b.Text != nil {
			return false
		}
		for _, e := range b.Elements {
			switch e.Type {
			case "mrkdwn", "plain_text":
				if s := e.String(); s == "" || utf8.RuneCountInString(s) > MaxSectionText {
					return false
				}
			case "image":
				if e.ImageURL == "" || e.AltText == "" {
					return false
				}
			default:
				return false
			}
		}
	case "actions":
		if len(b.Elements) == 0 || len(b.Elements) > MaxActionElts || b.Text != nil {
			return false
		}
		for _, e := range b.Elements {
			var label Text
			if e.Type != "button" || json.Unmarshal(e.Text, &label) != nil || !label.valid(MaxButtonText) ||
				label.Type != "plain_text" || e.URL == "" || len(e.URL) > MaxButtonURL ||
				!(strings.HasPrefix(e.URL, "https://") || strings.HasPrefix(e.URL, "http://")) {
				return false
			}
			if e.ActionID != "" {
				if actionIDs[e.ActionID] || len(e.ActionID) > 255 {
					return false
				}
				actionIDs[e.ActionID] = true
			}
			if e.Style != "" && e.Style != "primary" && e.Style != "danger" {
				return false
			}
		}
	default:
		return false
	}
	return true
}
