package authn_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestSessions(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		kind  string
		steps func(t *testing.T, f *fixture, a *authn.Authenticator, c *clock, tok string, s *store.Session)
	}{
		{"web idle timeout", authn.KindWeb, func(t *testing.T, f *fixture, a *authn.Authenticator, c *clock, tok string, _ *store.Session) {
			for range 5 { // activity keeps it alive past the idle limit
				c.advance(20 * time.Minute)
				wantSession(t, a, tok, "")
			}
			c.advance(31 * time.Minute)
			wantSession(t, a, tok, authz.ReasonSessionExpired)
		}},
		{"web idle seen by another replica", authn.KindWeb, func(t *testing.T, f *fixture, a *authn.Authenticator, c *clock, tok string, _ *store.Session) {
			c.advance(20 * time.Minute)
			wantSession(t, a, tok, "")
			if err := a.FlushLastUsed(ctx); err != nil {
				t.Fatal(err)
			}
			b := authn.New(f.st, 0, nil) // a second gateway process
			b.SetClock(c.now)
			c.advance(20 * time.Minute) // 40 min after start, 20 after last use
			wantSession(t, b, tok, "")
		}},
		{"web absolute lifetime", authn.KindWeb, func(t *testing.T, f *fixture, a *authn.Authenticator, c *clock, tok string, _ *store.Session) {
			for range 24 {
				c.advance(29 * time.Minute)
				wantSession(t, a, tok, "")
			}
			c.advance(29 * time.Minute) // 12h25m
			wantSession(t, a, tok, authz.ReasonSessionExpired)
		}},
		{"cli lasts 30 days without idle limit", authn.KindCLI, func(t *testing.T, f *fixture, a *authn.Authenticator, c *clock, tok string, _ *store.Session) {
			c.advance(29 * 24 * time.Hour)
			wantSession(t, a, tok, "")
			c.advance(25 * time.Hour)
			wantSession(t, a, tok, authz.ReasonSessionExpired)
		}},
		{"revoked", authn.KindCLI, func(t *testing.T, f *fixture, a *authn.Authenticator, c *clock, tok string, s *store.Session) {
			wantSession(t, a, tok, "")
			if err := a.RevokeSession(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
			wantSession(t, a, tok, authz.ReasonSessionRevoked)
		}},
		{"all of a user's sessions revoked", authn.KindWeb, func(t *testing.T, f *fixture, a *authn.Authenticator, c *clock, tok string, s *store.Session) {
			if _, err := f.st.RevokeUserSessions(ctx, s.UserID, time.Time{}); err != nil {
				t.Fatal(err)
			}
			a.Invalidate()
			wantSession(t, a, tok, authz.ReasonSessionRevoked)
		}},
		{"user disabled", authn.KindCLI, func(t *testing.T, f *fixture, a *authn.Authenticator, c *clock, tok string, s *store.Session) {
			u, _ := f.st.GetUser(ctx, s.UserID)
			u.Disabled = true
			if err := f.st.UpdateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			a.Invalidate()
			wantSession(t, a, tok, authz.ReasonUserDisabled)
		}},
		{"unknown session token", authn.KindWeb, func(t *testing.T, f *fixture, a *authn.Authenticator, c *clock, tok string, s *store.Session) {
			other, _ := authn.NewSessionToken()
			wantSession(t, a, other, authz.ReasonInvalidCredential)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.user("dana@example.com", authz.RoleDeployer)
			c := &clock{t: time.Now()}
			a := authn.New(f.st, 0, nil)
			a.SetClock(c.now)
			s := &store.Session{UserID: u.ID, Kind: tc.kind}
			tok, err := a.StartSession(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if len(tok) < 40 || tok[:5] != authn.SessionPrefix {
				t.Fatalf("session token %q", tok)
			}
			res, err := a.Authenticate(ctx, "Bearer "+tok)
			if err != nil || res.Principal == nil || res.Principal.SessionID != s.ID || res.Principal.Email != u.Email ||
				res.Principal.Kind != authz.KindUser || res.Principal.SessionKind != tc.kind {
				t.Fatalf("authenticate: %+v %v", res, err)
			}
			wantCred := map[string]authz.Credential{authn.KindWeb: authz.CredentialWebSession, authn.KindCLI: authz.CredentialCLISession}[tc.kind]
			if got := res.Principal.Assurance; got.Credential != wantCred || got.MFAMethod != "" || !got.MFAAt.IsZero() || got.MFAThisRequest {
				t.Fatalf("assurance of a %s session = %+v, want credential %s and no second factor", tc.kind, got, wantCred)
			}
			tc.steps(t, f, a, c, tok, s)
		})
	}
}

func wantSession(t *testing.T, a *authn.Authenticator, tok string, reason authz.Reason) {
	t.Helper()
	res, err := a.AuthenticateToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if reason == "" && res.Principal == nil {
		t.Fatalf("session refused: %s", res.Reason)
	}
	if reason != "" && (res.Principal != nil || res.Reason != reason) {
		t.Fatalf("session: principal %v reason %q, want refused with %q", res.Principal != nil, res.Reason, reason)
	}
	// A known session that is refused names its holder for the audit
	// record; an unknown token names nobody.
	switch {
	case reason == authz.ReasonInvalidCredential && res.Holder != nil:
		t.Fatalf("unknown token has a holder: %+v", res.Holder)
	case reason != "" && reason != authz.ReasonInvalidCredential &&
		(res.Holder == nil || res.Holder.Email != "dana@example.com" || res.Holder.SessionID == 0 || res.Holder.Role != authz.RoleDeployer):
		t.Fatalf("refused (%s) session's holder = %+v, want dana@example.com's session", reason, res.Holder)
	}
}
