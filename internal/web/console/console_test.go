package console_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/mfa/passkey"
	"github.com/rack-gateway/rack-gateway/internal/mfa/seal"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
	"github.com/rack-gateway/rack-gateway/internal/web"
	"github.com/rack-gateway/rack-gateway/internal/web/console"
)

const wantCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// env is the console mounted in the gateway's web server, in front of a
// simulated rack through the real proxy, on a SQLite store, with one user
// and one web session per built-in role.
type env struct {
	t        *testing.T
	st       *sqlite.Store
	audit    *audit.Auditor
	authn    *authn.Authenticator
	admin    *admin.Service
	srv      *httptest.Server
	sessions map[string]string // role → session token
	userIDs  map[string]int64  // role → user id
	// With second factors (newMFAEnv): the service, and the clock that
	// it, the policy, the sessions and the store share.
	mfa *mfa.Service
	clk *clock.Fake
	// rackURL is the rack's own address (password "pw").
	rackURL string
}

func newEnv(t *testing.T) *env { t.Helper(); return newEnvRacks(t, "dev") }

// newEnvRacks serves the simulated rack under several rack names.
func newEnvRacks(t *testing.T, racks ...string) *env {
	t.Helper()
	return newEnvWith(t, mfaOff, racks...)
}

// Second factors in a test console.
type mfaMode int

const (
	mfaOff      mfaMode = iota // no mfa.Service: the console as before MFA
	mfaRequired                // the gateway's default
	mfaOffered                 // offered, not required (dev --no-mfa)
)

// newMFAEnv is newEnv with second factors required, as the gateway
// assembles them (TOTP, passkeys for http://localhost, trusted browsers
// for 30 days, a lockout after 3 failures), on a fake clock.
func newMFAEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, mfaRequired, "dev")
}

func newEnvWith(t *testing.T, mode mfaMode, racks ...string) *env {
	t.Helper()
	return newEnvOpts(t, mode, nil, racks...)
}

// newEnvOpts is newEnvWith with a change to the console's options (nil:
// none) before the console is made.
func newEnvOpts(t *testing.T, mode mfaMode, opts func(*console.Options), racks ...string) *env {
	t.Helper()
	return newEnvRack(t, mode, opts, nil, racks...)
}

// newEnvRack is newEnvOpts in front of a rack of one's own (nil: a
// simulated rack, password "pw").
func newEnvRack(t *testing.T, mode mfaMode, opts func(*console.Options), rack http.Handler, racks ...string) *env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if rack == nil {
		rack = simrack.New(simrack.Config{Password: "pw"}).Handler()
	}
	rackSrv := httptest.NewServer(rack)
	t.Cleanup(rackSrv.Close)

	var clk *clock.Fake
	var sopts []store.Option
	withMFA := mode != mfaOff
	if withMFA {
		clk = clock.NewFake(time.Now())
		sopts = append(sopts, store.WithClock(clk))
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "gw.db"), sopts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	an := authn.New(st, 5*time.Second, log)
	au := audit.New(st, log, nil)
	go au.Run()
	adm := &admin.Service{Store: st, Audit: au, Authn: an}
	var pol *authz.Policy
	var svc *mfa.Service
	if withMFA {
		an.SetClock(clk.Now)
		required := mode == mfaRequired
		pol = &authz.Policy{RequireMFA: required, StepUp: required, StepUpWindow: 10 * time.Minute, Clock: clk}
		adm.Policy, adm.Now = pol, clk.Now
		keys, err := seal.ParseKeyring(config.NewMFAKey(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		pk, err := passkey.New(passkey.Config{RPID: "localhost", RPDisplayName: "Rack Gateway", Origins: []string{"http://localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		svc = mfa.New(st, mfa.Config{Keys: keys, Passkeys: pk, TrustDays: 30, LockAfter: 3, Clock: clk}, au, pol, an, log)
	}

	cfg := &config.Config{DefaultRack: racks[0]}
	for _, name := range racks {
		cfg.Racks = append(cfg.Racks, config.Rack{Name: name, URL: rackSrv.URL, Password: "pw"})
	}
	cfg.SetDefaults("127.0.0.1:0")
	px, err := proxy.New(proxy.Options{Config: cfg, Authn: an, Audit: au, Policy: pol, MFA: svc,
		Metrics: proxy.NewMetrics(prometheus.NewRegistry()), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	co := console.Options{Admin: adm, Authn: an, Proxy: px, Policy: pol, Racks: racks, Version: "test", Log: log, AuditStore: st}
	if svc != nil {
		co.MFA, co.TrustDays = svc, 30
	}
	if opts != nil {
		opts(&co)
	}
	con, err := console.New(co)
	if err != nil {
		t.Fatal(err)
	}
	ws := &web.Server{Proxy: px, Admin: adm, Authn: an, MFA: svc, Store: st, Gatherer: prometheus.NewRegistry(), Log: log, Console: con}
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = au.Close(cctx)
		_ = st.Close()
	})
	e := &env{t: t, st: st, audit: au, authn: an, admin: adm, srv: srv, sessions: map[string]string{}, userIDs: map[string]int64{},
		mfa: svc, clk: clk, rackURL: rackSrv.URL}
	sys := admin.Actor{System: "test"}
	for _, role := range authz.RoleNames() {
		if _, err := adm.CreateUser(ctx, sys, role+"@example.com", strings.ToUpper(role[:1])+role[1:]+" User", role); err != nil {
			t.Fatal(err)
		}
		e.sessions[role] = e.startSession(role+"@example.com", authn.KindWeb)
		u, _ := st.GetUserByEmail(ctx, role+"@example.com")
		e.userIDs[role] = u.ID
	}
	return e
}

func (e *env) startSession(email, kind string) string {
	e.t.Helper()
	u, err := e.st.GetUserByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.authn.StartSession(context.Background(), &store.Session{UserID: u.ID, Kind: kind, UserAgent: "test-browser"})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	body   string
	header http.Header
}

// do sends one request without following redirects. session is the
// rgw_session cookie value ("" for none); form, if set, is a POST body.
func (e *env) do(method, path, session string, form url.Values, hdr map[string]string, cookies ...*http.Cookie) resp {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "rgw_session", Value: session})
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, string(b), res.Header}
}

func (e *env) get(path, session string) resp {
	e.t.Helper()
	return e.do("GET", path, session, nil, nil)
}

func (e *env) post(path, session string, form url.Values) resp {
	e.t.Helper()
	return e.do("POST", path, session, form, nil)
}

// flush waits for queued audit events.
func (e *env) flush() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.audit.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// flashText decodes the flash message a response sets.
func flashText(t *testing.T, h http.Header) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(flashCookie(h).Value)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func flashCookie(h http.Header) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "rgw_flash" && c.Value != "" {
			return c
		}
	}
	return nil
}

