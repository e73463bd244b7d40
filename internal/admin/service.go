// Package admin is gateway administration — users, role bindings and API
// tokens — shared by the HTTP admin API and the CLI's bootstrap verbs. Every
// operation is authorized by the one policy (authz.Policy.Decide) and
// audited with before/after.
package admin

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Service performs administration operations.
type Service struct {
	Store store.Store
	Audit *audit.Auditor
	// Policy decides every operation; nil enforces roles only (the zero
	// authz.Policy).
	Policy *authz.Policy
	// Authn, when set, has its cache invalidated after every change so
	// revocations and role changes take effect on the next request.
	Authn *authn.Authenticator
	Now   func() time.Time
}

// Actor is who performs an operation.
type Actor struct {
	// Principal is the authenticated caller; nil with System set means a
	// local operator with direct database access (the CLI's bootstrap verbs),
	// who is trusted like the database itself.
	Principal *authz.Principal
	System    string // e.g. "cli:root"; used only when Principal is nil
	SourceIP  string
	UserAgent string
	RequestID string
}

// Error is an operation failure with an HTTP-friendly kind.
type Error struct {
	Kind   Kind
	Reason authz.Reason
	Msg    string
}

// Kind classifies errors.
type Kind int

// Error kinds.
const (
	KindInvalid Kind = iota + 1
	KindForbidden
	KindNotFound
	KindConflict
	KindUnavailable
)

func (e *Error) Error() string { return e.Msg }

func invalid(format string, a ...any) error {
	return &Error{Kind: KindInvalid, Reason: authz.ReasonBadRequest, Msg: fmt.Sprintf(format, a...)}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// authorize decides an admin permission for the actor and audits a denial.
func (s *Service) authorize(ctx context.Context, a Actor, perm authz.Permission, action string) error {
	if a.Principal == nil {
		if a.System == "" {
			return &Error{Kind: KindForbidden, Reason: authz.ReasonUnauthenticated, Msg: "authentication required"}
		}
		return nil
	}
	d := s.policy().Decide(authz.Request{Principal: a.Principal, Permission: perm, Now: s.now()})
	if d.Allow {
		return nil
	}
	ev := s.event(a, action, perm)
	ev.Decision, ev.Reason, ev.Status = "deny", string(d.Reason), 403
	s.Audit.Record(ev)
	return &Error{Kind: KindForbidden, Reason: d.Reason,
		Msg: fmt.Sprintf("permission denied: role %q lacks %s", d.Role, perm)}
}

func (s *Service) policy() *authz.Policy {
	if s.Policy != nil {
		return s.Policy
	}
	return &authz.Policy{}
}

func (s *Service) event(a Actor, action string, perm authz.Permission) *chain.Event {
	ev := &chain.Event{
		Time: s.now(), RequestID: a.RequestID, SourceIP: a.SourceIP, UserAgent: a.UserAgent,
		Action: action, Permission: string(perm), Decision: "allow", Reason: string(authz.ReasonAllowed),
	}
	if p := a.Principal; p != nil {
		ev.ActorType, ev.Actor, ev.ActorID, ev.Role, ev.TokenID = string(p.Kind), p.Email, p.UserID, p.Role, p.TokenID
	} else {
		ev.ActorType, ev.Actor = "system", a.System
	}
	return ev
}

// writeAhead durably records an allowed change before it is made; if the
// audit log cannot take it, the change is refused.
func (s *Service) writeAhead(ctx context.Context, ev *chain.Event, details map[string]any) error {
	ev.Details = audit.Details(details)
	if err := s.Audit.RecordSync(ctx, ev); err != nil {
		return &Error{Kind: KindUnavailable, Reason: authz.ReasonAuditUnavailable,
			Msg: "the audit log is unavailable, so changes are blocked; try again shortly"}
	}
	return nil
}

// recordRead audits an allowed read of administrative data (who listed
// users, tokens or the audit log) without blocking the caller.
func (s *Service) recordRead(a Actor, action string, perm authz.Permission) {
	s.Audit.Record(s.event(a, action, perm))
}

func (s *Service) changed() {
	if s.Authn != nil {
		s.Authn.Invalidate()
	}
}

func normalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email, "@") {
		return "", invalid("%q is not an email address", email)
	}
	return email, nil
}

func storeErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Error{Kind: KindNotFound, Reason: authz.ReasonBadRequest, Msg: what + " not found"}
	case errors.Is(err, store.ErrConflict):
		return &Error{Kind: KindConflict, Reason: authz.ReasonBadRequest, Msg: what + " already exists"}
	}
	return &Error{Kind: KindUnavailable, Reason: authz.ReasonStoreUnavailable, Msg: "database error: " + err.Error()}
}
