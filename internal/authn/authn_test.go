package authn_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestCredential(t *testing.T) {
	cases := []struct {
		name   string
		header string
		want   string
		err    error // nil: success; ErrNoCredentials; errAny: some other error
	}{
		{"basic convox user", "Basic " + b64("convox:rgw_abc"), "rgw_abc", nil},
		{"basic jwt user", "Basic " + b64("jwt:rgw_abc"), "rgw_abc", nil},
		{"basic any user", "Basic " + b64("alice@example.com:tok"), "tok", nil},
		{"basic empty user", "Basic " + b64(":tok"), "tok", nil},
		{"basic colon in password", "Basic " + b64("convox:a:b:c"), "a:b:c", nil},
		{"basic lower-case scheme", "basic " + b64("convox:tok"), "tok", nil},
		{"basic upper-case scheme", "BASIC " + b64("convox:tok"), "tok", nil},
		{"basic surrounding space", "Basic   " + b64("convox:tok") + "  ", "tok", nil},
		{"bearer", "Bearer rgw_abc", "rgw_abc", nil},
		{"bearer lower-case", "bearer rgw_abc", "rgw_abc", nil},
		{"bearer trimmed", "Bearer   rgw_abc  ", "rgw_abc", nil},
		{"empty header", "", "", authn.ErrNoCredentials},
		{"basic empty password", "Basic " + b64("convox:"), "", authn.ErrNoCredentials},
		{"basic no colon", "Basic " + b64("rgw_abc"), "", authn.ErrNoCredentials},
		{"basic empty", "Basic " + b64(""), "", authn.ErrNoCredentials},
		{"bearer empty", "Bearer ", "", authn.ErrNoCredentials},
		{"bearer blank", "Bearer    ", "", authn.ErrNoCredentials},
		{"basic malformed base64", "Basic !!!not-base64!!!", "", errAny},
		{"basic url-safe base64", "Basic " + base64.URLEncoding.EncodeToString([]byte("convox:>>>?")), "", errAny},
		{"scheme without value", "Bearer", "", errAny},
		{"token without scheme", "rgw_abc", "", errAny},
		{"digest", "Digest username=x", "", errAny},
		{"token scheme", "Token rgw_abc", "", errAny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := authn.Credential(tc.header)
			switch {
			case tc.err == nil:
				if err != nil || got != tc.want {
					t.Errorf("Credential(%q) = %q, %v; want %q", tc.header, got, err, tc.want)
				}
			case tc.err == errAny:
				if err == nil || errors.Is(err, authn.ErrNoCredentials) {
					t.Errorf("Credential(%q) = %q, %v; want a malformed-credential error", tc.header, got, err)
				}
				if got != "" {
					t.Errorf("Credential(%q) returned %q with an error", tc.header, got)
				}
			default:
				if !errors.Is(err, tc.err) {
					t.Errorf("Credential(%q) = %q, %v; want %v", tc.header, got, err, tc.err)
				}
			}
		})
	}
}

var errAny = errors.New("any error")

var tokenRE = regexp.MustCompile(`^rgw_[A-Za-z0-9_-]{43}$`)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		tok, hash := authn.NewToken()
		if !tokenRE.MatchString(tok) {
			t.Fatalf("token %q does not match %s", tok, tokenRE)
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok[len(authn.TokenPrefix):])
		if err != nil || len(raw) != 32 {
			t.Fatalf("token body: %d bytes, %v", len(raw), err)
		}
		sum := sha256.Sum256([]byte(tok))
		if !bytes.Equal(hash, sum[:]) {
			t.Fatalf("hash is not sha256(token)")
		}
		if !bytes.Equal(authn.HashToken(tok), hash) {
			t.Fatalf("HashToken disagrees with NewToken")
		}
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
}

