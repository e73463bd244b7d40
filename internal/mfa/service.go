// Package mfa is the gateway's second factors: enrolling, verifying and
// removing them (TOTP, WebAuthn passkeys and security keys, YubiKey OTP,
// backup codes), trusted browsers, throttling and lockout, and the admin
// reset for a lost device. Every event is audited; secrets never are.
//
// Whether a second factor is needed is not decided here: that is the one
// policy (authz.Policy.Decide, with the principal's Assurance). This
// package proves factors and records the proof on the session
// (store.MFA.SetSessionMFA), which authn reads back into the Assurance.
// The protocol pieces are subpackages: totp, yubiotp, passkey, backupcode,
// and seal (encryption at rest of TOTP secrets).
package mfa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/mfa/passkey"
	"github.com/rack-gateway/rack-gateway/internal/mfa/seal"
	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Store is what the MFA service reads and changes.
type Store interface {
	store.MFA
	store.Users
	store.Sessions
}

// Recorder is the audit log as this package uses it.
type Recorder interface {
	// Record queues a routine event (never dropped).
	Record(ev *chain.Event)
	// RecordSync writes an event durably; an error means it is not
	// recorded and the change must be refused.
	RecordSync(ctx context.Context, ev *chain.Event) error
}

// Invalidator drops cached credentials after a change to a session's
// proof, so the next request sees it (authn.Authenticator).
type Invalidator interface{ Invalidate() }

// Config is the service's settings.
type Config struct {
	// Keys seals TOTP secrets; required for TOTP.
	Keys *seal.Keyring
	// Issuer names the gateway in authenticator apps ("Rack Gateway").
	Issuer string
	// YubiKey validates YubiKey OTPs; nil disables YubiKey OTP.
	YubiKey *yubiotp.Client
	// Passkeys runs WebAuthn ceremonies; nil disables WebAuthn.
	Passkeys *passkey.Service
	// LockAfter is how many failed attempts in a row lock a user out of
	// MFA until an admin unlocks them (default 10).
	LockAfter int
	// TrustDays is how long a trusted browser skips the sign-in second
	// factor (default 30); 0 after defaults disables trusted browsers.
	TrustDays int
	// ChallengeTTL bounds pending enrolments and WebAuthn challenges
	// (default 5 minutes).
	ChallengeTTL time.Duration
	// IPLimit bounds failed attempts per client address, across users
	// (nil: none); the per-user lockout is LockAfter.
	IPLimit Limiter
	// Clock tells the time (nil: the system clock).
	Clock clock.Clock
	// Notify, if set, is told of security events people should hear of:
	// "mfa.locked" and "mfa.method_removed", naming the user and facts
	// (never a secret). It must not block.
	Notify func(ctx context.Context, kind, user string, facts [][2]string)
}

// Limiter is a per-address budget of failures (limits.FailureLimiter).
type Limiter interface {
	Blocked(addr string) (time.Duration, bool)
	Failed(addr string)
}

// Service proves and manages second factors.
type Service struct {
	st     Store
	cfg    Config
	audit  Recorder
	policy *authz.Policy
	authn  Invalidator
	log    *slog.Logger
	clock  clock.Clock
}

// New returns a service. policy decides who may manage whose factors;
// authn (may be nil) has its cache dropped when a session's proof changes.
func New(st Store, cfg Config, rec Recorder, policy *authz.Policy, authn Invalidator, log *slog.Logger) *Service {
	if cfg.LockAfter <= 0 {
		cfg.LockAfter = 10
	}
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = 5 * time.Minute
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "Rack Gateway"
	}
	if log == nil {
		log = slog.Default()
	}
	if policy == nil {
		policy = &authz.Policy{}
	}
	return &Service{st: st, cfg: cfg, audit: rec, policy: policy, authn: authn, log: log, clock: clock.Or(cfg.Clock)}
}

// Methods reports which kinds of second factor this gateway offers.
func (s *Service) Methods() []string {
	var out []string
	if s.cfg.Keys != nil {
		out = append(out, store.MFATOTP)
	}
	if s.cfg.Passkeys != nil {
		out = append(out, store.MFAWebAuthn)
	}
	if s.cfg.YubiKey != nil {
		out = append(out, store.MFAYubiKey)
	}
	return append(out, "backup-code")
}

