package authn

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// SessionPrefix starts every login session token (web cookie or CLI), so
// sessions and API tokens are told apart before any lookup.
const SessionPrefix = "rgws_"

// Session kinds.
const (
	KindWeb = "web"
	KindCLI = "cli"
)

// SessionPolicy bounds session lifetimes: an idle timeout (0 = none) and an
// absolute lifetime per kind.
type SessionPolicy struct {
	WebIdle, WebAbsolute time.Duration
	CLIIdle, CLIAbsolute time.Duration
}

// DefaultSessionPolicy returns the lifetimes used until SetSessionPolicy:
// 30 min idle / 12 h absolute for the web, 30 days absolute for the CLI.
func DefaultSessionPolicy() SessionPolicy {
	return SessionPolicy{WebIdle: 30 * time.Minute, WebAbsolute: 12 * time.Hour, CLIAbsolute: 30 * 24 * time.Hour}
}

// Idle returns the idle timeout of a kind.
func (p SessionPolicy) Idle(kind string) time.Duration {
	if kind == KindWeb {
		return p.WebIdle
	}
	return p.CLIIdle
}

// Absolute returns the absolute lifetime of a kind.
func (p SessionPolicy) Absolute(kind string) time.Duration {
	if kind == KindWeb {
		return p.WebAbsolute
	}
	return p.CLIAbsolute
}

// SetSessionPolicy replaces the session lifetimes (call before serving).
func (a *Authenticator) SetSessionPolicy(p SessionPolicy) { a.policy = p }

// SessionPolicy returns the session lifetimes in force.
func (a *Authenticator) SessionPolicy() SessionPolicy { return a.policy }

// NewSessionToken returns a fresh session token and its SHA-256 hash.
func NewSessionToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	token = SessionPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// StartSession creates a session of the given kind for a user and returns
// its token, shown once (a cookie, or handed to the CLI).
func (a *Authenticator) StartSession(ctx context.Context, s *store.Session) (string, error) {
	token, hash := NewSessionToken()
	s.Hash = hash
	s.ExpiresAt = a.now().Add(a.policy.Absolute(s.Kind))
	if err := a.store.CreateSession(ctx, s); err != nil {
		return "", err
	}
	return token, nil
}

func (a *Authenticator) loadSession(ctx context.Context, hash []byte, now time.Time) (cacheEntry, error) {
	e := cacheEntry{until: now.Add(a.ttl)}
	s, err := a.store.GetSessionByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		e.reason = authz.ReasonInvalidCredential
		return e, nil
	}
	if err != nil {
		return e, errors.Join(ErrStoreUnavailable, err)
	}
	if subtle.ConstantTimeCompare(s.Hash, hash) != 1 {
		e.reason = authz.ReasonInvalidCredential
		return e, nil
	}
	var p *authz.Principal
	if !s.RevokedAt.IsZero() {
		e.reason, e.holder = authz.ReasonSessionRevoked, a.holder(ctx, s.UserID)
	} else {
		p, e.holder, e.reason, err = a.userPrincipal(ctx, s.UserID)
	}
	if e.holder != nil {
		e.holder.SessionID, e.holder.SessionKind = s.ID, s.Kind
	}
	if err != nil || p == nil {
		return e, err
	}
	p.SessionID, p.SessionKind = s.ID, s.Kind
	if p.Assurance, err = a.assurance(ctx, s); err != nil {
		return e, err
	}
	e.principal, e.expiresAt, e.lastSeen = p, s.ExpiresAt, s.LastSeenAt
	return e, nil
}

// checkSession applies the absolute and idle limits to a cached session
// and records it as seen.
func (a *Authenticator) checkSession(e cacheEntry, now time.Time) Result {
	p := e.principal
	if !now.Before(e.expiresAt) {
		return Result{Reason: authz.ReasonSessionExpired, Holder: p}
	}
	a.usedMu.Lock()
	defer a.usedMu.Unlock()
	last := e.lastSeen
	if t := a.seen[p.SessionID]; t.After(last) {
		last = t
	}
	if idle := a.policy.Idle(p.SessionKind); idle > 0 && now.Sub(last) > idle {
		return Result{Reason: authz.ReasonSessionExpired, Holder: p}
	}
	if len(a.seen) > 100_000 {
		clear(a.seen) // bound memory; the stored last-seen still applies
	}
	a.seen[p.SessionID], a.dirty[p.SessionID] = now, now
	return Result{Principal: p}
}

// RevokeSession ends one session now and drops cached credentials.
func (a *Authenticator) RevokeSession(ctx context.Context, id int64) error {
	defer a.Invalidate()
	return a.store.RevokeSession(ctx, id, a.now())
}

// SetClock replaces the clock (tests).
func (a *Authenticator) SetClock(now func() time.Time) { a.now = now }

// TrustedDevice is the session proof of a sign-in that a trusted browser
// excused from the second factor: it passes sign-in, never step-up.
const TrustedDevice = "trusted-device"

// assurance is how strongly the session's holder proved who they are:
// the kind of session, whether they have a second factor at all, and the
// session's last proof of one.
func (a *Authenticator) assurance(ctx context.Context, s *store.Session) (authz.Assurance, error) {
	as := authz.Assurance{Credential: authz.CredentialCLISession}
	if s.Kind == KindWeb {
		as.Credential = authz.CredentialWebSession
	}
	ms, err := a.store.ListMFAMethods(ctx, s.UserID)
	if err != nil {
		return as, errors.Join(ErrStoreUnavailable, err)
	}
	as.Enrolled = len(ms) > 0
	as.SignedIn = s.MFAMethod != "" && !s.MFAAt.IsZero()
	if s.MFAMethod != TrustedDevice {
		as.MFAMethod, as.MFAAt = s.MFAMethod, s.MFAAt
	}
	return as, nil
}