func TestPageAccessByRole(t *testing.T) {
	e := newEnv(t)
	pages := []string{"/racks/dev", "/users", "/tokens", "/tokens?all=1", "/account", "/audit",
		"/audit/export?format=jsonl", "/audit/export?format=csv"}
	nonAdmin := []int{200, 403, 200, 403, 200, 403, 403, 403}
	want := map[string][]int{
		"viewer":   nonAdmin,
		"ops":      nonAdmin,
		"deployer": nonAdmin,
		"admin":    {200, 200, 200, 200, 200, 200, 200, 200},
	}
	for role, codes := range want {
		for i, p := range pages {
			t.Run(role+" "+p, func(t *testing.T) {
				r := e.get(p, e.sessions[role])
				if r.status != codes[i] {
					t.Fatalf("GET %s as %s: %d, want %d\n%s", p, role, r.status, codes[i], r.body)
				}
				if r.status == 403 && !strings.Contains(r.body, "Permission denied") {
					t.Errorf("403 page does not say why:\n%s", r.body)
				}
			})
		}
	}
	// The nav lists only what the role may use.
	navs := map[string]map[string]bool{
		"viewer": {`href="/users"`: false, `href="/audit"`: false, `href="/tokens"`: true, `href="/account"`: true},
		"admin":  {`href="/users"`: true, `href="/audit"`: true, `href="/tokens"`: true, `href="/account"`: true},
	}
	for role, links := range navs {
		r := e.get("/account", e.sessions[role])
		for link, present := range links {
			if strings.Contains(r.body, link) != present {
				t.Errorf("%s's nav: %s present=%v, want %v", role, link, !present, present)
			}
		}
		if !strings.Contains(r.body, role+"@example.com") || !strings.Contains(r.body, `<span class="badge">`+role+`</span>`) {
			t.Errorf("%s's page does not show who they are and their role", role)
		}
	}
}

