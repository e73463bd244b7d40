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

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Store is what administration reads and changes: users, rack roles,
// tokens, sessions, and the audit log (read and exported).
type Store interface {
	store.Users
	store.RoleBindings
	store.Tokens
	store.Sessions
	store.TrustedDevices
	export.Source
}

// Service performs administration operations.
type Service struct {
	Store Store
	Audit *audit.Auditor
	// Policy decides every operation; nil enforces roles only (the zero
	// authz.Policy).
	Policy *authz.Policy
	// Authn, when set, has its cache invalidated after every change so
	// revocations and role changes take effect on the next request.
	Authn *authn.Authenticator
	Now   func() time.Time
	// Notify, if set, is told of changes people should hear of:
	// "user.role_changed", naming the user and facts. It must not block.
	Notify func(ctx context.Context, kind, user string, facts [][2]string)
}

// tell passes an event to Notify.
func (s *Service) tell(ctx context.Context, kind, user string, facts ...[2]string) {
	if s.Notify != nil {
		s.Notify(context.WithoutCancel(ctx), kind, user, facts)
	}
}

func actorName(a Actor) string {
	if a.Principal != nil {
		return a.Principal.Email
	}
	return a.System
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
	// MFALevel names the second factor needed when the policy asked for
	// one (apitypes.HeaderMFARequired).
	MFALevel string
}

// Refusal is the error for a policy decision that denied: a step-up or
// enrolment refusal names the second factor needed.
func Refusal(d authz.Decision, msg string) *Error {
	e := &Error{Kind: KindForbidden, Reason: d.Reason, Msg: msg}
	switch d.Reason {
	case authz.ReasonStepUpRequired:
		e.MFALevel = d.StepUp.String()
		e.Msg = fmt.Sprintf("this needs a second factor (%s): run `rack-gateway mfa verify`, or retry with the code in the %s header",
			d.StepUp, apitypes.HeaderMFACode)
	case authz.ReasonMFAEnrollmentRequired:
		e.MFALevel = apitypes.MFALevelEnrol
		e.Msg = "you have no second factor yet and this gateway requires one: enrol it on your account page in the console"
	}
	return e
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
	KindUnauthorized
	KindTooMany
)

func (e *Error) Error() string { return e.Msg }

// Status is the HTTP status an error of this kind is answered with.
func (k Kind) Status() int {
	switch k {
	case KindInvalid:
		return 400
	case KindForbidden:
		return 403
	case KindNotFound:
		return 404
	case KindConflict:
		return 409
	case KindUnavailable:
		return 503
	case KindUnauthorized:
		return 401
	case KindTooMany:
		return 429
	}
	return 500
}

// String names the kind in audit details.
func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindUnavailable:
		return "unavailable"
	case KindUnauthorized:
		return "unauthorized"
	case KindTooMany:
		return "too many requests"
	}
	return "failed"
}

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
	return Refusal(d, fmt.Sprintf("permission denied: role %q lacks %s", d.Role, perm))
}

func (s *Service) policy() *authz.Policy {
	if s.Policy != nil {
		return s.Policy
	}
	return &authz.Policy{}
}

func (s *Service) event(a Actor, action string, perm authz.Permission) *chain.Event {
	id := a.RequestID
	if id == "" { // the CLI's bootstrap verbs: each operation its own id
		id = audit.NewRequestID()
	}
	ev := &chain.Event{
		Time: s.now(), RequestID: id, SourceIP: a.SourceIP, UserAgent: a.UserAgent,
		Action: action, Permission: string(perm), Decision: "allow", Reason: string(authz.ReasonAllowed),
	}
	if p := a.Principal; p != nil {
		ev.ActorType, ev.Actor, ev.ActorID, ev.Role, ev.TokenID = string(p.Kind), p.Email, p.UserID, p.Role, p.TokenID
	} else {
		ev.ActorType, ev.Actor = "system", a.System
	}
	return ev
}

// change is an administrative change recorded ahead; finish records how
// it ended, so a change that failed never looks done in the log.
type change struct {
	s       *Service
	ev      chain.Event
	details map[string]any
}

// writeAhead durably records an allowed change before it is made (phase
// "attempt"); if the audit log cannot take it, the change is refused. The
// caller makes the change and calls finish with its error.
func (s *Service) writeAhead(ctx context.Context, ev *chain.Event, details map[string]any) (*change, error) {
	attempt := *ev
	attempt.Details = audit.Details(audit.WithPhase(details, "attempt"))
	if err := s.Audit.RecordSync(ctx, &attempt); err != nil {
		return nil, &Error{Kind: KindUnavailable, Reason: authz.ReasonAuditUnavailable,
			Msg: "the audit log is unavailable, so changes are blocked; try again shortly"}
	}
	return &change{s: s, ev: *ev, details: details}, nil
}

// finish records the outcome of the change (phase "outcome"): status 200,
// or the failure's status and reason with a short description, never a
// database error's text. It returns err.
func (c *change) finish(err error) error {
	ev := c.ev
	ev.Time = c.s.now()
	d := audit.WithPhase(c.details, "outcome")
	ev.Status = 200
	if err != nil {
		kind, reason := KindUnavailable, authz.ReasonStoreUnavailable
		var ae *Error
		if errors.As(err, &ae) {
			kind, reason = ae.Kind, ae.Reason
		}
		ev.Status, ev.Reason = kind.Status(), string(reason)
		d["error"] = kind.String()
	}
	ev.Details = audit.Details(d)
	c.s.Audit.Record(&ev)
	return err
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

// storeErr turns a store error into an admin Error (nil stays nil).
func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return &Error{Kind: KindNotFound, Reason: authz.ReasonBadRequest, Msg: what + " not found"}
	case errors.Is(err, store.ErrConflict):
		return &Error{Kind: KindConflict, Reason: authz.ReasonBadRequest, Msg: what + " already exists"}
	}
	return &Error{Kind: KindUnavailable, Reason: authz.ReasonStoreUnavailable, Msg: "database error: " + err.Error()}
}
