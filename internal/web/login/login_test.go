package login

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/devidp"
	"github.com/rack-gateway/rack-gateway/internal/limits"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
	"github.com/rack-gateway/rack-gateway/internal/web/websession"
)

// env is one gateway login handler against a real devidp provider, a real
// SQLite store, authenticator and auditor.
type env struct {
	t      *testing.T
	idp    *devidp.Provider
	issuer string
	srv    *httptest.Server
	h      *Handler
	st     *sqlite.Store
	an     *authn.Authenticator
	au     *audit.Auditor
	skew   atomic.Int64 // added to the handler's clock
	logs   lockedBuffer // the handler's log output
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type envOpts struct {
	oidc    func(*config.OIDC)
	options func(*Options)
}

const testSecret = "rgw-test-secret"

func testIdPUsers() []devidp.User {
	return append(devidp.DemoUsers(),
		devidp.User{Email: "unverified@example.com", Name: "Unverified", HD: "example.com", EmailVerified: false},
		devidp.User{Email: "bob@other.example", Name: "Bob Other", HD: "other.example", EmailVerified: true},
		devidp.User{Email: "consumer@example.com", Name: "No Workspace", EmailVerified: true},
		devidp.User{Email: "wronghd@example.com", Name: "Wrong HD", HD: "other.example", EmailVerified: true},
		devidp.User{Email: "disabled@example.com", Name: "Disabled", HD: "example.com", EmailVerified: true},
		devidp.User{Email: "stranger@example.com", Name: "Stranger", HD: "example.com", EmailVerified: true},
		devidp.User{Email: "newbie@auto.example", Name: "New Person", HD: "auto.example", EmailVerified: true},
		devidp.User{Email: "grouped@example.com", Name: "Grouped", HD: "example.com", EmailVerified: true,
			Groups: []string{"unmapped", "devs", "platform-admins"}},
	)
}

func newEnv(t *testing.T, eo envOpts) *env {
	t.Helper()
	e := &env{t: t}
	var hp atomic.Pointer[Handler]
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hp.Load().ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)

	idp, err := devidp.New(devidp.Config{
		Users:       testIdPUsers(),
		Clients:     map[string]devidp.Client{"rgw-test": {Secret: testSecret, RedirectURIs: []string{e.srv.URL + "/auth/callback"}}},
		AutoApprove: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.idp = idp
	e.issuer, err = idp.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })

	e.st, err = sqlite.Open(filepath.Join(t.TempDir(), "rgw.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	e.an = authn.New(e.st, 0, quiet)
	e.au = audit.New(e.st, quiet, nil)
	go e.au.Run()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.au.Close(cctx)
		_ = e.st.Close()
	})

	for _, u := range []store.User{
		{Email: "admin@example.com", Role: "admin"},
		{Email: "viewer@example.com", Role: "viewer"},
		{Email: "deployer@example.com", Role: "deployer"},
		{Email: "unverified@example.com", Role: "viewer"},
		{Email: "bob@other.example", Role: "viewer"},
		{Email: "consumer@example.com", Role: "viewer"},
		{Email: "wronghd@example.com", Role: "viewer"},
		{Email: "disabled@example.com", Role: "viewer", Disabled: true},
		{Email: "grouped@example.com", Role: "viewer"},
	} {
		u := u
		if err := e.st.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}

	oc := config.OIDC{
		Issuer: e.issuer, ClientID: "rgw-test", ClientSecret: testSecret,
		AllowedDomains: []string{"example.com", "auto.example"},
		DefaultRole:    "viewer",
	}
	if eo.oidc != nil {
		eo.oidc(&oc)
	}
	o := Options{
		PublicURL: e.srv.URL, OIDC: oc, Store: e.st, Authn: e.an, Audit: e.au,
		Log:          slog.New(slog.NewTextHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) },
		HostedDomain: true,
	}
	if eo.options != nil {
		eo.options(&o)
	}
	e.h, err = New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	hp.Store(e.h)
	return e
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each hop can be checked.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type resp struct {
	status   int
	location string
	body     string
	header   http.Header
}

func do(t *testing.T, c *http.Client, req *http.Request) resp {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, location: res.Header.Get("Location"), body: string(b), header: res.Header}
}

func get(t *testing.T, c *http.Client, u string) resp {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values, hdr map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, c, req)
}

// startWeb begins a web login and returns the IdP authorization URL.
func (e *env) startWeb(c *http.Client, email, returnTo string) *url.URL {
	e.t.Helper()
	q := url.Values{"return_to": {returnTo}, "login_hint": {email}}
	r := get(e.t, c, e.srv.URL+"/auth/login?"+q.Encode())
	if r.status != http.StatusFound {
		e.t.Fatalf("/auth/login: status %d, want 302; body %s", r.status, r.body)
	}
	u, err := url.Parse(r.location)
	if err != nil || !strings.HasPrefix(r.location, e.issuer+"/authorize?") {
		e.t.Fatalf("/auth/login redirects to %q, want the IdP", r.location)
	}
	return u
}

// authorize lets the IdP approve and returns the callback URL it redirects to.
func (e *env) authorize(c *http.Client, authURL *url.URL) string {
	e.t.Helper()
	r := get(e.t, c, authURL.String())
	if r.status != http.StatusFound || !strings.HasPrefix(r.location, e.srv.URL+"/auth/callback?") {
		e.t.Fatalf("IdP authorize: status %d location %q body %s", r.status, r.location, r.body)
	}
	return r.location
}

// webLogin runs a whole web login and returns the callback's response.
func (e *env) webLogin(c *http.Client, email, returnTo string) resp {
	e.t.Helper()
	cb := e.authorize(c, e.startWeb(c, email, returnTo))
	return get(e.t, c, cb)
}

func (e *env) sessionCookie(c *http.Client) string {
	u, _ := url.Parse(e.srv.URL + "/")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == websession.CookieName {
			return ck.Value
		}
	}
	return ""
}

func (e *env) loginCookie(c *http.Client) string {
	u, _ := url.Parse(e.srv.URL + "/auth/callback")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == loginCookie {
			return ck.Value
		}
	}
	return ""
}

// whoami authenticates a session cookie value as the console would.
func (e *env) whoami(cookie string) (email, kind string) {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: cookie})
	}
	res, err := websession.Authenticate(context.Background(), e.an, req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Principal == nil {
		return "", string(res.Reason)
	}
	return res.Principal.Email, res.Principal.SessionKind
}