// TestRackAndAppPagesReadThroughProxy: "/" leads to the one rack's page;
// the rack page lists the apps and the app page their services,
// processes, releases and builds, read through the proxy as the viewer
// (audited as theirs), with no env value anywhere.
func TestRackAndAppPagesReadThroughProxy(t *testing.T) {
	e := newEnv(t)
	if r := e.get("/", e.sessions["viewer"]); r.status != 303 || location(r) != "/racks/dev" {
		t.Fatalf("/ with one rack: %d %q", r.status, location(r))
	}
	r := e.get("/racks/dev", e.sessions["viewer"])
	if r.status != 200 {
		t.Fatalf("rack page: %d\n%s", r.status, r.body)
	}
	for _, s := range []string{"<h1>Rack dev</h1>", `href="/racks/dev/apps/myapp"`, `href="/racks/dev/apps/blog"`,
		`href="/racks/dev/apps/myapp/releases/RMYAPPSECND"`, "RBLOGRELEAS"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("rack page lacks %q", s)
		}
	}
	r = e.get("/racks/dev/apps/myapp", e.sessions["viewer"])
	if r.status != 200 {
		t.Fatalf("app page: %d\n%s", r.status, r.body)
	}
	for _, s := range []string{"web-5d8f9c7b6b-x2x7k", "web-5d8f9c7b6b-q4zr9", "worker-6c4f8d9b7f-m2n5p", "worker",
		`href="/racks/dev/apps/myapp/builds/BMYAPPSECND"`, `href="/racks/dev/apps/myapp/releases/RMYAPPSECND"`, "current"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("app page lacks %q", s)
		}
	}
	for _, path := range []string{"/racks/dev", "/racks/dev/apps/myapp", "/racks/dev/apps/blog"} {
		r := e.get(path, e.sessions["viewer"])
		for _, secret := range []string{"secretpw", "SECRET_KEY_BASE", "9f86d081884c", "blog-api-token-s3cret", "DATABASE_URL"} {
			if strings.Contains(r.body, secret) {
				t.Errorf("%s shows %q", path, secret)
			}
		}
	}
	// The reads went through the proxy: audited as the viewer, on rack
	// dev, as the page views that made them.
	e.flush()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Actor: "viewer@example.com", Rack: "dev",
		Action: "console.view", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, ev := range evs {
		var d struct{ Reads []string }
		if err := json.Unmarshal([]byte(ev.Details), &d); err != nil {
			t.Fatalf("details %q: %v", ev.Details, err)
		}
		for _, p := range d.Reads {
			read[p] = true
		}
	}
	for _, p := range []string{"/apps", "/apps/myapp", "/apps/myapp/services", "/apps/myapp/processes",
		"/apps/myapp/builds", "/apps/myapp/releases"} {
		if !read[p] {
			t.Errorf("no page view of the viewer names the read of %s (got %v)", p, read)
		}
	}
}

func TestRackPageShowsDenialGracefully(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A rack binding to a role that grants nothing on dev: every rack read
	// is refused by the proxy, and the page says so.
	if err := e.st.SetRoleBinding(ctx, store.RoleBinding{UserID: e.userIDs["ops"], Rack: "dev", Role: "nobody"}); err != nil {
		t.Fatal(err)
	}
	e.authn.Invalidate()
	for _, path := range []string{"/racks/dev", "/racks/dev/apps/myapp"} {
		r := e.get(path, e.sessions["ops"])
		if r.status != 200 || !strings.Contains(r.body, "Permission denied") || strings.Contains(r.body, "web-5d8f9c7b6b-x2x7k") {
			t.Fatalf("%s with no rack rights: %d\n%s", path, r.status, r.body)
		}
		if !strings.Contains(r.body, "nobody on dev") {
			t.Errorf("top bar does not show the role on the rack:\n%s", r.body)
		}
	}
}

func TestViewerCannotAdminister(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	viewer := e.sessions["viewer"]
	cases := []struct {
		path string
		form url.Values
	}{
		{"/users", url.Values{"email": {"new@example.com"}, "role": {"admin"}}},
		{"/users/role", url.Values{"email": {"viewer@example.com"}, "role": {"admin"}}},
		{"/users/role", url.Values{"email": {"ops@example.com"}, "role": {"viewer"}}},
		{"/users/status", url.Values{"email": {"admin@example.com"}, "disabled": {"1"}}},
		{"/users/status", url.Values{"email": {"admin@example.com"}, "disabled": {"bogus"}}},
		{"/users/rack-role", url.Values{"email": {"viewer@example.com"}, "rack": {"dev"}, "role": {"admin"}}},
		{"/users/rack-role", url.Values{"email": {"viewer@example.com"}, "rack": {"nope"}, "role": {"admin"}}},
		{"/users/revoke-sessions", url.Values{"email": {"admin@example.com"}}},
	}
	for _, c := range cases {
		t.Run(c.path+" "+c.form.Encode(), func(t *testing.T) {
			r := e.post(c.path, viewer, c.form)
			if r.status != http.StatusForbidden {
				t.Fatalf("viewer POST %s: %d, want 403\n%s", c.path, r.status, r.body)
			}
		})
	}
	// Another user's session, by a crafted request.
	adminSessions, err := e.st.ListSessions(ctx, e.userIDs["admin"])
	if err != nil || len(adminSessions) == 0 {
		t.Fatal(err)
	}
	// Another's session is refused as if it did not exist (no id oracle).
	other := e.post(fmt.Sprintf("/account/sessions/%d/revoke", adminSessions[0].ID), viewer, url.Values{})
	unknown := e.post("/account/sessions/99999999/revoke", viewer, url.Values{})
	if other.status != 303 || unknown.status != 303 || flashCookie(other.header) == nil ||
		flashCookie(other.header).Value != flashCookie(unknown.header).Value {
		t.Errorf("viewer revoking the admin's session: %d, an unknown one: %d; want the same answer", other.status, unknown.status)
	}
	if s, _ := e.st.ListSessions(ctx, e.userIDs["admin"]); len(s) == 0 || !s[0].RevokedAt.IsZero() {
		t.Errorf("the admin's session was revoked by the viewer")
	}
	// Nothing changed.
	if _, err := e.st.GetUserByEmail(ctx, "new@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user was created: %v", err)
	}
	for role, id := range e.userIDs {
		u, _ := e.st.GetUser(ctx, id)
		if u.Role != role || u.Disabled {
			t.Errorf("%s changed: %+v", role, u)
		}
		bs, _ := e.st.ListRoleBindings(ctx, id)
		if len(bs) != 0 {
			t.Errorf("%s got rack roles %v", role, bs)
		}
	}
	if r := e.get("/account", e.sessions["admin"]); r.status != 200 {
		t.Errorf("admin session was revoked: %d", r.status)
	}
	// The refusals are audited.
	e.flush()
	evs, _ := e.st.ListAudit(ctx, store.AuditFilter{Actor: "viewer@example.com", Decision: "deny", Action: "user.create"})
	if len(evs) == 0 {
		t.Error("the refused user.create is not audited")
	}
}

