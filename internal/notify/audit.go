package notify

import (
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// Recorder is the audit log as the worker uses it (audit.Auditor): one
// event per delivery attempt.
type Recorder interface {
	Record(ev *chain.Event)
}

// The audit record of a delivery attempt: action "notify.deliver",
// decision allow (delivered) or deny (failed), and one of these reasons.
const (
	ActionDeliver   = "notify.deliver"
	ReasonDelivered = "notify_delivered"
	ReasonRetry     = "notify_failed"  // failed; tried again later
	ReasonGaveUp    = "notify_gave_up" // failed for the last time
)

// attemptDetails are the audited details of an attempt: never a URL,
// token or password (errors pass through redactor.clean first).
type attemptDetails struct {
	Channel     string `json:"channel"`
	Type        string `json:"type"`
	Event       string `json:"event"`
	Job         int64  `json:"job"`
	Delivery    string `json:"delivery,omitempty"`
	Attempt     int    `json:"attempt"`
	HTTPStatus  int    `json:"http_status,omitempty"`
	SMTPCode    int    `json:"smtp_code,omitempty"`
	Error       string `json:"error,omitempty"`
	NextAttempt string `json:"next_attempt,omitempty"`
}

// maxError bounds an error's text in logs, audit details and the job row.
const maxError = 300

// redactor removes a channel's secrets from error texts.
type redactor struct{ secrets []string }

// newRedactor returns a redactor of the given secrets and, for URLs among
// them, of their paths, queries and passwords too. Very short values are
// ignored: they would blot out ordinary words.
func newRedactor(secrets ...string) redactor {
	var r redactor
	add := func(s string) {
		if len(s) >= 6 {
			r.secrets = append(r.secrets, s)
		}
	}
	for _, s := range secrets {
		add(s)
		if u, err := url.Parse(s); err == nil && u.Host != "" {
			add(u.Path)
			add(u.RawQuery)
			add(u.EscapedPath())
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
	}
	// Longest first, so that a URL goes before its path.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// clean returns err's text for logs and the audit: an HTTP client error
// without the URL it names (which may hold a secret), every secret
// replaced, on one line, cut to maxError.
func (r redactor) clean(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	s := err.Error()
	if errors.As(err, &ue) {
		s = strings.ToLower(ue.Op) + ": " + r.clean(ue.Err)
	}
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return cut(oneLine(s), maxError)
}

// attempt is one delivery attempt, as audited.
type attempt struct {
	at      time.Time // when it ended
	took    time.Duration
	p       *payload
	ch      *channel
	job     int64
	n       int // 1 for the first attempt
	o       outcome
	errText string // o.Err, redacted
}

// event is the audit record of the attempt; next is when the next attempt
// is due (zero if there is none).
func (a *attempt) event(reason string, next time.Time) *chain.Event {
	d := attemptDetails{Channel: a.p.Channel, Type: a.ch.typ, Event: a.p.Event.Kind, Job: a.job, Delivery: a.p.Delivery,
		Attempt: a.n, HTTPStatus: a.o.HTTPStatus, SMTPCode: a.o.SMTPCode, Error: a.errText}
	if !next.IsZero() {
		d.NextAttempt = next.UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(d) // plain strings and numbers: cannot fail
	decision := "deny"
	if reason == ReasonDelivered {
		decision = "allow"
	}
	return &chain.Event{Time: a.at, ActorType: "system", Actor: "rack-gateway", Action: ActionDeliver, Rack: a.p.Event.Rack,
		App: a.p.Event.App, Resource: "channel:" + a.p.Channel, Decision: decision, Reason: reason, Status: a.o.HTTPStatus,
		DurationUS: a.took.Microseconds(), Details: string(b)}
}