// events returns the audit events of an action, oldest first, after
// flushing the auditor.
func (e *env) events(action string) []chain.Event {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.au.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
	evs, err := e.st.ListAudit(ctx, store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// mustAudit finds an event with this action, decision and reason.
func (e *env) mustAudit(action, decision, reason string) chain.Event {
	e.t.Helper()
	for _, ev := range e.events(action) {
		if ev.Decision == decision && ev.Reason == reason {
			return ev
		}
	}
	e.t.Fatalf("no audit event %s/%s/%s; have %+v", action, decision, reason, e.events(action))
	return chain.Event{}
}

// noSecrets checks that audit events and logs never carry codes, states,
// verifiers or tokens.
func (e *env) noSecrets(secrets ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			e.t.Fatalf("logs contain a secret:\n%s", logs)
		}
	}
	ctx := context.Background()
	if err := e.au.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
	evs, err := e.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range evs {
		blob, _ := json.Marshal(ev)
		for _, s := range secrets {
			if s != "" && bytes.Contains(blob, []byte(s)) {
				e.t.Fatalf("audit event %d contains a secret: %s", ev.ID, blob)
			}
		}
	}
}

func TestNewDiscoveryError(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "rgw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := audit.New(st, nil, nil)
	_, err = New(context.Background(), Options{
		PublicURL: "http://127.0.0.1:1",
		OIDC:      config.OIDC{Issuer: "http://127.0.0.1:1", ClientID: "x", ClientSecret: "y"},
		Store:     st, Authn: authn.New(st, 0, nil), Audit: a,
	})
	if err == nil || !strings.Contains(err.Error(), "RGW_OIDC_ISSUER") {
		t.Fatalf("New with an unreachable issuer: %v, want an error naming RGW_OIDC_ISSUER", err)
	}
	_, err = New(context.Background(), Options{
		PublicURL: "gateway.example.com",
		OIDC:      config.OIDC{Issuer: "http://127.0.0.1:1", ClientID: "x"},
		Store:     st, Authn: authn.New(st, 0, nil), Audit: a,
	})
	if err == nil || !strings.Contains(err.Error(), "RGW_PUBLIC_URL") {
		t.Fatalf("New with a bad public URL: %v", err)
	}
}

func TestWebLogin(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.browser()

	authURL := e.startWeb(c, "admin@example.com", "/apps/web?tab=env")
	q := authURL.Query()
	if len(q.Get("state")) < 43 || q.Get("nonce") == "" || q.Get("code_challenge_method") != "S256" ||
		len(q.Get("code_challenge")) != 43 || q.Get("redirect_uri") != e.srv.URL+"/auth/callback" ||
		q.Get("client_id") != "rgw-test" || q.Get("hd") != "example.com" || q.Get("login_hint") != "admin@example.com" {
		t.Fatalf("authorization URL params: %v", q)
	}
	bind := e.loginCookie(c)
	if id, mac, ok := strings.Cut(bind, "."); !ok || !isB64URL(id, 43, 43) || !isB64URL(mac, 22, 22) {
		t.Fatalf("rgw_login cookie %q", bind)
	}
	cb := e.authorize(c, authURL)
	cbURL, _ := url.Parse(cb)
	code := cbURL.Query().Get("code")
	r := get(t, c, cb)
	if r.status != http.StatusSeeOther || r.location != "/apps/web?tab=env" {
		t.Fatalf("callback: %d %q, want 303 to return_to; body %s", r.status, r.location, r.body)
	}
	setCookies := strings.Join(r.header.Values("Set-Cookie"), "\n")
	if !strings.Contains(setCookies, "rgw_session=") || !strings.Contains(setCookies, "HttpOnly") ||
		!strings.Contains(setCookies, "SameSite=Lax") || strings.Contains(setCookies, "Secure") {
		t.Fatalf("Set-Cookie: %s", setCookies)
	}
	if e.loginCookie(c) != "" {
		t.Fatal("rgw_login cookie not cleared after login")
	}
	tok := e.sessionCookie(c)
	if email, kind := e.whoami(tok); email != "admin@example.com" || kind != authn.KindWeb {
		t.Fatalf("session authenticates as %q %q", email, kind)
	}
	ev := e.mustAudit("login", "allow", "allowed")
	if ev.ActorType != "user" || ev.Actor != "admin@example.com" || !strings.Contains(ev.Details, `"kind":"web"`) {
		t.Fatalf("login audit event %+v", ev)
	}
	u, _ := e.st.GetUserByEmail(context.Background(), "admin@example.com")
	if u.LastLoginAt.IsZero() || u.Name != "Demo Admin" {
		t.Fatalf("user after login: %+v", u)
	}

	// The sign-in page now says who is signed in.
	page := get(t, c, e.srv.URL+"/auth/signin")
	if page.status != 200 || !strings.Contains(page.body, "You are signed in as <strong>admin@example.com</strong>") {
		t.Fatalf("signin page when signed in: %d %s", page.status, page.body)
	}

	// Logging in again rotates the session: new token, old one revoked.
	r = e.webLogin(c, "admin@example.com", "/")
	if r.status != http.StatusSeeOther {
		t.Fatalf("second login: %d %s", r.status, r.body)
	}
	tok2 := e.sessionCookie(c)
	if tok2 == tok || tok2 == "" {
		t.Fatal("session not rotated")
	}
	if _, reason := e.whoami(tok); reason != "session_revoked" {
		t.Fatalf("old session after re-login: %q, want session_revoked", reason)
	}
	if email, _ := e.whoami(tok2); email != "admin@example.com" {
		t.Fatal("new session does not authenticate")
	}
	e.noSecrets(tok, tok2, bind, code, q.Get("state"), q.Get("nonce"))
}

func TestWebLoginOpenRedirect(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, rt := range []string{"//evil.com", "https://evil.com/x", "/\\evil.com", "/%2F%2Fevil.com", "javascript:alert(1)"} {
		c := e.browser()
		r := e.webLogin(c, "viewer@example.com", rt)
		if r.status != http.StatusSeeOther || r.location != "/" {
			t.Errorf("return_to %q: %d %q, want 303 to /", rt, r.status, r.location)
		}
	}
	// The sign-in page's link carries only the sanitized value.
	page := get(t, e.browser(), e.srv.URL+"/auth/signin?return_to="+url.QueryEscape("//evil.com"))
	if strings.Contains(page.body, "evil.com") {
		t.Fatalf("sign-in page echoes a bad return_to: %s", page.body)
	}
}