func TestAdminManagesUsers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.sessions["admin"]
	viewer := e.sessions["viewer"]
	if r := e.get("/racks/dev", viewer); r.status != 200 {
		t.Fatalf("viewer before: %d", r.status)
	}

	// Change the viewer's role: the admin service ends their sessions.
	r := e.post("/users/role", adm, url.Values{"email": {"viewer@example.com"}, "role": {"ops"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/users" {
		t.Fatalf("change role: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	fc := flashCookie(r.header)
	if fc == nil {
		t.Fatal("no flash message")
	}
	page := e.do("GET", "/users", adm, nil, nil, fc)
	if !strings.Contains(page.body, "viewer@example.com is now ops") {
		t.Errorf("flash not shown:\n%s", page.body)
	}
	if u, _ := e.st.GetUserByEmail(ctx, "viewer@example.com"); u.Role != "ops" {
		t.Fatalf("role = %s", u.Role)
	}
	r = e.get("/tokens?x=1", viewer)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/auth/signin?error=revoked&return_to=%2Ftokens%3Fx%3D1" {
		t.Fatalf("revoked session: %d %q", r.status, r.header.Get("Location"))
	}

	// Add a user, with an error shown for a duplicate.
	r = e.post("/users", adm, url.Values{"email": {"New@Example.com"}, "name": {"New"}, "role": {"deployer"}})
	if r.status != 303 {
		t.Fatalf("add user: %d\n%s", r.status, r.body)
	}
	if u, err := e.st.GetUserByEmail(ctx, "new@example.com"); err != nil || u.Role != "deployer" {
		t.Fatalf("new user: %+v %v", u, err)
	}
	r = e.post("/users", adm, url.Values{"email": {"new@example.com"}, "role": {"viewer"}})
	page = e.do("GET", "/users", adm, nil, nil, flashCookie(r.header))
	if !strings.Contains(page.body, `class="flash error"`) || !strings.Contains(page.body, "already exists") {
		t.Errorf("duplicate user error not shown:\n%s", page.body)
	}

	// Rack role, disable, enable, revoke sessions.
	if r := e.post("/users/rack-role", adm, url.Values{"email": {"new@example.com"}, "rack": {"dev"}, "role": {"viewer"}}); r.status != 303 {
		t.Fatalf("rack role: %d", r.status)
	}
	if bs, _ := e.st.ListRoleBindings(ctx, mustUser(t, e, "new@example.com").ID); len(bs) != 1 || bs[0].Role != "viewer" {
		t.Errorf("rack roles: %v", bs)
	}
	opsSession := e.sessions["ops"]
	if r := e.post("/users/status", adm, url.Values{"email": {"ops@example.com"}, "disabled": {"1"}}); r.status != 303 {
		t.Fatalf("disable: %d", r.status)
	}
	if !mustUser(t, e, "ops@example.com").Disabled {
		t.Error("not disabled")
	}
	if r := e.get("/", opsSession); r.status != 303 {
		t.Errorf("disabled user's session still works: %d", r.status)
	}
	if r := e.post("/users/status", adm, url.Values{"email": {"ops@example.com"}, "disabled": {"0"}}); r.status != 303 || mustUser(t, e, "ops@example.com").Disabled {
		t.Errorf("enable: %d", r.status)
	}
	depSession := e.sessions["deployer"]
	if r := e.post("/users/revoke-sessions", adm, url.Values{"email": {"deployer@example.com"}}); r.status != 303 {
		t.Fatalf("revoke sessions: %d", r.status)
	}
	if r := e.get("/", depSession); r.status != 303 {
		t.Errorf("revoked deployer session still works: %d", r.status)
	}
	// An admin cannot change their own role.
	r = e.post("/users/role", adm, url.Values{"email": {"admin@example.com"}, "role": {"viewer"}})
	page = e.do("GET", "/users", adm, nil, nil, flashCookie(r.header))
	if !strings.Contains(page.body, "cannot change your own role") || mustUser(t, e, "admin@example.com").Role != "admin" {
		t.Errorf("self demotion not refused clearly:\n%s", page.body)
	}
}

func mustUser(t *testing.T, e *env, email string) *store.User {
	t.Helper()
	u, err := e.st.GetUserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var tokenRE = regexp.MustCompile(`rgw_[A-Za-z0-9_-]{20,}`)

func TestTokenShownOnceAndWorks(t *testing.T) {
	e := newEnv(t)
	dep := e.sessions["deployer"]
	r := e.post("/tokens", dep, url.Values{"name": {"ci"}, "permissions": {"app:read, process:read"}, "expires_in": {"720h"}})
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create token: %d %q\n%s", r.status, r.header.Get("Cache-Control"), r.body)
	}
	tok := tokenRE.FindString(r.body)
	if tok == "" {
		t.Fatalf("no token on the result page:\n%s", r.body)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("convox:"+tok))
	res := e.do("GET", "/rack/apps", "", nil, map[string]string{"Authorization": basic})
	if res.status != 200 || !strings.Contains(res.body, "myapp") {
		t.Fatalf("token against /rack/apps: %d %s", res.status, res.body)
	}
	list := e.get("/tokens", dep)
	if list.status != 200 || !strings.Contains(list.body, "<td>ci</td>") || strings.Contains(list.body, tok) {
		t.Fatalf("token list: %d (shows the secret: %v)", list.status, strings.Contains(list.body, tok))
	}
	if !strings.Contains(list.body, "app:read, process:read") {
		t.Errorf("token scope not listed")
	}
	// Others' tokens are not listed; a scope beyond the role is refused.
	if strings.Contains(e.get("/tokens", e.sessions["viewer"]).body, "<td>ci</td>") {
		t.Error("viewer sees the deployer's token")
	}
	if r := e.post("/tokens", dep, url.Values{"name": {"too-much"}, "permissions": {"secret:read"}}); r.status != 403 || !strings.Contains(r.body, "cannot exceed") {
		t.Errorf("token beyond role: %d\n%s", r.status, r.body)
	}
	if r := e.post("/tokens", dep, url.Values{"name": {""}, "expires_in": {"48h"}}); r.status != 400 ||
		!strings.Contains(r.body, "token name is required") || !strings.Contains(r.body, `value="48h"`) {
		t.Errorf("missing name: %d\n%s", r.status, r.body)
	}

	// Revoke: the viewer cannot revoke it, the deployer can.
	m := regexp.MustCompile(`action="/tokens/(\d+)/revoke"`).FindStringSubmatch(list.body)
	if m == nil {
		t.Fatal("no revoke button")
	}
	other := e.post("/tokens/"+m[1]+"/revoke", e.sessions["viewer"], url.Values{})
	unknown := e.post("/tokens/99999999/revoke", e.sessions["viewer"], url.Values{})
	if other.status != 303 || flashCookie(other.header) == nil || flashCookie(unknown.header) == nil ||
		strings.ReplaceAll(flashText(t, unknown.header), "99999999", m[1]) != flashText(t, other.header) {
		t.Errorf("viewer revoking another's token: %d; want the answer an unknown token gets", other.status)
	}
	if r := e.post("/tokens/"+m[1]+"/revoke", dep, url.Values{}); r.status != 303 {
		t.Fatalf("revoke: %d", r.status)
	}
	if res := e.do("GET", "/rack/apps", "", nil, map[string]string{"Authorization": basic}); res.status != 401 {
		t.Errorf("revoked token still works: %d", res.status)
	}
}

func TestAuditFiltersAndPaging(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	for i := range 25 {
		ev := &chain.Event{Time: base.Add(time.Duration(i) * time.Minute), ActorType: "user", Actor: "bot@example.com",
			Action: "test.paging", App: "paging-app", Rack: "dev", Resource: fmt.Sprintf("res-%02d", i),
			Decision: "allow", Reason: "allowed", Status: 200, Details: `{"note":"<b>x</b>"}`}
		if err := e.audit.RecordSync(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		ev := &chain.Event{Time: base.Add(time.Duration(i) * time.Minute), ActorType: "user", Actor: "bot@example.com",
			Action: "test.paging", App: "paging-app", Rack: "dev", Decision: "deny", Reason: "missing_permission", Status: 403}
		if err := e.audit.RecordSync(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	adm := e.sessions["admin"]
	olderRE := regexp.MustCompile(`<a href="([^"]+)">Older`)
	rowRE := regexp.MustCompile(`<td>res-(\d\d)</td>`)

	seen := map[string]bool{}
	path := "/audit?app=paging-app&decision=allow&limit=10"
	var sizes []int
	for path != "" {
		r := e.get(path, adm)
		if r.status != 200 {
			t.Fatalf("GET %s: %d\n%s", path, r.status, r.body)
		}
		if strings.Contains(r.body, "missing_permission") {
			t.Error("decision filter ignored")
		}
		if strings.Contains(r.body, "<b>x</b>") || !strings.Contains(r.body, "&lt;b&gt;x&lt;/b&gt;") {
			t.Error("details not escaped")
		}
		rows := rowRE.FindAllStringSubmatch(r.body, -1)
		sizes = append(sizes, len(rows))
		prev := 100
		for _, m := range rows {
			n, _ := strconv.Atoi(m[1])
			if n >= prev {
				t.Errorf("not newest first: %s after %d", m[1], prev)
			}
			prev = n
			if seen[m[1]] {
				t.Errorf("event %s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		path = ""
		if m := olderRE.FindStringSubmatch(r.body); m != nil {
			path = html.UnescapeString(m[1])
			if !strings.Contains(path, "before=") || !strings.Contains(path, "app=paging-app") || !strings.Contains(path, "limit=10") {
				t.Errorf("older link loses the filters: %s", path)
			}
		}
	}
	if fmt.Sprint(sizes) != "[10 10 5]" || len(seen) != 25 {
		t.Errorf("pages %v, %d events", sizes, len(seen))
	}

	// Time window (datetime-local, UTC): minutes 20..24.
	since := base.Add(20 * time.Minute).Format("2006-01-02T15:04")
	r := e.get("/audit?"+url.Values{"app": {"paging-app"}, "decision": {"allow"}, "since": {since}}.Encode(), adm)
	if n := len(rowRE.FindAllString(r.body, -1)); r.status != 200 || n != 5 {
		t.Errorf("since filter: %d, %d rows", r.status, n)
	}
	until := base.Add(2 * time.Minute).Format("2006-01-02T15:04")
	r = e.get("/audit?"+url.Values{"actor": {"bot@example.com"}, "until": {until}, "decision": {"deny"}}.Encode(), adm)
	if n := strings.Count(r.body, "missing_permission"); n != 2 {
		t.Errorf("until+actor+decision filter: %d rows", n)
	}
	if r := e.get("/audit?action=nothing.like.this", adm); !strings.Contains(r.body, "No events match") {
		t.Error("action filter ignored")
	}
	// Bad input: 400 for an auditor, 403 for anyone else.
	if r := e.get("/audit?since=yesterday", adm); r.status != 400 || !strings.Contains(r.body, "not a date") {
		t.Errorf("bad since: %d", r.status)
	}
	if r := e.get("/audit?since=yesterday", e.sessions["viewer"]); r.status != 403 {
		t.Errorf("viewer bad since: %d", r.status)
	}

	// Export: JSONL with the page's filters, as an attachment.
	r = e.get("/audit/export?format=jsonl&app=paging-app", adm)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") ||
		r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %v", r.status, r.header)
	}
	lines := strings.Split(strings.TrimSpace(r.body), "\n")
	var hdr struct{ Type, Format string }
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil || hdr.Type != "header" || hdr.Format != "rack-gateway-audit-export/v1" {
		t.Fatalf("export header: %s", lines[0])
	}
	events := 0
	for _, l := range lines[1:] {
		var x struct{ Type, App string }
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("export line: %v", err)
		}
		if x.Type == "event" {
			events++
			if x.App != "paging-app" {
				t.Errorf("export filter ignored: %s", l)
			}
		}
	}
	if events != 28 {
		t.Errorf("export: %d events, want 28", events)
	}
	if r := e.get("/audit/export?format=csv&actor=bot@example.com", adm); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
		strings.Count(r.body, "bot@example.com") != 28 {
		t.Errorf("csv export: %d %q", r.status, r.header.Get("Content-Type"))
	}
	if r := e.get("/audit/export?format=xml", adm); r.status != 400 {
		t.Errorf("bad format: %d", r.status)
	}
	// The export itself is audited.
	e.flush()
	if evs, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "audit.export", Actor: "admin@example.com"}); len(evs) < 2 {
		t.Errorf("exports audited: %d", len(evs))
	}
}

func TestAccountAndSessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := e.startSession("viewer@example.com", authn.KindCLI)
	_ = other
	cur := e.sessions["viewer"]
	r := e.get("/account", cur)
	if r.status != 200 || !strings.Contains(r.body, "this session") || !strings.Contains(r.body, "app:read") ||
		!strings.Contains(r.body, "gateway:token-self") || strings.Contains(r.body, "gateway:users") {
		t.Fatalf("account page: %d\n%s", r.status, r.body)
	}
	sessions, _ := e.st.ListSessions(ctx, e.userIDs["viewer"])
	if len(sessions) != 2 {
		t.Fatalf("sessions: %d", len(sessions))
	}
	var curID, otherID int64
	for _, s := range sessions {
		if s.Kind == authn.KindWeb {
			curID = s.ID
		} else {
			otherID = s.ID
		}
	}
	if r := e.post(fmt.Sprintf("/account/sessions/%d/revoke", otherID), cur, url.Values{}); r.status != 303 || r.header.Get("Location") != "/account" {
		t.Fatalf("revoke other session: %d", r.status)
	}
	if r := e.get("/account", cur); r.status != 200 || !strings.Contains(r.body, "ended") {
		t.Fatalf("after revoking the CLI session: %d", r.status)
	}
	if r := e.post(fmt.Sprintf("/account/sessions/%d/revoke", curID), cur, url.Values{}); r.status != 303 {
		t.Fatalf("revoke current session: %d", r.status)
	}
	if r := e.get("/account", cur); r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/auth/signin?") {
		t.Fatalf("after signing out here: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	expiredTok, hash := authn.NewSessionToken()
	if err := e.st.CreateSession(ctx, &store.Session{Hash: hash, UserID: e.userIDs["admin"], Kind: authn.KindWeb,
		ExpiresAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	cli := e.startSession("admin@example.com", authn.KindCLI)
	cases := []struct {
		name, method, path, session, location string
	}{
		{"no cookie", "GET", "/audit?app=x&limit=10", "", "/auth/signin?return_to=%2Faudit%3Fapp%3Dx%26limit%3D10"},
		{"no cookie root", "GET", "/", "", "/auth/signin?return_to=%2F"},
		{"garbage cookie", "GET", "/users", "rgws_garbage", "/auth/signin?return_to=%2Fusers"},
		{"api token as cookie", "GET", "/users", "rgw_notasession", "/auth/signin?return_to=%2Fusers"},
		{"cli session as cookie", "GET", "/users", cli, "/auth/signin?return_to=%2Fusers"},
		{"expired", "GET", "/account", expiredTok, "/auth/signin?error=expired&return_to=%2Faccount"},
		{"post", "POST", "/users/role", "", "/auth/signin?return_to=%2Fusers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var form url.Values
			if c.method == "POST" {
				form = url.Values{"email": {"viewer@example.com"}, "role": {"admin"}}
			}
			r := e.do(c.method, c.path, c.session, form, nil)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != c.location {
				t.Fatalf("%d %q, want 303 %q", r.status, r.header.Get("Location"), c.location)
			}
		})
	}
	if u := mustUser(t, e, "viewer@example.com"); u.Role != "viewer" {
		t.Error("unauthenticated POST changed a role")
	}
}

func TestCrossSitePostRefused(t *testing.T) {
	e := newEnv(t)
	evil := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/users", url.Values{"email": {"mallory@example.com"}, "role": {"admin"}}},
		{"/users/role", url.Values{"email": {"viewer@example.com"}, "role": {"admin"}}},
		{"/tokens", url.Values{"name": {"stolen"}}},
	} {
		r := e.do("POST", c.path, e.sessions["admin"], c.form, evil)
		if r.status != http.StatusForbidden || strings.Contains(r.body, "rgw_") {
			t.Errorf("cross-site POST %s: %d\n%s", c.path, r.status, r.body)
		}
		if r.header.Get("Content-Security-Policy") != wantCSP {
			t.Errorf("refusal lacks the CSP")
		}
	}
	// Origin alone (older browsers) is checked against Host.
	r := e.do("POST", "/users", e.sessions["admin"], url.Values{"email": {"mallory@example.com"}, "role": {"admin"}},
		map[string]string{"Origin": "https://evil.example"})
	if r.status != http.StatusForbidden {
		t.Errorf("cross-origin POST without Sec-Fetch-Site: %d", r.status)
	}
	if _, err := e.st.GetUserByEmail(context.Background(), "mallory@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Error("cross-site POST created a user")
	}
	if mustUser(t, e, "viewer@example.com").Role != "viewer" {
		t.Error("cross-site POST changed a role")
	}
	// Every refusal is audited, under the session's owner when the post
	// carried the cookie.
	e.flush()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Decision: "deny", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var refused int
	for _, ev := range evs {
		if ev.Reason == string(authz.ReasonCrossOrigin) {
			refused++
			if ev.Actor != "admin@example.com" || ev.Status != http.StatusForbidden || ev.Action != "console.form" || ev.Path == "" {
				t.Errorf("cross-site refusal audited as %+v", ev)
			}
		}
	}
	if refused != 4 {
		t.Errorf("%d cross-site refusals audited, want 4", refused)
	}
	// Same-origin requests from the browser are fine.
	r = e.do("POST", "/users", e.sessions["admin"], url.Values{"email": {"ok@example.com"}, "role": {"viewer"}},
		map[string]string{"Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"})
	if r.status != http.StatusSeeOther {
		t.Errorf("same-origin POST: %d", r.status)
	}
}

var (
	scriptRE  = regexp.MustCompile(`(?i)<script`)
	handlerRE = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	styleRE   = regexp.MustCompile(`(?i)\sstyle\s*=|<style`)
)

func TestSecurityHeadersAndNoInlineScript(t *testing.T) {
	e := newEnv(t)
	adm := e.sessions["admin"]
	// Data to render on every page.
	e.post("/tokens", adm, url.Values{"name": {"t1"}})
	pages := []string{"/racks/dev", "/users", "/tokens", "/tokens?all=1", "/account", "/audit", "/nope"}
	for _, p := range pages {
		r := e.get(p, adm)
		h := r.header
		if csp := h.Get("Content-Security-Policy"); csp != wantCSP || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
			"Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", p, k, h.Get(k), v)
			}
		}
		if scriptRE.MatchString(r.body) || handlerRE.MatchString(r.body) || styleRE.MatchString(r.body) {
			t.Errorf("%s: inline script, event handler or style in the HTML", p)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("%s: content type %q", p, h.Get("Content-Type"))
		}
	}
	r := e.get("/tokens", adm)
	m := regexp.MustCompile(`href="(/static/console\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no stylesheet link")
	}
	css := e.get(m[1], "")
	if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") ||
		!strings.Contains(css.header.Get("Cache-Control"), "max-age=31536000") || !strings.Contains(css.body, ".top") {
		t.Errorf("stylesheet: %d %v", css.status, css.header)
	}
	if n := strings.Count(css.body, "\n"); n >= 200 {
		t.Errorf("stylesheet has %d lines", n)
	}
}

func TestOutputIsEscaped(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	evil := `<script>alert(1)</script>`
	if _, err := e.admin.CreateUser(ctx, admin.Actor{System: "test"}, "xss@example.com", evil, "viewer"); err != nil {
		t.Fatal(err)
	}
	r := e.get("/users", e.sessions["admin"])
	if r.status != 200 || strings.Contains(r.body, evil) || !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("name not escaped: %d\n%s", r.status, r.body)
	}
	// A token name and an audit filter echo are escaped too.
	e.post("/tokens", e.sessions["admin"], url.Values{"name": {`"><img src=x onerror=alert(1)>`}})
	r = e.get("/tokens", e.sessions["admin"])
	if strings.Contains(r.body, "<img") || !strings.Contains(r.body, "&lt;img src=x") {
		t.Errorf("token name not escaped")
	}
	r = e.get("/audit?actor="+url.QueryEscape(`"><script>x</script>`), e.sessions["admin"])
	if scriptRE.MatchString(r.body) {
		t.Errorf("audit filter echo not escaped")
	}
	// A forged flash cookie is escaped as well.
	forged := &http.Cookie{Name: "rgw_flash", Value: base64.RawURLEncoding.EncodeToString([]byte("err:" + evil))}
	r = e.do("GET", "/account", e.sessions["admin"], nil, nil, forged)
	if strings.Contains(r.body, evil) {
		t.Errorf("flash not escaped")
	}
}

func TestRackSelection(t *testing.T) {
	e := newEnvRacks(t, "dev", "staging")
	ctx := context.Background()
	if err := e.admin.SetRackRole(ctx, admin.Actor{System: "test"}, "deployer@example.com", "staging", "viewer"); err != nil {
		t.Fatal(err)
	}
	dep := e.startSession("deployer@example.com", authn.KindWeb) // the binding ended the old one
	if r := e.get("/", dep); r.status != 200 || !strings.Contains(r.body, `href="/racks/staging"`) || !strings.Contains(r.body, `href="/racks/dev"`) {
		t.Fatalf("rack list: %d\n%s", r.status, r.body)
	}
	// The layout's selector asks "/" for a rack: it leads to its page.
	if r := e.get("/?rack=staging", dep); r.status != 303 || location(r) != "/racks/staging" {
		t.Fatalf("/?rack=staging: %d %q", r.status, location(r))
	}
	r := e.get("/racks/staging", dep)
	if r.status != 200 || !strings.Contains(r.body, "<h1>Rack staging</h1>") || !strings.Contains(r.body, "viewer on staging") ||
		!strings.Contains(r.body, `<option value="staging" selected>`) || !strings.Contains(r.body, `href="/tokens?rack=staging"`) ||
		!strings.Contains(r.body, `href="/racks/staging/apps/myapp"`) || !strings.Contains(r.body, `<form class="inline" method="get" action="/">`) {
		t.Fatalf("staging overview: %d\n%s", r.status, r.body)
	}
	if r := e.get("/racks/dev", dep); strings.Contains(r.body, "viewer on") || !strings.Contains(r.body, "<h1>Rack dev</h1>") {
		t.Error("dev rack page shows the staging role")
	}
	if r := e.get("/?rack=nosuch", dep); location(r) != "/racks/dev" {
		t.Error("an unknown rack does not fall back to the default")
	}
	if r := e.get("/racks/nosuch", dep); r.status != 404 {
		t.Errorf("an unknown rack's page: %d", r.status)
	}
	r = e.get("/account", dep)
	if !strings.Contains(r.body, "staging: <span class=\"badge alt\">viewer</span>") {
		t.Errorf("account lacks the rack role:\n%s", r.body)
	}
	e.flush()
	evs, _ := e.st.ListAudit(ctx, store.AuditFilter{Actor: "deployer@example.com", Rack: "staging", Action: "console.view"})
	if len(evs) == 0 || evs[0].Role != "viewer" {
		t.Errorf("staging reads not audited under the staging role: %+v", evs)
	}
}