func TestDisplayPrefix(t *testing.T) {
	cases := []struct{ in, want string }{
		{"rgw_abcdefghijk", "rgw_abcdef"},
		{"rgw_abcdef", "rgw_abcdef"},
		{"rgw_abc", "rgw_"},
		{"", "rgw_"},
	}
	for _, tc := range cases {
		if got := authn.DisplayPrefix(tc.in); got != tc.want {
			t.Errorf("DisplayPrefix(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// fixture is a real SQLite store with helpers to add users and tokens.
type fixture struct {
	t  *testing.T
	st store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := storeopen.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &fixture{t: t, st: st}
}

func (f *fixture) user(email, role string) *store.User {
	f.t.Helper()
	u := &store.User{Email: email, Name: email, Role: role}
	if err := f.st.CreateUser(context.Background(), u); err != nil {
		f.t.Fatalf("create user: %v", err)
	}
	return u
}

func (f *fixture) token(u *store.User, name string, perms []string, mod func(*store.APIToken)) (string, *store.APIToken) {
	f.t.Helper()
	tok, hash := authn.NewToken()
	at := &store.APIToken{Name: name, Prefix: authn.DisplayPrefix(tok), Hash: hash, UserID: u.ID, Permissions: perms}
	if mod != nil {
		mod(at)
	}
	if err := f.st.CreateToken(context.Background(), at); err != nil {
		f.t.Fatalf("create token: %v", err)
	}
	return tok, at
}

func bearer(tok string) string { return "Bearer " + tok }

func basicAuth(tok string) string { return "Basic " + b64("convox:"+tok) }

func TestAuthenticateOutcomes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	alice := f.user("alice@example.com", authz.RoleDeployer)
	bob := f.user("bob@example.com", authz.RoleViewer)
	valid, validT := f.token(alice, "ci", []string{"app:read", "env:read"}, nil)
	revoked, revokedT := f.token(alice, "old", []string{"app:read"}, nil)
	if err := f.st.RevokeToken(ctx, revokedT.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	expired, _ := f.token(alice, "exp", []string{"app:read"}, func(a *store.APIToken) {
		a.ExpiresAt = time.Now().Add(-time.Minute)
	})
	future, _ := f.token(alice, "future", []string{"app:read"}, func(a *store.APIToken) {
		a.ExpiresAt = time.Now().Add(time.Hour)
	})
	bobTok, _ := f.token(bob, "bob", []string{"app:read"}, nil)
	bob.Disabled = true
	if err := f.st.UpdateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	orphan, _ := f.token(alice, "orphan", []string{"app:read"}, func(a *store.APIToken) { a.UserID = 0 })
	// A permission the code no longer knows is dropped, never widened.
	stale, _ := f.token(alice, "stale", []string{"app:read", "app:fly"}, nil)
	unknown, _ := authn.NewToken()

	for _, ttl := range []time.Duration{0, time.Minute} {
		a := authn.New(f.st, ttl, nil)
		cases := []struct {
			name   string
			header string
			reason authz.Reason // "" = authenticated
			holder string       // refused: whose token it is, as the audit names it
		}{
			{"valid bearer", bearer(valid), "", ""},
			{"valid basic convox", basicAuth(valid), "", ""},
			{"valid basic jwt", "Basic " + b64("jwt:"+valid), "", ""},
			{"not yet expired", bearer(future), "", ""},
			{"unknown", bearer(unknown), authz.ReasonInvalidCredential, ""},
			{"garbage", bearer("not-a-token"), authz.ReasonInvalidCredential, ""},
			{"revoked", bearer(revoked), authz.ReasonTokenRevoked, "alice@example.com"},
			{"expired", bearer(expired), authz.ReasonTokenExpired, "alice@example.com"},
			{"disabled owner", bearer(bobTok), authz.ReasonUserDisabled, "bob@example.com"},
			{"no owner", bearer(orphan), authz.ReasonInvalidCredential, ""},
			{"no header", "", authz.ReasonUnauthenticated, ""},
			{"empty password", "Basic " + b64("convox:"), authz.ReasonUnauthenticated, ""},
			{"malformed basic", "Basic %%%", authz.ReasonInvalidCredential, ""},
			{"unsupported scheme", "Digest x", authz.ReasonInvalidCredential, ""},
		}
		for _, tc := range cases {
			// Twice: the second call may come from the cache and must agree.
			for round := 0; round < 2; round++ {
				res, err := a.Authenticate(ctx, tc.header)
				if err != nil {
					t.Fatalf("ttl %v %s: %v", ttl, tc.name, err)
				}
				if tc.reason == "" {
					if res.Principal == nil {
						t.Errorf("ttl %v %s round %d: not authenticated (%s)", ttl, tc.name, round, res.Reason)
					}
					continue
				}
				if res.Principal != nil || res.Reason != tc.reason {
					t.Errorf("ttl %v %s round %d: principal %v reason %q, want %q", ttl, tc.name, round, res.Principal, res.Reason, tc.reason)
				}
				switch {
				case tc.holder == "" && res.Holder != nil:
					t.Errorf("ttl %v %s round %d: holder %+v, want none", ttl, tc.name, round, res.Holder)
				case tc.holder != "" && (res.Holder == nil || res.Holder.Email != tc.holder || res.Holder.Kind != authz.KindToken || res.Holder.TokenID == 0):
					t.Errorf("ttl %v %s round %d: holder %+v, want %s's token", ttl, tc.name, round, res.Holder, tc.holder)
				}
			}
		}

		res, err := a.AuthenticateToken(ctx, valid)
		if err != nil || res.Principal == nil {
			t.Fatalf("valid token: %+v %v", res, err)
		}
		p := res.Principal
		if p.Kind != authz.KindToken || p.UserID != alice.ID || p.Email != "alice@example.com" ||
			p.Role != authz.RoleDeployer || p.TokenID != validT.ID || p.TokenName != "ci" || p.Disabled {
			t.Errorf("principal = %+v", p)
		}
		if p.TokenPerms != authz.NewSet(authz.AppRead, authz.EnvRead) {
			t.Errorf("TokenPerms = %v", p.TokenPerms.Strings())
		}
		if p.Assurance != (authz.Assurance{Credential: authz.CredentialAPIToken}) {
			t.Errorf("Assurance = %+v, want an API token without a second factor", p.Assurance)
		}
		if p.RackRole != nil {
			t.Errorf("RackRole = %v, want nil without bindings", p.RackRole)
		}
		if d := (&authz.Policy{}).Decide(authz.Request{Principal: p, Permission: authz.EnvRead, Rack: "dev"}); !d.Allow {
			t.Errorf("deployer token with env:read denied: %+v", d)
		}
		if d := (&authz.Policy{}).Decide(authz.Request{Principal: p, Permission: authz.BuildCreate, Rack: "dev"}); d.Allow || d.Reason != authz.ReasonTokenScope {
			t.Errorf("out-of-scope permission: %+v", d)
		}

		res, err = a.AuthenticateToken(ctx, stale)
		if err != nil || res.Principal == nil {
			t.Fatalf("stale token: %+v %v", res, err)
		}
		if res.Principal.TokenPerms != authz.NewSet(authz.AppRead) {
			t.Errorf("stale token perms = %v", res.Principal.TokenPerms.Strings())
		}
	}
}

func TestAuthenticateRoleBindings(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("carol@example.com", authz.RoleViewer)
	tok, _ := f.token(u, "t", authz.Universe().Strings(), nil)
	for _, b := range []store.RoleBinding{{UserID: u.ID, Rack: "prod", Role: authz.RoleOps}, {UserID: u.ID, Rack: "staging", Role: authz.RoleAdmin}} {
		if err := f.st.SetRoleBinding(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	a := authn.New(f.st, time.Minute, nil)
	res, err := a.AuthenticateToken(ctx, tok)
	if err != nil || res.Principal == nil {
		t.Fatalf("%+v %v", res, err)
	}
	p := res.Principal
	want := map[string]string{"prod": authz.RoleOps, "staging": authz.RoleAdmin}
	if len(p.RackRole) != 2 || p.RackRole["prod"] != want["prod"] || p.RackRole["staging"] != want["staging"] {
		t.Errorf("RackRole = %v, want %v", p.RackRole, want)
	}
	for rack, role := range map[string]string{"prod": authz.RoleOps, "staging": authz.RoleAdmin, "other": authz.RoleViewer} {
		if got := p.RoleOn(rack); got != role {
			t.Errorf("RoleOn(%s) = %q, want %q", rack, got, role)
		}
	}
	if pol := (&authz.Policy{}); !pol.Allowed(p, authz.ServiceRestart, "prod") || pol.Allowed(p, authz.ServiceRestart, "other") {
		t.Errorf("bindings not applied to decisions")
	}

	// A binding removed in the store shows after Invalidate.
	if err := f.st.SetRoleBinding(ctx, store.RoleBinding{UserID: u.ID, Rack: "staging"}); err != nil {
		t.Fatal(err)
	}
	a.Invalidate()
	res, _ = a.AuthenticateToken(ctx, tok)
	if res.Principal == nil || len(res.Principal.RackRole) != 1 || res.Principal.RackRole["prod"] != authz.RoleOps {
		t.Errorf("after removing a binding: %+v", res.Principal)
	}
}

func TestAuthenticateCacheAndInvalidate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("dave@example.com", authz.RoleOps)
	tok, at := f.token(u, "t", []string{"app:read"}, nil)

	a := authn.New(f.st, time.Hour, nil)
	if res, err := a.AuthenticateToken(ctx, tok); err != nil || res.Principal == nil {
		t.Fatalf("first: %+v %v", res, err)
	}
	// Revoked behind the authenticator's back: the cached principal is
	// trusted until the TTL or an Invalidate.
	if err := f.st.RevokeToken(ctx, at.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
		t.Fatalf("cached principal dropped without Invalidate: %+v", res)
	}
	a.Invalidate()
	res, err := a.AuthenticateToken(ctx, tok)
	if err != nil || res.Principal != nil || res.Reason != authz.ReasonTokenRevoked {
		t.Fatalf("after Invalidate: %+v %v, want token_revoked", res, err)
	}
	// The revocation is now cached as a negative entry, and stays revoked.
	if res, _ := a.AuthenticateToken(ctx, tok); res.Reason != authz.ReasonTokenRevoked {
		t.Errorf("second revoked lookup: %+v", res)
	}

	// A disabled owner is caught after Invalidate too.
	tok2, _ := f.token(u, "t2", []string{"app:read"}, nil)
	if res, _ := a.AuthenticateToken(ctx, tok2); res.Principal == nil {
		t.Fatal("t2 not valid")
	}
	u.Disabled = true
	if err := f.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	a.Invalidate()
	if res, _ := a.AuthenticateToken(ctx, tok2); res.Principal != nil || res.Reason != authz.ReasonUserDisabled {
		t.Errorf("disabled after Invalidate: %+v", res)
	}

	// With caching disabled every call reads the store.
	u2 := f.user("erin@example.com", authz.RoleOps)
	tok3, at3 := f.token(u2, "t3", []string{"app:read"}, nil)
	nc := authn.New(f.st, 0, nil)
	if res, _ := nc.AuthenticateToken(ctx, tok3); res.Principal == nil {
		t.Fatal("t3 not valid")
	}
	if err := f.st.RevokeToken(ctx, at3.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if res, _ := nc.AuthenticateToken(ctx, tok3); res.Reason != authz.ReasonTokenRevoked {
		t.Errorf("ttl 0 served a stale principal: %+v", res)
	}
}

func TestAuthenticateCacheTTLExpires(t *testing.T) {
	// Another replica's revocation is seen once the cache entry ages out.
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("kim@example.com", authz.RoleOps)
	tok, at := f.token(u, "t", []string{"app:read"}, nil)
	c := &clock{t: time.Now()}
	a := authn.New(f.st, 300*time.Millisecond, nil)
	a.SetClock(c.now)
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
		t.Fatal("not valid")
	}
	if err := f.st.RevokeToken(ctx, at.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.advance(299 * time.Millisecond) // within the TTL the cached principal is served
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
		t.Fatalf("within the TTL: %+v, want the cached principal", res)
	}
	c.advance(2 * time.Millisecond)
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal != nil || res.Reason != authz.ReasonTokenRevoked {
		t.Errorf("after the TTL: %+v, want token_revoked", res)
	}
}

func TestAuthenticateExpiryNotCached(t *testing.T) {
	// A token expiring soon must stop working at its expiry even while its
	// cache entry is fresh.
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("frank@example.com", authz.RoleViewer)
	c := &clock{t: time.Now()}
	tok, _ := f.token(u, "short", []string{"app:read"}, func(a *store.APIToken) {
		a.ExpiresAt = c.now().Add(1500 * time.Millisecond)
	})
	a := authn.New(f.st, time.Hour, nil)
	a.SetClock(c.now)
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
		t.Fatalf("not valid before expiry: %+v", res)
	}
	c.advance(1499 * time.Millisecond)
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
		t.Fatalf("not valid just before expiry: %+v", res)
	}
	c.advance(2 * time.Millisecond) // past expiry, the cache entry still fresh
	res, err := a.AuthenticateToken(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if res.Principal != nil || res.Reason != authz.ReasonTokenExpired {
		t.Fatalf("after expiry: %+v, want token_expired (served from cache?)", res)
	}
}

func TestFlushLastUsed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("gina@example.com", authz.RoleViewer)
	tok, at := f.token(u, "t", []string{"app:read"}, nil)
	idle, idleT := f.token(u, "idle", []string{"app:read"}, nil)
	_ = idle

	a := authn.New(f.st, time.Minute, nil)
	// Nothing recorded: flush is a no-op.
	if err := a.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	for i := 0; i < 3; i++ {
		if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
			t.Fatal("not valid")
		}
	}
	got, err := f.st.GetToken(ctx, at.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastUsedAt.IsZero() {
		t.Errorf("LastUsedAt written before a flush: %v", got.LastUsedAt)
	}
	if err := a.FlushLastUsed(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	got, err = f.st.GetToken(ctx, at.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt.IsZero() || got.LastUsedAt.Before(before) || got.LastUsedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("LastUsedAt = %v, want about now", got.LastUsedAt)
	}
	if g, _ := f.st.GetToken(ctx, idleT.ID); !g.LastUsedAt.IsZero() {
		t.Errorf("unused token got LastUsedAt %v", g.LastUsedAt)
	}
	// Refused tokens are never marked used.
	if err := f.st.RevokeToken(ctx, idleT.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	a.Invalidate()
	_, _ = a.AuthenticateToken(ctx, idle)
	if err := a.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if g, _ := f.st.GetToken(ctx, idleT.ID); !g.LastUsedAt.IsZero() {
		t.Errorf("revoked token marked used: %v", g.LastUsedAt)
	}
}

func TestRunLastUsedFlusher(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("hank@example.com", authz.RoleViewer)
	tok, at := f.token(u, "t", []string{"app:read"}, nil)
	a := authn.New(f.st, time.Minute, nil)
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
		t.Fatal("not valid")
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.RunLastUsedFlusher(rctx, time.Hour) }()
	// Cancelling flushes once more before returning.
	cancel()
	wg.Wait()
	got, err := f.st.GetToken(ctx, at.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt.IsZero() {
		t.Error("final flush on cancel did not write LastUsedAt")
	}
}

func TestAuthenticateFailsClosedWhenStoreCloses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("ivy@example.com", authz.RoleAdmin)
	tok, _ := f.token(u, "t", []string{"app:read"}, nil)
	a := authn.New(f.st, time.Minute, nil)
	nc := authn.New(f.st, 0, nil)
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]*authn.Authenticator{"cached": a, "uncached": nc} {
		for _, header := range []string{bearer(tok), basicAuth(tok)} {
			res, err := auth.Authenticate(ctx, header)
			if err == nil {
				t.Errorf("%s: no error with the store closed: %+v", name, res)
			}
			if !errors.Is(err, authn.ErrStoreUnavailable) {
				t.Errorf("%s: error %v is not ErrStoreUnavailable", name, err)
			}
			if res.Principal != nil {
				t.Errorf("%s: authenticated with the store closed", name)
			}
		}
		// The failure is not cached as a verdict either.
		if res, err := auth.AuthenticateToken(ctx, tok); err == nil || res.Principal != nil {
			t.Errorf("%s: second try: %+v %v", name, res, err)
		}
		// Unknown tokens fail closed too, not as "invalid".
		other, _ := authn.NewToken()
		if _, err := auth.AuthenticateToken(ctx, other); err == nil {
			t.Errorf("%s: unknown token with the store closed: no error", name)
		}
	}
	// Missing credentials need no store.
	if res, _ := authn.New(f.st, 0, nil).Authenticate(ctx, ""); res.Reason != authz.ReasonUnauthenticated {
		t.Errorf("no credentials with store closed: %+v", res)
	}
}

func TestFlushLastUsedStoreClosed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("jay@example.com", authz.RoleViewer)
	tok, _ := f.token(u, "t", []string{"app:read"}, nil)
	a := authn.New(f.st, time.Minute, nil)
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
		t.Fatal("not valid")
	}
	_ = f.st.Close()
	if err := a.FlushLastUsed(ctx); err == nil {
		t.Error("FlushLastUsed with the store closed returned nil")
	}
}

// countingStore counts token lookups that reach the database.
type countingStore struct {
	store.Store
	lookups atomic.Int64
}

func (s *countingStore) GetTokenByHash(ctx context.Context, hash []byte) (*store.APIToken, error) {
	s.lookups.Add(1)
	return s.Store.GetTokenByHash(ctx, hash)
}

// A flood of random tokens cannot push real credentials out of the cache
// (it used to clear the whole cache past 100,000 entries), and memory for
// unknown tokens stays bounded.
func TestCacheResistsRandomTokenFlood(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("flood@example.com", authz.RoleViewer)
	tok, _ := f.token(u, "real", []string{"app:read"}, nil)
	cs := &countingStore{Store: f.st}
	a := authn.New(cs, time.Hour, nil)
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
		t.Fatal("not valid")
	}
	for range 3 * 10_000 {
		junk, _ := authn.NewToken()
		if res, err := a.AuthenticateToken(ctx, junk); err != nil || res.Principal != nil || res.Reason != authz.ReasonInvalidCredential {
			t.Fatalf("random token: %+v %v", res, err)
		}
	}
	before := cs.lookups.Load()
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal == nil {
		t.Fatal("the real token stopped working")
	}
	if cs.lookups.Load() != before {
		t.Error("the flood evicted the real token's cache entry: it went back to the database")
	}
	if n := a.UnknownCached(); n > 10_000 {
		t.Errorf("%d unknown tokens cached, want at most 10000", n)
	}
}