// TestRefusals covers logins that must not produce a session; each is
// audited with its reason.
func TestRefusals(t *testing.T) {
	tests := []struct {
		name   string
		email  string
		mutate func(map[string]any)
		status int
		reason string
		text   string
	}{
		{name: "unknown user", email: "stranger@example.com", status: 403, reason: ReasonUnknownUser, text: "not known"},
		{name: "disabled user", email: "disabled@example.com", status: 403, reason: ReasonUserDisabled, text: "disabled"},
		{name: "unverified email", email: "unverified@example.com", status: 403, reason: ReasonEmailUnverified, text: "not verified"},
		{name: "other domain", email: "bob@other.example", status: 403, reason: ReasonDomainNotAllowed, text: "domain"},
		{name: "allowed email domain but no hd", email: "consumer@example.com", status: 403, reason: ReasonDomainNotAllowed},
		{name: "allowed email domain but wrong hd", email: "wronghd@example.com", status: 403, reason: ReasonDomainNotAllowed},
		{name: "hd forged to allowed, email elsewhere", email: "bob@other.example", status: 403, reason: ReasonDomainNotAllowed,
			mutate: func(c map[string]any) { c["hd"] = "example.com" }},
		{name: "email_verified as string false", email: "viewer@example.com", status: 403, reason: ReasonEmailUnverified,
			mutate: func(c map[string]any) { c["email_verified"] = "false" }},
		{name: "no email claim", email: "viewer@example.com", status: 403, reason: ReasonEmailMissing,
			mutate: func(c map[string]any) { delete(c, "email") }},
		{name: "bad nonce", email: "admin@example.com", status: 403, reason: ReasonBadNonce,
			mutate: func(c map[string]any) { c["nonce"] = "not-the-nonce" }},
		{name: "missing nonce", email: "admin@example.com", status: 403, reason: ReasonBadNonce,
			mutate: func(c map[string]any) { delete(c, "nonce") }},
		{name: "expired id token", email: "admin@example.com", status: 403, reason: ReasonInvalidIDToken,
			mutate: func(c map[string]any) {
				c["exp"] = time.Now().Add(-time.Hour).Unix()
				c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			}},
		{name: "wrong audience", email: "admin@example.com", status: 403, reason: ReasonInvalidIDToken,
			mutate: func(c map[string]any) { c["aud"] = "someone-else" }},
		{name: "wrong issuer", email: "admin@example.com", status: 403, reason: ReasonInvalidIDToken,
			mutate: func(c map[string]any) { c["iss"] = "https://accounts.google.com" }},
	}
	e := newEnv(t, envOpts{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.browser()
			authURL := e.startWeb(c, tt.email, "/")
			if tt.mutate != nil {
				e.idp.NextToken(tt.mutate)
			}
			r := get(t, c, e.authorize(c, authURL))
			if r.status != tt.status {
				t.Fatalf("callback: %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if !strings.Contains(r.header.Get("Content-Type"), "text/html") || (tt.text != "" && !strings.Contains(r.body, tt.text)) {
				t.Fatalf("refusal page: %s", r.body)
			}
			if tok := e.sessionCookie(c); tok != "" {
				t.Fatal("a refused login set a session cookie")
			}
			ev := e.mustAudit("login", "deny", tt.reason)
			if ev.Status != tt.status {
				t.Fatalf("audit status %d", ev.Status)
			}
		})
	}
	sessions, err := e.st.ListSessions(context.Background(), 0)
	if err != nil || len(sessions) != 0 {
		t.Fatalf("sessions after refusals: %v %v", sessions, err)
	}
	// The refusal for a known-but-disabled user names the user.
	ev := e.mustAudit("login", "deny", ReasonUserDisabled)
	if ev.ActorType != "user" || ev.Actor != "disabled@example.com" {
		t.Fatalf("disabled refusal actor: %+v", ev)
	}
	ev = e.mustAudit("login", "deny", ReasonUnknownUser)
	if ev.ActorType != "anonymous" || ev.Actor != "stranger@example.com" {
		t.Fatalf("unknown-user refusal actor: %+v", ev)
	}
}

func TestNoHostedDomainRuleWithoutGoogle(t *testing.T) {
	// Without the Google rules (a generic IdP), only the email domain counts.
	e := newEnv(t, envOpts{options: func(o *Options) { o.HostedDomain = false }})
	c := e.browser()
	authURL := e.startWeb(c, "consumer@example.com", "/")
	if authURL.Query().Has("hd") {
		t.Fatal("hd hint sent to a non-Google IdP")
	}
	if r := get(t, c, e.authorize(c, authURL)); r.status != http.StatusSeeOther {
		t.Fatalf("consumer@example.com without hd rules: %d %s", r.status, r.body)
	}
	if r := e.webLogin(e.browser(), "bob@other.example", "/"); r.status != http.StatusForbidden {
		t.Fatalf("other domain: %d", r.status)
	}
}

func TestStateReplayAndBrowserBinding(t *testing.T) {
	e := newEnv(t, envOpts{})

	// Login CSRF: a callback opened in another browser (no rgw_login
	// cookie) is refused, and does not spoil the real login.
	victim, attacker := e.browser(), e.browser()
	cb := e.authorize(attacker, e.startWeb(attacker, "admin@example.com", "/"))
	r := get(t, victim, cb)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "in this browser") {
		t.Fatalf("callback in another browser: %d %s", r.status, r.body)
	}
	if e.sessionCookie(victim) != "" {
		t.Fatal("victim got a session")
	}
	e.mustAudit("login", "deny", ReasonBrowserMismatch)
	// A wrong cookie value is refused too.
	req, _ := http.NewRequest(http.MethodGet, cb, nil)
	req.AddCookie(&http.Cookie{Name: loginCookie, Value: randomString()})
	if r := do(t, e.browser(), req); r.status != http.StatusBadRequest {
		t.Fatalf("callback with a wrong binding cookie: %d", r.status)
	}
	bind := e.loginCookie(attacker)
	if r := get(t, attacker, cb); r.status != http.StatusSeeOther {
		t.Fatalf("the starting browser's callback after a forged one: %d %s", r.status, r.body)
	}

	// Replay: the same callback URL with the right binding cookie again.
	req, _ = http.NewRequest(http.MethodGet, cb, nil)
	req.AddCookie(&http.Cookie{Name: loginCookie, Value: bind})
	r = do(t, e.browser(), req)
	if r.status != http.StatusBadRequest || strings.Contains(strings.Join(r.header.Values("Set-Cookie"), ";"), "rgw_session=rgws_") {
		t.Fatalf("replayed callback: %d %v", r.status, r.header)
	}
	e.mustAudit("login", "deny", ReasonStateReplayed)

	// Unknown state, missing state.
	if r := get(t, e.browser(), e.srv.URL+"/auth/callback?code=x&state="+randomString()); r.status != http.StatusBadRequest {
		t.Fatalf("unknown state: %d", r.status)
	}
	e.mustAudit("login", "deny", ReasonUnknownState)
	if r := get(t, e.browser(), e.srv.URL+"/auth/callback?code=x"); r.status != http.StatusBadRequest {
		t.Fatalf("no state: %d", r.status)
	}
	e.mustAudit("login", "deny", ReasonBadState)

	// An expired login request.
	c := e.browser()
	cb = e.authorize(c, e.startWeb(c, "admin@example.com", "/"))
	e.skew.Store(int64(11 * time.Minute))
	r = get(t, c, cb)
	e.skew.Store(0)
	if r.status != http.StatusBadRequest || e.sessionCookie(c) != "" {
		t.Fatalf("expired login: %d", r.status)
	}
	e.mustAudit("login", "deny", ReasonLoginExpired)

	// The IdP reports an error (user cancelled).
	c = e.browser()
	authURL := e.startWeb(c, "admin@example.com", "/")
	state := authURL.Query().Get("state")
	r = get(t, c, e.srv.URL+"/auth/callback?"+url.Values{"state": {state}, "error": {"access_denied"}}.Encode())
	if r.status != http.StatusForbidden {
		t.Fatalf("IdP error: %d", r.status)
	}
	ev := e.mustAudit("login", "deny", ReasonIdPError)
	if !strings.Contains(ev.Details, `"idp_error":"access_denied"`) {
		t.Fatalf("IdP error details: %s", ev.Details)
	}
	// The state is used up even by a failure.
	if r := get(t, c, e.authorize(c, authURL)); r.status != http.StatusBadRequest {
		t.Fatalf("state reused after an IdP error: %d", r.status)
	}

	// A forged code is refused by the IdP.
	c = e.browser()
	authURL = e.startWeb(c, "admin@example.com", "/")
	state = authURL.Query().Get("state")
	r = get(t, c, e.srv.URL+"/auth/callback?"+url.Values{"state": {state}, "code": {"forged"}}.Encode())
	if r.status != http.StatusBadGateway {
		t.Fatalf("forged code: %d", r.status)
	}
	e.mustAudit("login", "deny", ReasonExchangeFailed)
	e.noSecrets(state, bind)
}