// Passkeys reports whether WebAuthn is configured.
func (s *Service) Passkeys() bool { return s.cfg.Passkeys != nil }

// Actor is who asks: an authenticated person, from where.
type Actor struct {
	Principal *authz.Principal
	SourceIP  string
	UserAgent string
	RequestID string
}

// Errors. Handlers map them to answers; their texts are safe to show.
var (
	// ErrInvalidCode: the code or assertion did not prove a factor.
	ErrInvalidCode = errors.New("the code is not valid")
	// ErrReplayed: the code was used before (a TOTP step, a YubiKey OTP).
	ErrReplayed = errors.New("the code was used before; wait for a new one")
	// ErrLocked: too many failed attempts; an admin must unlock.
	ErrLocked = errors.New("second-factor sign-in is locked after too many failed attempts; ask a gateway admin to unlock it")
	// ErrNotEnrolled: the user has no second factor of that kind.
	ErrNotEnrolled = errors.New("no second factor of that kind is enrolled")
	// ErrUnavailable: the database, the audit log or a validation service
	// failed; nothing was changed.
	ErrUnavailable = errors.New("the second-factor service is unavailable; try again shortly")
	// ErrNotOffered: this gateway is not configured for that method.
	ErrNotOffered = errors.New("this gateway does not offer that kind of second factor")
	// ErrExpired: the enrolment or challenge expired or was used.
	ErrExpired = errors.New("that enrolment or challenge has expired or was used; start again")
	// ErrRateLimited: too many failed attempts from the caller's address.
	ErrRateLimited = errors.New("too many failed second-factor attempts from your address; wait a minute and try again")
	// ErrNotSession: only a person's login session can prove a factor.
	ErrNotSession = errors.New("only a person's login session (not an API token) has second factors")
)

// Forbidden is a refusal by the policy: the decision says why (a step-up
// first, or a permission the role lacks).
type Forbidden struct{ Decision authz.Decision }

func (f *Forbidden) Error() string {
	if f.Decision.Reason == authz.ReasonStepUpRequired {
		return fmt.Sprintf("this needs a second factor (%s) first", f.Decision.StepUp)
	}
	return fmt.Sprintf("permission denied (%s)", f.Decision.Reason)
}

// Invalid is bad input, with a message for the user.
type Invalid struct{ Msg string }

func (e *Invalid) Error() string { return e.Msg }

func (s *Service) now() time.Time { return s.clock.Now() }

// person checks that the actor is a person with a login session.
func person(a Actor) (*authz.Principal, error) {
	p := a.Principal
	if p == nil || p.Kind != authz.KindUser || p.SessionID == 0 {
		return nil, ErrNotSession
	}
	return p, nil
}

// authorize asks the policy whether the actor may use perm (managing their
// own factors, or another user's as an admin).
func (s *Service) authorize(a Actor, perm authz.Permission) error {
	d := s.policy.Decide(authz.Request{Principal: a.Principal, Permission: perm, Now: s.now()})
	if d.Allow {
		return nil
	}
	return &Forbidden{Decision: d}
}

// unavailable logs a store error and returns ErrUnavailable.
func (s *Service) unavailable(op string, err error) error {
	s.log.Error("mfa: "+op, "err", err)
	return ErrUnavailable
}

// SetNotify sets Config.Notify once the notifications exist (the gateway
// builds them after this service).
func (s *Service) SetNotify(f func(ctx context.Context, kind, user string, facts [][2]string)) {
	s.cfg.Notify = f
}

// tell passes a security event to Config.Notify.
func (s *Service) tell(ctx context.Context, kind, user string, facts ...[2]string) {
	if s.cfg.Notify != nil {
		s.cfg.Notify(context.WithoutCancel(ctx), kind, user, facts)
	}
}

func (s *Service) changed() {
	if s.authn != nil {
		s.authn.Invalidate()
	}
}

// KindLabel names a method kind for people.
func KindLabel(kind string) string {
	switch kind {
	case store.MFATOTP:
		return "authenticator app"
	case store.MFAWebAuthn:
		return "passkey"
	case store.MFAYubiKey:
		return "YubiKey"
	}
	return kind
}