// Recheck reads the store even when the cache holds the credential, so a
// revocation made elsewhere (another replica) is seen at once.
func TestRecheckBypassesCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("recheck@example.com", authz.RoleOps)
	tok, at := f.token(u, "t", []string{"app:read"}, nil)
	a := authn.New(f.st, time.Hour, nil)
	if res, _ := a.Authenticate(ctx, bearer(tok)); res.Principal == nil {
		t.Fatal("not valid")
	}
	if err := f.st.RevokeToken(ctx, at.ID, time.Time{}); err != nil { // as another replica would
		t.Fatal(err)
	}
	if res, _ := a.Authenticate(ctx, bearer(tok)); res.Principal == nil {
		t.Fatal("setup: the cached entry should still be served")
	}
	res, err := a.Recheck(ctx, bearer(tok))
	if err != nil || res.Principal != nil || res.Reason != authz.ReasonTokenRevoked {
		t.Fatalf("Recheck after revocation: %+v %v", res, err)
	}
	// The cache now holds the fresh answer too.
	if res, _ := a.Authenticate(ctx, bearer(tok)); res.Principal != nil {
		t.Error("Recheck did not refresh the cache")
	}
	var calls int
	a.OnInvalidate(func() { calls++ })
	a.Invalidate()
	if calls != 1 {
		t.Errorf("OnInvalidate hook ran %d times", calls)
	}
}