func TestLogout(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.browser()
	if r := e.webLogin(c, "viewer@example.com", "/"); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	tok := e.sessionCookie(c)

	// A cross-site POST is refused and the session lives on.
	for _, hdr := range []map[string]string{
		{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		r := postForm(t, c, e.srv.URL+"/auth/logout", nil, hdr)
		if r.status != http.StatusForbidden {
			t.Fatalf("cross-site logout %v: %d", hdr, r.status)
		}
	}
	if email, _ := e.whoami(tok); email != "viewer@example.com" {
		t.Fatal("cross-site POST ended the session")
	}
	e.mustAudit("logout", "deny", ReasonCrossOrigin)

	// A same-origin POST ends it.
	r := postForm(t, c, e.srv.URL+"/auth/logout", nil, map[string]string{"Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"})
	if r.status != http.StatusSeeOther || r.location != "/auth/signin?error=logged_out" {
		t.Fatalf("logout: %d %q", r.status, r.location)
	}
	if e.sessionCookie(c) != "" {
		t.Fatal("cookie not cleared")
	}
	if _, reason := e.whoami(tok); reason != "session_revoked" {
		t.Fatalf("session after logout: %q", reason)
	}
	ev := e.mustAudit("logout", "allow", "allowed")
	if ev.Actor != "viewer@example.com" {
		t.Fatalf("logout event %+v", ev)
	}
	page := get(t, c, e.srv.URL+r.location)
	if !strings.Contains(page.body, "You have signed out.") || strings.Contains(page.body, "signed in as") {
		t.Fatalf("after logout: %s", page.body)
	}
	// GET is not a logout.
	if r := get(t, c, e.srv.URL+"/auth/logout"); r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET /auth/logout: %d", r.status)
	}
}

