package notify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/internal/config"
)

// Event kinds (config.NotifyEvents lists them for channel patterns).
const (
	ApprovalRequested = "approval.requested"
	ApprovalApproved  = "approval.approved"
	ApprovalRejected  = "approval.rejected"
	ApprovalExpired   = "approval.expired"
	ApprovalDeployed  = "approval.deployed"
	MFALocked         = "mfa.locked"
	MFAMethodRemoved  = "mfa.method_removed"
	UserRoleChanged   = "user.role_changed"
)

// Limits on what an event carries; longer values are cut (with "…"), so
// that a long commit message never stops a notification.
const (
	maxTitle     = 250  // characters
	maxFacts     = 20   // facts
	maxFactName  = 60   // characters
	maxFactValue = 1000 // characters
	maxLink      = 2000 // bytes; a longer link is dropped
)

// Event is something people are told about: a deploy waiting for their
// approval, a locked-out colleague. It is what every channel renders, and
// what a webhook receives as JSON. Nothing in it may be secret: it is
// stored in the job queue and sent to outside services.
type Event struct {
	// Kind is one of the kinds above, e.g. "approval.requested".
	Kind string `json:"kind"`
	// Time is when it happened (Publish: now if zero), in UTC.
	Time time.Time `json:"time"`
	// Title is the one-line summary, e.g. "Deploy of web on production
	// needs approval".
	Title string `json:"title"`
	// Facts are the details, in the order shown.
	Facts []Fact `json:"facts"`
	// Link is a deep link into the gateway's console (the approval page),
	// shown as a button; acting on it always happens in the gateway.
	Link string `json:"link,omitempty"`
	// Rack, App and Actor (an email or "token NAME of EMAIL") say where
	// and who; empty when they do not apply.
	Rack  string `json:"rack,omitempty"`
	App   string `json:"app,omitempty"`
	Actor string `json:"actor,omitempty"`
}

// Fact is one named detail of an event.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Kinds returns every event kind.
func Kinds() []string { return slices.Clone(config.NotifyEvents) }

// normalize checks ev and puts it in the form that is stored: a known
// kind and a title are required; the time is UTC; long values are cut,
// empty facts dropped, and a link that is not http(s) removed.
func (ev *Event) normalize(now time.Time) error {
	if !slices.Contains(config.NotifyEvents, ev.Kind) {
		return fmt.Errorf("notify: unknown event kind %q", ev.Kind)
	}
	ev.Title = cut(oneLine(ev.Title), maxTitle)
	if ev.Title == "" {
		return errors.New("notify: an event needs a title")
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	ev.Time = ev.Time.UTC()
	facts := make([]Fact, 0, len(ev.Facts))
	for _, f := range ev.Facts {
		f.Name, f.Value = cut(oneLine(f.Name), maxFactName), cut(text(f.Value), maxFactValue)
		if f.Name != "" && f.Value != "" && len(facts) < maxFacts {
			facts = append(facts, f)
		}
	}
	ev.Facts = facts
	if !(strings.HasPrefix(ev.Link, "https://") || strings.HasPrefix(ev.Link, "http://")) || len(ev.Link) > maxLink ||
		strings.ContainsAny(ev.Link, " \t\r\n\"'<>") {
		ev.Link = ""
	}
	ev.Rack, ev.App, ev.Actor = cut(oneLine(ev.Rack), maxFactName), cut(oneLine(ev.App), maxFactName), cut(oneLine(ev.Actor), 200)
	return nil
}

// oneLine returns s as valid UTF-8 on one line, without control or
// bidirectional formatting characters (which could make text read other
// than it is): they and runs of spaces become one space.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToValidUTF8(s, "\uFFFD"), func(r rune) bool {
		return r == ' ' || unsafeRune(r)
	}), " ")
}

// text is oneLine for text of several lines: line breaks stay (as "\n"),
// and blank lines around it go.
func text(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = oneLine(l)
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// unsafeRune reports control characters and the bidirectional formatting
// characters.
func unsafeRune(r rune) bool {
	return r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}

// cut returns s cut to n characters, the last being "…" if it was cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