// pausingStore holds the next token lookup after reading until released:
// a load racing an Invalidate.
type pausingStore struct {
	store.Store
	read, release chan struct{}
	once          sync.Once
}

func (s *pausingStore) GetTokenByHash(ctx context.Context, hash []byte) (*store.APIToken, error) {
	t, err := s.Store.GetTokenByHash(ctx, hash)
	s.once.Do(func() {
		close(s.read)
		<-s.release
	})
	return t, err
}

// A load that read the store before an Invalidate must not put what it
// read in the cache afterwards: the change that asked for the
// invalidation (a revocation, a step-up window aged) would be undone for
// the cache's TTL. Found as a flaky step-up test under load.
func TestInvalidateWinsOverALoadInFlight(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user("race@example.com", authz.RoleOps)
	tok, at := f.token(u, "t", []string{"app:read"}, nil)
	ps := &pausingStore{Store: f.st, read: make(chan struct{}), release: make(chan struct{})}
	a := authn.New(ps, time.Hour, nil)
	done := make(chan authn.Result)
	go func() {
		res, _ := a.AuthenticateToken(ctx, tok) // reads the token as valid, then waits
		done <- res
	}()
	<-ps.read
	if err := f.st.RevokeToken(ctx, at.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	a.Invalidate()
	close(ps.release)
	if res := <-done; res.Principal == nil {
		t.Fatalf("the load in flight answered from what it read: %+v", res)
	}
	if res, _ := a.AuthenticateToken(ctx, tok); res.Principal != nil || res.Reason != authz.ReasonTokenRevoked {
		t.Fatalf("after the Invalidate the stale load was served from the cache: %+v", res)
	}
}