func TestSigninPage(t *testing.T) {
	e := newEnv(t, envOpts{options: func(o *Options) { o.ProviderName = "Example SSO" }})
	r := get(t, e.browser(), e.srv.URL+"/auth/signin?return_to=/apps&error=unknown_user")
	if r.status != 200 || !strings.Contains(r.body, "Sign in with Example SSO") ||
		!strings.Contains(r.body, `href="/auth/login?return_to=%2Fapps"`) ||
		!strings.Contains(r.body, "not known to this gateway") {
		t.Fatalf("signin page: %d %s", r.status, r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		strings.Contains(csp, "unsafe-inline") || strings.Contains(r.body, "<script") {
		t.Fatalf("CSP %q", csp)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatal("signin page cacheable")
	}
	// Unknown codes and markup are never echoed.
	r = get(t, e.browser(), e.srv.URL+"/auth/signin?error=%3Cb%3Eowned")
	if strings.Contains(r.body, "owned") {
		t.Fatalf("error code echoed: %s", r.body)
	}
	css := get(t, e.browser(), e.srv.URL+"/auth/static/login.css")
	if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Fatalf("css: %d %v", css.status, css.header)
	}
}

func cliPair(t *testing.T) (request, verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	return randomString(), verifier, oauth2.S256ChallengeFromVerifier(verifier)
}

func (e *env) claim(body any) resp {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/cli/login/claim", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return do(e.t, http.DefaultClient, req)
}

func TestCLILogin(t *testing.T) {
	e := newEnv(t, envOpts{})
	R, V, C := cliPair(t)
	_, otherV, _ := cliPair(t)

	if r := e.claim(ClaimRequest{Request: R, Verifier: V}); r.status != http.StatusNotFound {
		t.Fatalf("claim before start: %d %s", r.status, r.body)
	}

	c := e.browser()
	params := url.Values{"request": {R}, "challenge": {C}, "name": {"prod-gw"}, "login_hint": {"deployer@example.com"}}
	// GET stores the request and shows a confirmation page with the
	// verification code; it does not go to the IdP.
	r := get(t, c, e.srv.URL+"/auth/cli?"+params.Encode())
	if r.status != 200 || !strings.Contains(r.body, VerificationCode(C)) || !strings.Contains(r.body, "prod-gw") ||
		!strings.Contains(r.body, `action="/auth/cli"`) || r.location != "" {
		t.Fatalf("cli confirm page: %d %s", r.status, r.body)
	}
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "form-action 'self' "+e.issuer) {
		t.Fatalf("CSP must let the form redirect to the IdP: %q", r.header.Get("Content-Security-Policy"))
	}
	// The CLI's claim already answers "pending".
	if r := e.claim(ClaimRequest{Request: R, Verifier: V}); r.status != http.StatusAccepted {
		t.Fatalf("claim while the confirmation page shows: %d", r.status)
	}
	// A reload in the same browser shows the page again; another browser
	// cannot take the request over.
	if r := get(t, c, e.srv.URL+"/auth/cli?"+params.Encode()); r.status != http.StatusOK {
		t.Fatalf("reload: %d %s", r.status, r.body)
	}
	if r := get(t, e.browser(), e.srv.URL+"/auth/cli?"+params.Encode()); r.status != http.StatusConflict {
		t.Fatalf("same request from another browser: %d", r.status)
	}
	if r := postForm(t, e.browser(), e.srv.URL+"/auth/cli", params, nil); r.status != http.StatusBadRequest {
		t.Fatalf("continue from another browser: %d", r.status)
	}
	e.mustAudit("login", "deny", ReasonBrowserMismatch)
	// A cross-site POST cannot continue it.
	if r := postForm(t, c, e.srv.URL+"/auth/cli", params, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); r.status != http.StatusForbidden {
		t.Fatalf("cross-site POST /auth/cli: %d", r.status)
	}
	r = postForm(t, c, e.srv.URL+"/auth/cli", params, map[string]string{"Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, e.issuer+"/authorize?") {
		t.Fatalf("POST /auth/cli: %d %q %s", r.status, r.location, r.body)
	}
	authURL, _ := url.Parse(r.location)
	if aq := authURL.Query(); aq.Get("state") != R || aq.Get("code_challenge") == C || aq.Get("login_hint") != "deployer@example.com" {
		t.Fatal("state must be R, and the IdP challenge the gateway's own")
	}

	// Pending until the browser completes; the verifier is checked first.
	if r := e.claim(ClaimRequest{Request: R, Verifier: V}); r.status != http.StatusAccepted || !strings.Contains(r.body, `"pending"`) {
		t.Fatalf("pending claim: %d %s", r.status, r.body)
	}
	if r := e.claim(ClaimRequest{Request: R, Verifier: otherV}); r.status != http.StatusForbidden {
		t.Fatalf("pending claim with a wrong verifier: %d", r.status)
	}

	cb := e.authorize(c, authURL)
	bind := e.loginCookie(c)
	r = get(t, c, cb)
	if r.status != 200 || !strings.Contains(r.body, "Signed in as deployer@example.com") || !strings.Contains(r.body, "terminal") {
		t.Fatalf("cli callback: %d %s", r.status, r.body)
	}
	if e.sessionCookie(c) != "" {
		t.Fatal("a CLI login made a web session")
	}
	ev := e.mustAudit("login", "allow", "allowed")
	if !strings.Contains(ev.Details, `"kind":"cli"`) || ev.Actor != "deployer@example.com" {
		t.Fatalf("cli login event %+v", ev)
	}

	// The state alone (no or wrong verifier) cannot claim.
	for _, bad := range []any{
		ClaimRequest{Request: R},
		ClaimRequest{Request: R, Verifier: "short"},
		ClaimRequest{Request: R, Verifier: otherV},
		ClaimRequest{Request: R, Verifier: C}, // the challenge is not the verifier
	} {
		if r := e.claim(bad); r.status != http.StatusForbidden && r.status != http.StatusBadRequest {
			t.Fatalf("claim %+v: %d %s", bad, r.status, r.body)
		}
	}
	e.mustAudit("session.create", "deny", ReasonBadVerifier)
	// Malformed bodies.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/cli/login/claim", strings.NewReader(`request=`+R))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := do(t, http.DefaultClient, req); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("form claim: %d", r.status)
	}
	if r := e.claim(map[string]string{"request": R, "verifier": V, "extra": "x"}); r.status != http.StatusBadRequest {
		t.Fatalf("claim with unknown field: %d", r.status)
	}

	// The right verifier claims once.
	r = e.claim(ClaimRequest{Request: R, Verifier: V})
	if r.status != http.StatusOK {
		t.Fatalf("claim: %d %s", r.status, r.body)
	}
	var out ClaimResponse
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatal(err)
	}
	exp, err := time.Parse(time.RFC3339, out.ExpiresAt)
	if out.Email != "deployer@example.com" || out.Role != "deployer" || err != nil ||
		!strings.HasPrefix(out.Token, authn.SessionPrefix) || time.Until(exp) < 29*24*time.Hour {
		t.Fatalf("claim response %+v", out)
	}
	res, err := e.an.AuthenticateToken(context.Background(), out.Token)
	if err != nil || res.Principal == nil || res.Principal.SessionKind != authn.KindCLI || res.Principal.Email != "deployer@example.com" {
		t.Fatalf("claimed token authenticates as %+v %v", res, err)
	}
	sessions, _ := e.st.ListSessions(context.Background(), res.Principal.UserID)
	if len(sessions) != 1 || sessions[0].Name != "prod-gw" || sessions[0].Kind != authn.KindCLI {
		t.Fatalf("sessions %+v", sessions)
	}
	// A CLI token is not a web cookie.
	if email, _ := e.whoami(out.Token); email != "" {
		t.Fatal("CLI session accepted as a web cookie")
	}
	ev = e.mustAudit("session.create", "allow", "allowed")
	if ev.Actor != "deployer@example.com" || !strings.Contains(ev.Details, `"kind":"cli"`) {
		t.Fatalf("session.create event %+v", ev)
	}

	if r := e.claim(ClaimRequest{Request: R, Verifier: V}); r.status != http.StatusConflict {
		t.Fatalf("second claim: %d %s", r.status, r.body)
	}
	// Replaying the browser callback cannot complete it again.
	req, _ = http.NewRequest(http.MethodGet, cb, nil)
	req.AddCookie(&http.Cookie{Name: loginCookie, Value: bind})
	if r := do(t, e.browser(), req); r.status != http.StatusBadRequest || !strings.Contains(r.body, "already used") {
		t.Fatalf("replayed CLI callback: %d %s", r.status, r.body)
	}
	e.noSecrets(out.Token, V, R)
}

