package audit

import (
	"strings"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// replacement stands for bytes an event cannot carry.
const replacement = "\uFFFD"

// sanitize makes every string of ev valid UTF-8 without NUL bytes before it
// is hashed and stored: each run of bytes that is not UTF-8, and each NUL,
// becomes U+FFFD.
//
// Paths, user agents and other request data are whatever bytes a client
// sent (a percent-encoded path decodes to any bytes; cutting a long value
// may split a character). PostgreSQL refuses text that is not UTF-8 or
// holds NUL, and the batch writer retries a batch until the store takes it,
// so one such event — from an unauthenticated client, even — would stop the
// audit log and with it, through back-pressure, every request; a
// write-ahead event would refuse its call. JSON exports and SIEM records
// cannot carry such bytes either, so an exported event would no longer
// match its hash. The chain's encoding itself takes any bytes.
func sanitize(ev *chain.Event) {
	for _, p := range [...]*string{&ev.RequestID, &ev.Rack, &ev.ActorType, &ev.Actor, &ev.Role, &ev.SourceIP,
		&ev.UserAgent, &ev.Method, &ev.Path, &ev.Route, &ev.Action, &ev.App, &ev.Resource, &ev.Permission,
		&ev.Decision, &ev.Reason, &ev.Details} {
		if s := *p; !clean(s) {
			*p = strings.ReplaceAll(strings.ToValidUTF8(s, replacement), "\x00", replacement)
		}
	}
}

// clean reports whether s is valid UTF-8 without NUL, in one pass that
// costs next to nothing for the ASCII most fields are.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= utf8.RuneSelf {
			return c != 0 && utf8.ValidString(s[i:]) && strings.IndexByte(s[i:], 0) < 0
		}
	}
	return true
}