// startCLI opens the CLI login link, confirms it and returns the IdP URL.
func (e *env) startCLI(c *http.Client, params url.Values) *url.URL {
	e.t.Helper()
	if r := get(e.t, c, e.srv.URL+"/auth/cli?"+params.Encode()); r.status != http.StatusOK {
		e.t.Fatalf("GET /auth/cli: %d %s", r.status, r.body)
	}
	r := postForm(e.t, c, e.srv.URL+"/auth/cli", params, nil)
	if r.status != http.StatusSeeOther {
		e.t.Fatalf("POST /auth/cli: %d %s", r.status, r.body)
	}
	u, err := url.Parse(r.location)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func TestCLIRefusedAndExpired(t *testing.T) {
	e := newEnv(t, envOpts{})

	// Bad parameters.
	R, V, C := cliPair(t)
	for _, p := range []url.Values{
		{"request": {"short"}, "challenge": {C}, "name": {"gw"}},
		{"request": {R}, "challenge": {C + "x"}, "name": {"gw"}},
		{"request": {R}, "challenge": {C}, "name": {""}},
		{"request": {R}, "challenge": {C}, "name": {"bad name"}},
		{"request": {R}, "challenge": {C}, "name": {strings.Repeat("a", 65)}},
		{"request": {R + "!"}, "challenge": {C}, "name": {"gw"}},
	} {
		if r := get(t, e.browser(), e.srv.URL+"/auth/cli?"+p.Encode()); r.status != http.StatusBadRequest {
			t.Errorf("GET /auth/cli %v: %d", p, r.status)
		}
		if r := postForm(t, e.browser(), e.srv.URL+"/auth/cli", p, nil); r.status != http.StatusBadRequest {
			t.Errorf("POST /auth/cli %v: %d", p, r.status)
		}
	}

	// Continuing a login that was never shown is refused.
	if r := postForm(t, e.browser(), e.srv.URL+"/auth/cli", url.Values{"request": {R}, "challenge": {C}, "name": {"gw"}}, nil); r.status != http.StatusBadRequest {
		t.Fatalf("POST /auth/cli without GET: %d", r.status)
	}
	e.mustAudit("login", "deny", ReasonUnknownState)

	// A login refused in the browser ends the claim's wait with 409.
	c := e.browser()
	authURL := e.startCLI(c, url.Values{"request": {R}, "challenge": {C}, "name": {"gw"}, "login_hint": {"stranger@example.com"}})
	if r := get(t, c, e.authorize(c, authURL)); r.status != http.StatusForbidden {
		t.Fatalf("unknown user CLI login: %d", r.status)
	}
	if r := e.claim(ClaimRequest{Request: R, Verifier: V}); r.status != http.StatusConflict {
		t.Fatalf("claim after refusal: %d %s", r.status, r.body)
	}
	ev := e.mustAudit("login", "deny", ReasonUnknownUser)
	if !strings.Contains(ev.Details, `"kind":"cli"`) {
		t.Fatalf("details %s", ev.Details)
	}

	// Expired: completed, but claimed too late.
	R, V, C = cliPair(t)
	c = e.browser()
	authURL = e.startCLI(c, url.Values{"request": {R}, "challenge": {C}, "name": {"gw"}, "login_hint": {"admin@example.com"}})
	if r := get(t, c, e.authorize(c, authURL)); r.status != http.StatusOK {
		t.Fatalf("cli login: %d %s", r.status, r.body)
	}
	e.skew.Store(int64(11 * time.Minute))
	defer e.skew.Store(0)
	if r := e.claim(ClaimRequest{Request: R, Verifier: V}); r.status != http.StatusGone {
		t.Fatalf("late claim: %d", r.status)
	}

	// A web login's state cannot be claimed.
	e.skew.Store(0)
	c = e.browser()
	state := e.startWeb(c, "admin@example.com", "/").Query().Get("state")
	if r := e.claim(ClaimRequest{Request: state, Verifier: V}); r.status != http.StatusNotFound {
		t.Fatalf("claiming a web state: %d", r.status)
	}
}

func TestGroupRoles(t *testing.T) {
	e := newEnv(t, envOpts{oidc: func(o *config.OIDC) {
		o.GroupsClaim = "groups"
		o.GroupRoles = map[string]string{"platform-admins": "admin", "devs": "deployer", "readers": "viewer"}
	}})
	ctx := context.Background()
	u, _ := e.st.GetUserByEmail(ctx, "grouped@example.com")
	oldTok, err := e.an.StartSession(ctx, &store.Session{UserID: u.ID, Kind: authn.KindCLI, Name: "old"})
	if err != nil {
		t.Fatal(err)
	}

	c := e.browser()
	if r := e.webLogin(c, "grouped@example.com", "/"); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	u, _ = e.st.GetUserByEmail(ctx, "grouped@example.com")
	if u.Role != "admin" {
		t.Fatalf("role after login: %q, want admin (highest mapped)", u.Role)
	}
	ev := e.mustAudit("user.update", "allow", ReasonRoleFromGroups)
	if ev.Resource != "grouped@example.com" || !strings.Contains(ev.Details, `"before":{"role":"viewer"}`) ||
		!strings.Contains(ev.Details, `"after":{"role":"admin"}`) || !strings.Contains(ev.Details, `"groups_matched":["devs","platform-admins"]`) {
		t.Fatalf("role change event %+v", ev)
	}
	// Sessions made under the old role are ended; the new one works.
	if res, _ := e.an.AuthenticateToken(ctx, oldTok); res.Principal != nil {
		t.Fatal("session from before the role change still valid")
	}
	if email, _ := e.whoami(e.sessionCookie(c)); email != "grouped@example.com" {
		t.Fatal("new session invalid")
	}
	login := e.mustAudit("login", "allow", "allowed")
	if login.Role != "admin" || !strings.Contains(login.Details, `"groups_matched"`) {
		t.Fatalf("login event %+v", login)
	}

	// Logging in again with the same groups changes nothing.
	before := len(e.events("user.update"))
	if r := e.webLogin(e.browser(), "grouped@example.com", "/"); r.status != http.StatusSeeOther {
		t.Fatal("second login")
	}
	if len(e.events("user.update")) != before {
		t.Fatal("role re-audited without a change")
	}
	if email, _ := e.whoami(e.sessionCookie(c)); email != "grouped@example.com" {
		t.Fatal("a login without a role change ended other sessions")
	}

	// Users whose groups map to nothing keep their role.
	if r := e.webLogin(e.browser(), "admin@example.com", "/"); r.status != http.StatusSeeOther {
		t.Fatal("admin login")
	}
	if a, _ := e.st.GetUserByEmail(ctx, "admin@example.com"); a.Role != "admin" {
		t.Fatalf("admin role changed to %q", a.Role)
	}
}

func TestAutoProvision(t *testing.T) {
	e := newEnv(t, envOpts{oidc: func(o *config.OIDC) {
		o.AutoProvisionDomains = []string{"auto.example"}
		o.AutoProvisionEmails = []string{"Stranger@Example.com"}
		o.DefaultRole = "ops"
	}})
	ctx := context.Background()
	for _, email := range []string{"newbie@auto.example", "stranger@example.com"} {
		c := e.browser()
		if r := e.webLogin(c, email, "/"); r.status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", email, r.status, r.body)
		}
		u, err := e.st.GetUserByEmail(ctx, email)
		if err != nil || u.Role != "ops" || u.LastLoginAt.IsZero() {
			t.Fatalf("%s provisioned as %+v %v", email, u, err)
		}
		if got, _ := e.whoami(e.sessionCookie(c)); got != email {
			t.Fatalf("%s session", email)
		}
	}
	ev := e.mustAudit("user.create", "allow", reasonAutoProvisioned)
	if ev.ActorType != "system" || !strings.Contains(ev.Details, `"role":"ops"`) {
		t.Fatalf("user.create event %+v", ev)
	}
	// Others are still refused, and auto-provisioning never bypasses the
	// domain allow-list.
	if r := e.webLogin(e.browser(), "bob@other.example", "/"); r.status != http.StatusForbidden {
		t.Fatal("bob allowed")
	}
	users, _ := e.st.ListUsers(ctx)
	if len(users) != 11 {
		t.Fatalf("users: %d", len(users))
	}
}

func TestConcurrentLogins(t *testing.T) {
	// Several logins at once, and two tabs of one browser sharing the
	// binding cookie.
	e := newEnv(t, envOpts{})
	shared := e.browser()
	a1 := e.startWeb(shared, "viewer@example.com", "/one")
	a2 := e.startWeb(shared, "viewer@example.com", "/two")
	cb1, cb2 := e.authorize(shared, a1), e.authorize(shared, a2)
	bind := e.loginCookie(shared)
	for _, cb := range []struct{ url, want string }{{cb2, "/two"}, {cb1, "/one"}} {
		req, _ := http.NewRequest(http.MethodGet, cb.url, nil)
		req.AddCookie(&http.Cookie{Name: loginCookie, Value: bind})
		if r := do(t, e.browser(), req); r.status != http.StatusSeeOther || r.location != cb.want {
			t.Fatalf("tab login: %d %q", r.status, r.location)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar} // follows redirects: gateway → IdP → callback → /
			res, err := c.Get(e.srv.URL + "/auth/login?login_hint=viewer%40example.com&return_to=/x")
			if err != nil {
				errs <- err.Error()
				return
			}
			res.Body.Close()
			// The final hop is /x on the test server (a 404 page from the
			// login handler); what matters is the session cookie.
			u, _ := url.Parse(e.srv.URL + "/")
			ok := false
			for _, ck := range jar.Cookies(u) {
				ok = ok || ck.Name == websession.CookieName
			}
			if !ok || res.Request.URL.Path != "/x" {
				errs <- "concurrent login did not end signed in at /x: " + res.Request.URL.String()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// failingAudit makes audit appends fail while fail is set; everything else
// goes to the real store.
type failingAudit struct {
	store.Store
	fail         atomic.Bool
	failSessions atomic.Bool // CreateSession fails instead
}

func (f *failingAudit) CreateSession(ctx context.Context, s *store.Session) error {
	if f.failSessions.Load() {
		return errors.New("session storage is down")
	}
	return f.Store.CreateSession(ctx, s)
}

func (f *failingAudit) AppendAudit(ctx context.Context, evs []*chain.Event) error {
	if f.fail.Load() {
		return errors.New("audit storage is down")
	}
	return f.Store.AppendAudit(ctx, evs)
}

// A session is handed out only once its session.create event is durable:
// when the audit log cannot take it, the web and CLI logins fail, and the
// session made for them is already revoked.
func TestNoSessionWithoutItsAuditRecord(t *testing.T) {
	var (
		fa *failingAudit
		au *audit.Auditor
	)
	e := newEnv(t, envOpts{options: func(o *Options) {
		fa = &failingAudit{Store: o.Store.(store.Store)} // the whole store, to wrap its audit and sessions
		au = audit.New(fa, slog.New(slog.DiscardHandler), nil)
		au.SyncTimeout = 500 * time.Millisecond
		o.Audit = au
		o.Authn = authn.New(fa, 0, slog.New(slog.DiscardHandler)) // sessions through the wrapper too
	}})
	go au.Run()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = au.Close(cctx)
	})
	e.au = au // events() flushes the handler's auditor
	ctx := context.Background()
	active := func(email string) (active, all int) {
		u, err := e.st.GetUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := e.st.ListSessions(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if s.RevokedAt.IsZero() {
				active++
			}
		}
		return active, len(ss)
	}

	// Web: the callback finds the audit log down.
	c := e.browser()
	cb := e.authorize(c, e.startWeb(c, "viewer@example.com", "/"))
	fa.fail.Store(true)
	r := get(t, c, cb)
	fa.fail.Store(false)
	if r.status != http.StatusServiceUnavailable || e.sessionCookie(c) != "" {
		t.Fatalf("web login with the audit log down: %d, cookie %q", r.status, e.sessionCookie(c))
	}
	if n, all := active("viewer@example.com"); n != 0 || all != 1 {
		t.Fatalf("viewer: %d active of %d sessions after a failed audit write, want 0 of 1", n, all)
	}

	// CLI: the claim finds the audit log down.
	R, V, C := cliPair(t)
	c = e.browser()
	cb = e.authorize(c, e.startCLI(c, url.Values{"request": {R}, "challenge": {C}, "name": {"laptop"}, "login_hint": {"deployer@example.com"}}))
	if r := get(t, c, cb); r.status != http.StatusOK {
		t.Fatalf("cli callback: %d %s", r.status, r.body)
	}
	fa.fail.Store(true)
	r = e.claim(ClaimRequest{Request: R, Verifier: V})
	fa.fail.Store(false)
	if r.status != http.StatusServiceUnavailable || strings.Contains(r.body, "rgws_") {
		t.Fatalf("claim with the audit log down: %d %s", r.status, r.body)
	}
	if n, all := active("deployer@example.com"); n != 0 || all != 1 {
		t.Fatalf("deployer: %d active of %d sessions after a failed audit write, want 0 of 1", n, all)
	}

	// A session that cannot be stored leaves a refusal in the log, never a
	// successful sign-in.
	fa.failSessions.Store(true)
	c = e.browser()
	r = e.webLogin(c, "admin@example.com", "/")
	fa.failSessions.Store(false)
	if r.status != http.StatusServiceUnavailable || e.sessionCookie(c) != "" {
		t.Fatalf("web login with session storage down: %d", r.status)
	}
	for _, ev := range e.events("login") {
		if ev.Actor == "admin@example.com" && ev.Decision == "allow" {
			t.Errorf("a sign-in without a session was audited as allowed: %+v", ev)
		}
	}
	e.mustAudit("login", "deny", ReasonStoreUnavailable)

	// With the audit log back, a login works and is recorded with its session.
	c = e.browser()
	if r := e.webLogin(c, "viewer@example.com", "/"); r.status != http.StatusSeeOther || e.sessionCookie(c) == "" {
		t.Fatalf("web login after recovery: %d", r.status)
	}
	var withSession int
	for _, ev := range e.events("login") {
		if ev.Decision == "allow" && strings.Contains(ev.Details, `"session_id"`) && ev.Actor == "viewer@example.com" {
			withSession++
		}
	}
	if withSession != 1 {
		t.Errorf("%d web login events name their session, want 1 (the failed one must not be there)", withSession)
	}
}

// The browser-binding cookie is minted by the gateway: a value the client
// chose (a cookie planted by another site, say) is replaced, while one the
// gateway minted is kept, so that logins in two tabs do not break each
// other.
func TestBindingCookieMintedByTheGateway(t *testing.T) {
	e := newEnv(t, envOpts{})
	u, _ := url.Parse(e.srv.URL)
	for _, planted := range []string{randomString(), randomString() + "." + randomString()[:22], "x"} {
		c := e.browser()
		c.Jar.SetCookies(u, []*http.Cookie{{Name: loginCookie, Value: planted, Path: "/auth/"}})
		e.startWeb(c, "admin@example.com", "/")
		if got := e.loginCookie(c); got == planted || !e.h.validBinding(got) {
			t.Errorf("planted %q: the login is bound to %q, want a value the gateway minted", planted, got)
		}
	}
	c := e.browser()
	e.startWeb(c, "admin@example.com", "/")
	first := e.loginCookie(c)
	e.startWeb(c, "viewer@example.com", "/")
	if second := e.loginCookie(c); second != first {
		t.Errorf("a second tab's login replaced the browser's binding %q with %q", first, second)
	}
}

// Starting sign-ins is limited per address: each start stores a login
// request, so an anonymous flood gets 429 (with Retry-After) once the
// address's budget is spent, stores nothing more, and another address is
// not affected.
func TestSignInStartsLimited(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	lim := limits.NewFailureLimiter(60, 3, clk)
	ip := "192.0.2.1"
	e := newEnv(t, envOpts{options: func(o *Options) {
		o.Starts = lim
		o.SourceIP = func(r *http.Request) string { return r.Header.Get("X-Test-IP") }
	}})
	start := func(from string) resp {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/auth/login?return_to=/", nil)
		req.Header.Set("X-Test-IP", from)
		return do(t, e.browser(), req)
	}
	for i := range 3 {
		if r := start(ip); r.status != http.StatusFound && r.status != http.StatusSeeOther {
			t.Fatalf("start %d: %d", i+1, r.status)
		}
	}
	r := start(ip)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("start 4 from one address: %d (Retry-After %q), want 429", r.status, r.header.Get("Retry-After"))
	}
	if r := start("192.0.2.2"); r.status == http.StatusTooManyRequests {
		t.Fatal("another address was limited")
	}
	clk.Advance(time.Second) // one start refills per second at 60 a minute
	if r := start(ip); r.status == http.StatusTooManyRequests {
		t.Fatal("still limited after the budget refilled")
	}
}

// With SecondFactor, the browser step of a CLI login proves a second
// factor before the CLI may claim: the callback gives the browser a web
// session and sends it to the finish step, which sends it on to the
// console's enrolment or challenge until the session has passed its
// factor; then the login completes, and the CLI session starts with that
// proof. Another browser cannot finish it.
func TestCLILoginSecondFactorInBrowser(t *testing.T) {
	e := newEnv(t, envOpts{options: func(o *Options) { o.SecondFactor = true }})
	ctx := context.Background()
	R, V, C := cliPair(t)
	c := e.browser()
	authURL := e.startCLI(c, url.Values{"request": {R}, "challenge": {C}, "name": {"prod"}, "login_hint": {"deployer@example.com"}})
	r := get(t, c, e.authorize(c, authURL))
	finish := finishPath(sha(R))
	if r.status != http.StatusSeeOther || r.location != finish || e.sessionCookie(c) == "" {
		t.Fatalf("callback: %d %q (web session %v), want a web session and %s", r.status, r.location, e.sessionCookie(c) != "", finish)
	}
	if r := e.claim(ClaimRequest{Request: R, Verifier: V}); r.status != http.StatusAccepted {
		t.Fatalf("claim before the second factor: %d %s", r.status, r.body)
	}
	u, _ := e.st.GetUserByEmail(ctx, "deployer@example.com")
	back := url.Values{"return_to": {finish}}.Encode()
	// No factor enrolled yet: to enrolment, and back here after.
	if r := get(t, c, e.srv.URL+finish); r.status != http.StatusSeeOther || r.location != enrolPath+"?"+back {
		t.Fatalf("finish before enrolment: %d %q", r.status, r.location)
	}
	if err := e.st.CreateMFAMethod(ctx, &store.MFAMethod{UserID: u.ID, Kind: store.MFATOTP, Secret: []byte("sealed")}); err != nil {
		t.Fatal(err)
	}
	e.an.Invalidate()
	// Enrolled, this session not signed in: to the challenge.
	if r := get(t, c, e.srv.URL+finish); r.status != http.StatusSeeOther || r.location != challengePath+"?"+back {
		t.Fatalf("finish before the challenge: %d %q", r.status, r.location)
	}
	// The console's challenge passes (as it would record it).
	web, err := e.st.GetSessionByHash(ctx, authn.HashToken(e.sessionCookie(c)))
	if err != nil {
		t.Fatal(err)
	}
	proved := time.Now().Add(-time.Second).UTC().Truncate(time.Microsecond)
	if err := e.st.SetSessionMFA(ctx, web.ID, store.MFATOTP, proved); err != nil {
		t.Fatal(err)
	}
	e.an.Invalidate()
	// Another browser, even signed in as the same person, cannot finish.
	other := e.browser()
	other.Jar.SetCookies(mustURL(t, e.srv.URL), []*http.Cookie{{Name: websession.CookieName, Value: e.sessionCookie(c)}})
	if r := get(t, other, e.srv.URL+finish); r.status != http.StatusForbidden {
		t.Fatalf("finish from another browser: %d", r.status)
	}
	if r := get(t, c, e.srv.URL+finish); r.status != 200 || !strings.Contains(r.body, "terminal") {
		t.Fatalf("finish: %d %s", r.status, r.body)
	}
	if r := get(t, c, e.srv.URL+finish); r.status != http.StatusBadRequest {
		t.Fatalf("finish twice: %d", r.status)
	}
	r = e.claim(ClaimRequest{Request: R, Verifier: V})
	if r.status != 200 {
		t.Fatalf("claim: %d %s", r.status, r.body)
	}
	var cr ClaimResponse
	_ = json.Unmarshal([]byte(r.body), &cr)
	cli, err := e.st.GetSessionByHash(ctx, authn.HashToken(cr.Token))
	if err != nil || cli.Kind != authn.KindCLI || cli.MFAMethod != store.MFATOTP || !cli.MFAAt.Equal(proved) {
		t.Fatalf("the CLI session: %+v %v, want it to start with the browser's proof at %v", cli, err, proved)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
