package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/gateway"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// release is the current release of the simulated rack's myapp; its env
// holds DATABASE_URL=postgres://u:secretpw@db/x and SECRET_KEY_BASE=9f86….
const release = "/rack/apps/myapp/releases/RMYAPPSECND"

// env is a gateway (assembled by gateway.New, which uses package web for its
// HTTP surface) in front of a simulated rack, on a SQLite store, with one
// user and API token per built-in role.
type env struct {
	t       *testing.T
	rackSrv *httptest.Server
	gw      *gateway.Gateway
	srv     *httptest.Server
	st      store.Store
	tokens  map[string]string // role → token
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, tokens: map[string]string{}}
	rack := simrack.New(simrack.Config{Password: "pw"})
	e.rackSrv = httptest.NewServer(rack.Handler())
	t.Cleanup(e.rackSrv.Close)

	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "gw.db")
	st, err := storeopen.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e.st = st
	cfg := &config.Config{
		Addr:        "127.0.0.1:0",
		DatabaseURL: dsn,
		Audit:       config.DevAudit(t.TempDir()),
		Racks:       []config.Rack{{Name: "dev", URL: e.rackSrv.URL, Password: "pw"}},
		MFA:         config.MFA{EncryptionKeys: config.NewMFAKey(time.Now())},
	}
	cfg.SetDefaults(cfg.Addr)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	g, err := gateway.New(context.Background(), cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	e.gw = g
	g.Start()
	e.srv = httptest.NewServer(g.Handler)
	t.Cleanup(func() {
		e.srv.CloseClientConnections()
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Stop()
		_ = g.Audit.Close(ctx)
		_ = st.Close()
	})
	sys := admin.Actor{System: "test"}
	for _, role := range authz.RoleNames() {
		email := role + "@example.com"
		if _, err := g.Admin.CreateUser(ctx, sys, email, "", role); err != nil {
			t.Fatalf("create user: %v", err)
		}
		tok, err := g.Admin.CreateToken(ctx, sys, admin.TokenRequest{Name: role, Owner: email})
		if err != nil {
			t.Fatalf("create token: %v", err)
		}
		e.tokens[role] = tok.Token
	}
	return e
}

// api calls the admin API with a Bearer token.
func (e *env) api(method, path, token, body string) (int, string, http.Header) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// rack calls the rack API through the gateway as the convox CLI does.
func (e *env) rack(method, path, token string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("convox:"+token)))
	}
	req.Header.Set("User-Agent", "convox.go/dev")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) get(path string) (int, string, http.Header) {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// auditEvents flushes the audit queue and returns every event, oldest first.
func (e *env) auditEvents() []chain.Event {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.gw.Audit.Flush(ctx); err != nil {
		e.t.Fatalf("audit flush: %v", err)
	}
	evs, err := e.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// tokenID returns the ID of the named token of a user.
func (e *env) tokenID(email, name string) int64 {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.st.GetUserByEmail(ctx, email)
	if err != nil {
		e.t.Fatal(err)
	}
	ts, err := e.st.ListTokens(ctx, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, tk := range ts {
		if tk.Name == name {
			return tk.ID
		}
	}
	e.t.Fatalf("no token %q for %s", name, email)
	return 0
}

// storeToken creates a user and a token with the given scope straight in the
// store, bypassing the admin service's limits.
func (e *env) storeToken(email, role string, perms []string) string {
	e.t.Helper()
	ctx := context.Background()
	u := &store.User{Email: email, Role: role}
	if err := e.st.CreateUser(ctx, u); err != nil {
		e.t.Fatal(err)
	}
	tok, hash := authn.NewToken()
	if err := e.st.CreateToken(ctx, &store.APIToken{Name: "full", Prefix: authn.DisplayPrefix(tok), Hash: hash,
		UserID: u.ID, Permissions: perms}); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy = %q", what, csp)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, body, h := e.get("/healthz")
	if status != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", status, body)
	}
	checkSecurityHeaders(t, "/healthz", h)
	// Only GET.
	resp, err := http.Post(e.srv.URL+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d", resp.StatusCode)
	}
	// The home page names the version and how to point the CLI here.
	if status, body, h := e.get("/"); status != 200 || !strings.Contains(body, "rack-gateway") || !strings.Contains(body, "RACK_URL") {
		t.Errorf("/: %d %q", status, body)
	} else {
		checkSecurityHeaders(t, "/", h)
	}
	if status, _, _ := e.get("/nope"); status != 404 {
		t.Errorf("/nope: %d", status)
	}
}

func TestReadyzRackDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fake := clock.NewFake(time.Now())
	e.gw.Web.Clock = fake
	status, body, h := e.get("/readyz")
	if status != 200 || body != "ready\n" {
		t.Fatalf("/readyz: %d %q", status, body)
	}
	checkSecurityHeaders(t, "/readyz", h)
	e.rackSrv.CloseClientConnections()
	e.rackSrv.Close()
	// Rack results are cached for five seconds: within them the cached
	// answer stands; once they have passed, the probe fails and names the
	// rack.
	fake.Advance(4 * time.Second)
	if status, body, _ = e.get("/readyz"); status != 200 {
		t.Fatalf("/readyz within the cache's life: %d %q, want the cached 200", status, body)
	}
	fake.Advance(2 * time.Second)
	if status, body, _ = e.get("/readyz"); status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after the cache expired: %d %q, want 503", status, body)
	}
	if !strings.Contains(body, "rack dev") {
		t.Errorf("503 body does not name the rack: %q", body)
	}
	if strings.Contains(body, "pw") {
		t.Errorf("503 body mentions the password: %q", body)
	}
}

func TestReadyzFreshGatewayRackDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.rackSrv.CloseClientConnections()
	e.rackSrv.Close()
	status, body, _ := e.get("/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "rack dev:") {
		t.Errorf("/readyz with the rack down: %d %q", status, body)
	}
}

func TestReadyzDatabaseDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if status, _, _ := e.get("/readyz"); status != 200 {
		t.Fatalf("/readyz: %d", status)
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	status, body, _ := e.get("/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "database: unavailable") {
		t.Errorf("/readyz with the database closed: %d %q", status, body)
	}
	// With the store gone the admin API fails closed.
	if status, body, _ := e.api("GET", "/api/v1/me", e.tokens[authz.RoleAdmin], ""); status != http.StatusServiceUnavailable {
		t.Errorf("/api/v1/me with the database closed: %d %s", status, body)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, body, h := e.get("/metrics")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	checkSecurityHeaders(t, "/metrics", h)
	if strings.Contains(body, "rgw_requests_total{") {
		t.Errorf("rgw_requests_total has series before any proxied call")
	}
	if s, _ := e.rack("GET", "/rack/apps", e.tokens[authz.RoleViewer]); s != 200 {
		t.Fatalf("GET /rack/apps: %d", s)
	}
	if s, _ := e.rack("GET", "/rack/registries", e.tokens[authz.RoleViewer]); s != 403 {
		t.Fatalf("viewer GET /rack/registries: %d", s)
	}
	_, body, _ = e.get("/metrics")
	for _, want := range []string{
		"# TYPE rgw_requests_total counter",
		`rgw_requests_total{decision="allow",rack="dev",route="AppList",status="200"} 1`,
		`rgw_requests_total{decision="deny",rack="dev",route="RegistryList",status="403"} 1`,
		`rgw_request_duration_seconds_count{rack="dev",route="AppList"} 1`,
		"rgw_audit_queue_length",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, e.tokens[authz.RoleViewer]) {
		t.Error("/metrics contains a token")
	}
}

func TestAdminAPIUnauthenticated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	unknown, _ := authn.NewToken()
	calls := []struct{ method, path, body string }{
		{"GET", "/api/v1/me", ""},
		{"GET", "/api/v1/roles", ""},
		{"GET", "/api/v1/users", ""},
		{"POST", "/api/v1/users", `{"email":"x@example.com","role":"admin"}`},
		{"PATCH", "/api/v1/users/viewer@example.com", `{"role":"admin"}`},
		{"PUT", "/api/v1/users/viewer@example.com/racks/dev", `{"role":"admin"}`},
		{"GET", "/api/v1/tokens", ""},
		{"POST", "/api/v1/tokens", `{"name":"x"}`},
		{"DELETE", "/api/v1/tokens/1", ""},
		{"GET", "/api/v1/audit", ""},
	}
	for _, c := range calls {
		for _, tok := range []string{"", unknown, "garbage"} {
			status, body, h := e.api(c.method, c.path, tok, c.body)
			if status != http.StatusUnauthorized {
				t.Errorf("%s %s token %q: %d %s, want 401", c.method, c.path, tok, status, body)
				continue
			}
			if h.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: 401 without WWW-Authenticate", c.method, c.path)
			}
			checkSecurityHeaders(t, c.method+" "+c.path, h)
			wantReason := authz.ReasonUnauthenticated
			if tok != "" {
				wantReason = authz.ReasonInvalidCredential
			}
			var res apitypes.Error
			if err := json.Unmarshal([]byte(body), &res); err != nil || res.Reason != string(wantReason) {
				t.Errorf("%s %s token %q: body %s, want reason %s", c.method, c.path, tok, body, wantReason)
			}
		}
	}
	// Nothing was changed.
	if _, err := e.st.GetUserByEmail(context.Background(), "x@example.com"); err == nil {
		t.Error("unauthenticated POST /api/v1/users created a user")
	}
}

func TestAdminAPIViewer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.tokens[authz.RoleViewer]
	adminTokID := e.tokenID("admin@example.com", authz.RoleAdmin)

	// Denied: user administration, other people's tokens, the audit log.
	denied := []struct{ method, path, body string }{
		{"GET", "/api/v1/users", ""},
		{"POST", "/api/v1/users", `{"email":"new@example.com","role":"viewer"}`},
		{"PATCH", "/api/v1/users/viewer@example.com", `{"role":"admin"}`},
		{"PUT", "/api/v1/users/viewer@example.com/racks/dev", `{"role":"admin"}`},
		{"GET", "/api/v1/tokens?all=1", ""},
		{"GET", "/api/v1/audit", ""},
		{"POST", "/api/v1/tokens", `{"name":"x","permissions":["env:read"]}`},
		{"POST", "/api/v1/tokens", `{"name":"x","permissions":["app:read","gateway:users"]}`},
		{"POST", "/api/v1/tokens", `{"name":"x","owner":"admin@example.com"}`},
	}
	for _, c := range denied {
		status, body, h := e.api(c.method, c.path, viewer, c.body)
		if status != http.StatusForbidden {
			t.Errorf("viewer %s %s %s: %d %s, want 403", c.method, c.path, c.body, status, body)
		}
		checkSecurityHeaders(t, c.method+" "+c.path, h)
	}
	// Another's token is refused as if it did not exist (no id oracle).
	if status, body, _ := e.api("DELETE", fmt.Sprintf("/api/v1/tokens/%d", adminTokID), viewer, ""); status != http.StatusNotFound {
		t.Errorf("viewer revoking the admin's token: %d %s, want 404", status, body)
	}
	ctx := context.Background()
	if _, err := e.st.GetUserByEmail(ctx, "new@example.com"); err == nil {
		t.Error("viewer created a user")
	}
	if u, _ := e.st.GetUserByEmail(ctx, "viewer@example.com"); u.Role != authz.RoleViewer {
		t.Errorf("viewer changed their role to %q", u.Role)
	}
	if tk, _ := e.st.GetToken(ctx, adminTokID); !tk.RevokedAt.IsZero() {
		t.Error("viewer revoked the admin's token")
	}
	if bs, _ := e.st.ListRoleBindings(ctx, mustUser(t, e, "viewer@example.com").ID); len(bs) != 0 {
		t.Errorf("viewer bound themselves: %+v", bs)
	}

	// Allowed: who am I, roles, own tokens.
	status, body, _ := e.api("GET", "/api/v1/me", viewer, "")
	var me apitypes.Me
	if err := json.Unmarshal([]byte(body), &me); status != 200 || err != nil {
		t.Fatalf("/me: %d %s", status, body)
	}
	if me.Email != "viewer@example.com" || me.Kind != "token" || me.Role != "viewer" || me.TokenName != "viewer" {
		t.Errorf("/me = %+v", me)
	}
	for _, p := range me.Permissions {
		if p == string(authz.EnvRead) || p == string(authz.GatewayUsers) {
			t.Errorf("/me lists %s for a viewer", p)
		}
	}
	if status, body, _ := e.api("GET", "/api/v1/roles", viewer, ""); status != 200 || !strings.Contains(body, `"admin"`) {
		t.Errorf("/roles: %d %.200s", status, body)
	}

	// Own token within the viewer's rights: 201, with a working secret.
	status, body, h := e.api("POST", "/api/v1/tokens", viewer, `{"name":"mine","permissions":["app:read"],"expires_in":"1h"}`)
	if status != http.StatusCreated {
		t.Fatalf("viewer own token: %d %s", status, body)
	}
	checkSecurityHeaders(t, "POST /api/v1/tokens", h)
	var created apitypes.CreatedToken
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Token, "rgw_") || created.Detail.Owner != "viewer@example.com" ||
		created.Detail.ExpiresAt == "" || len(created.Detail.Permissions) != 1 || created.Detail.Permissions[0] != "app:read" {
		t.Errorf("created = %+v", created)
	}
	if s, _ := e.rack("GET", "/rack/apps", created.Token); s != 200 {
		t.Errorf("new token GET /rack/apps: %d", s)
	}
	if s, _ := e.rack("GET", "/rack/apps/myapp/processes", created.Token); s != 403 {
		t.Errorf("new token outside its scope: %d", s)
	}
	// Default scope is the viewer's rights.
	status, body, _ = e.api("POST", "/api/v1/tokens", viewer, `{"name":"default"}`)
	if status != http.StatusCreated {
		t.Fatalf("viewer default token: %d %s", status, body)
	}
	var def apitypes.CreatedToken
	_ = json.Unmarshal([]byte(body), &def)
	vp, _ := authz.RolePermissions(authz.RoleViewer)
	if strings.Join(def.Detail.Permissions, ",") != strings.Join(vp.Strings(), ",") {
		t.Errorf("default scope = %v, want %v", def.Detail.Permissions, vp.Strings())
	}

	// Own tokens are listed, nobody else's.
	status, body, _ = e.api("GET", "/api/v1/tokens", viewer, "")
	var list []apitypes.Token
	if err := json.Unmarshal([]byte(body), &list); status != 200 || err != nil {
		t.Fatalf("list tokens: %d %s", status, body)
	}
	if len(list) != 3 {
		t.Errorf("viewer sees %d tokens, want 3", len(list))
	}
	for _, tv := range list {
		if tv.Owner != "viewer@example.com" {
			t.Errorf("viewer sees %s's token %q", tv.Owner, tv.Name)
		}
		if strings.Contains(body, created.Token) {
			t.Error("token list contains a secret")
		}
	}

	// Own token revoke: 200, and it stops working at once.
	status, body, _ = e.api("DELETE", fmt.Sprintf("/api/v1/tokens/%d", created.Detail.ID), viewer, "")
	if status != 200 {
		t.Fatalf("viewer revoking own token: %d %s", status, body)
	}
	if s, b := e.rack("GET", "/rack/apps", created.Token); s != 401 || !strings.Contains(b, "token_revoked") {
		t.Errorf("revoked token: %d %s", s, b)
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

func TestAdminAPIAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adminTok := e.tokens[authz.RoleAdmin]
	deployerTokID := e.tokenID("deployer@example.com", authz.RoleDeployer)

	steps := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"GET", "/api/v1/users", "", 200, "viewer@example.com"},
		{"POST", "/api/v1/users", `{"email":" New@Example.com ","name":"New","role":"ops"}`, 201, `"email": "new@example.com"`},
		{"POST", "/api/v1/users", `{"email":"new@example.com","role":"ops"}`, 409, ""},
		{"POST", "/api/v1/users", `{"email":"not-an-email","role":"viewer"}`, 400, ""},
		{"POST", "/api/v1/users", `{"email":"x@example.com","role":"root"}`, 400, "unknown role"},
		{"PATCH", "/api/v1/users/new@example.com", `{"role":"deployer","name":"Renamed"}`, 200, `"role": "deployer"`},
		{"PATCH", "/api/v1/users/new@example.com", `{}`, 400, "nothing to change"},
		{"PATCH", "/api/v1/users/ghost@example.com", `{"role":"viewer"}`, 404, ""},
		{"PUT", "/api/v1/users/new@example.com/racks/dev", `{"role":"admin"}`, 200, "ok"},
		{"PUT", "/api/v1/users/new@example.com/racks/dev", `{"role":"king"}`, 400, ""},
		{"GET", "/api/v1/users", "", 200, `"dev": "admin"`},
		{"GET", "/api/v1/tokens?all=1", "", 200, "deployer@example.com"},
		{"POST", "/api/v1/tokens", `{"name":"for-new","owner":"new@example.com","permissions":["app:read"]}`, 201, "rgw_"},
		{"POST", "/api/v1/tokens", `{"name":"","owner":"new@example.com"}`, 400, ""},
		{"POST", "/api/v1/tokens", `{"name":"x","expires_in":"forever"}`, 400, ""},
		{"POST", "/api/v1/tokens", `{"name":"x","permissions":["app:fly"]}`, 400, ""},
		{"DELETE", fmt.Sprintf("/api/v1/tokens/%d", deployerTokID), "", 200, "revoked"},
		{"DELETE", fmt.Sprintf("/api/v1/tokens/%d", deployerTokID), "", 200, ""}, // idempotent
		{"DELETE", "/api/v1/tokens/99999", "", 404, ""},
		{"DELETE", "/api/v1/tokens/abc", "", 400, ""},
		// Filtered by action: the newest five of everything depend on how
		// the earlier steps' events were batched (a flake on a loaded CI).
		{"GET", "/api/v1/audit?limit=5&action=user.create", "", 200, `"action": "user.create"`},
		{"GET", "/api/v1/audit?since=yesterday", "", 400, "bad filter"},
		{"GET", "/api/v1/audit?limit=x", "", 400, "bad filter"},
		{"GET", "/api/v1/audit?limit=0", "", 400, "limit must be 1 to 1000"},
		{"GET", "/api/v1/audit?limit=1001", "", 400, "limit must be 1 to 1000"},
		{"GET", "/api/v1/audit?before=-1", "", 400, "bad filter"},
		{"GET", "/api/v1/audit?decision=maybe", "", 400, "decision must be allow or deny"},
		// An admin can neither disable themselves nor change their own role.
		{"PATCH", "/api/v1/users/admin@example.com", `{"disabled":true}`, 400, "yourself"},
		{"PATCH", "/api/v1/users/admin@example.com", `{"role":"viewer"}`, 400, "yourself"},
		{"PATCH", "/api/v1/users/ADMIN@example.com", `{"disabled":true}`, 400, "yourself"},
		// Renaming oneself is fine.
		{"PATCH", "/api/v1/users/admin@example.com", `{"name":"The Admin","disabled":false}`, 200, "The Admin"},
	}
	for _, s := range steps {
		status, body, h := e.api(s.method, s.path, adminTok, s.body)
		if status != s.status || !strings.Contains(body, s.contains) {
			t.Errorf("admin %s %s %s: %d %s, want %d containing %q", s.method, s.path, s.body, status, body, s.status, s.contains)
		}
		if h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Content-Type %q Cache-Control %q", s.method, s.path, h.Get("Content-Type"), h.Get("Cache-Control"))
		}
		checkSecurityHeaders(t, s.method+" "+s.path, h)
	}
	ctx := context.Background()
	if u := mustUser(t, e, "admin@example.com"); u.Disabled || u.Role != authz.RoleAdmin {
		t.Errorf("admin after self-change attempts: %+v", u)
	}
	if u := mustUser(t, e, "new@example.com"); u.Role != authz.RoleDeployer || u.Name != "Renamed" {
		t.Errorf("new user: %+v", u)
	}
	if s, _ := e.rack("GET", "/rack/apps", e.tokens[authz.RoleDeployer]); s != 401 {
		t.Errorf("revoked deployer token still works: %d", s)
	}
	if tk, _ := e.st.GetToken(ctx, deployerTokID); tk.RevokedAt.IsZero() {
		t.Error("token not revoked in the store")
	}
}

func TestAdminAPIMalformedJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adminTok := e.tokens[authz.RoleAdmin]
	bodies := []string{`{"email":`, `not json`, `[]`, `{"email":"a@example.com","role":"viewer","extra":1}`, `{"role":1}`,
		// One object only: trailing data is refused, not ignored.
		`{"email":"a@example.com","role":"viewer"} {"email":"b@example.com"}`, `{"email":"a@example.com","role":"viewer"}x`,
		// encoding/json alone would take "Role" for "role", and the last of
		// repeated keys: an admin smuggled past anything reading the first.
		`{"email":"a@example.com","role":"viewer","Role":"admin"}`, `{"email":"a@example.com","role":"viewer","role":"admin"}`}
	paths := []struct{ method, path string }{
		{"POST", "/api/v1/users"},
		{"PATCH", "/api/v1/users/viewer@example.com"},
		{"PUT", "/api/v1/users/viewer@example.com/racks/dev"},
		{"POST", "/api/v1/tokens"},
	}
	for _, p := range paths {
		for _, b := range bodies {
			status, body, _ := e.api(p.method, p.path, adminTok, b)
			if status != http.StatusBadRequest || !strings.Contains(body, "bad_request") {
				t.Errorf("%s %s %s: %d %s, want 400", p.method, p.path, b, status, body)
			}
		}
	}
	// An oversized body is refused, not read without bound.
	big := `{"email":"a@example.com","name":"` + strings.Repeat("x", 2<<20) + `","role":"viewer"}`
	if status, body, _ := e.api("POST", "/api/v1/users", adminTok, big); status != http.StatusRequestEntityTooLarge ||
		!strings.Contains(body, `"reason": "body_too_large"`) {
		t.Errorf("2 MiB body: %d %s, want 413 body_too_large", status, body)
	}
	if _, err := e.st.GetUserByEmail(context.Background(), "a@example.com"); err == nil {
		t.Error("a malformed request created a user")
	}
}

// releaseEnv reads the current myapp release through the gateway and returns
// whether it carries env and the env itself.
func (e *env) releaseEnv(token string) (bool, string) {
	e.t.Helper()
	status, body := e.rack("GET", release, token)
	if status != 200 {
		e.t.Fatalf("GET %s: %d %s", release, status, body)
	}
	var rel map[string]any
	if err := json.Unmarshal([]byte(body), &rel); err != nil {
		e.t.Fatalf("release JSON: %v: %s", err, body)
	}
	v, ok := rel["env"].(string)
	return ok, v
}

func TestRoleChangeTakesEffectOnNextRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adminTok := e.tokens[authz.RoleAdmin]
	// A viewer whose token scope is not the limit, so only the role decides.
	promo := e.storeToken("promo@example.com", authz.RoleViewer, authz.Universe().Strings())

	if has, _ := e.releaseEnv(promo); has {
		t.Fatal("viewer sees the release env")
	}
	// Warm the authenticator cache (TTL 5s) before the change.
	if s, _ := e.rack("GET", "/rack/apps", promo); s != 200 {
		t.Fatalf("viewer GET /rack/apps: %d", s)
	}
	if s, b, _ := e.api("PATCH", "/api/v1/users/promo@example.com", adminTok, `{"role":"deployer"}`); s != 200 {
		t.Fatalf("promote: %d %s", s, b)
	}
	has, envDoc := e.releaseEnv(promo)
	if !has {
		t.Fatal("after viewer→deployer the release env is still hidden")
	}
	if !strings.Contains(envDoc, "SECRET_KEY_BASE=********") || !strings.Contains(envDoc, "PORT=3000") || strings.Contains(envDoc, "secretpw") {
		t.Errorf("deployer env not masked as expected: %q", envDoc)
	}

	// Per-rack binding overrides the global role on the next request.
	if s, b, _ := e.api("PUT", "/api/v1/users/promo@example.com/racks/dev", adminTok, `{"role":"viewer"}`); s != 200 {
		t.Fatalf("bind: %d %s", s, b)
	}
	if has, _ := e.releaseEnv(promo); has {
		t.Error("rack binding to viewer did not hide the env")
	}
	if s, b, _ := e.api("PUT", "/api/v1/users/promo@example.com/racks/dev", adminTok, `{"role":""}`); s != 200 {
		t.Fatalf("unbind: %d %s", s, b)
	}
	if has, _ := e.releaseEnv(promo); !has {
		t.Error("removing the binding did not restore the deployer role")
	}

	// Demotion of a default-scoped token: deployer → viewer hides the env.
	dep := e.tokens[authz.RoleDeployer]
	if has, _ := e.releaseEnv(dep); !has {
		t.Fatal("deployer does not see the env")
	}
	if s, b, _ := e.api("PATCH", "/api/v1/users/deployer@example.com", adminTok, `{"role":"viewer"}`); s != 200 {
		t.Fatalf("demote: %d %s", s, b)
	}
	if has, _ := e.releaseEnv(dep); has {
		t.Error("after deployer→viewer the env is still shown")
	}
	// Disabling takes effect at once too.
	if s, b, _ := e.api("PATCH", "/api/v1/users/deployer@example.com", adminTok, `{"disabled":true}`); s != 200 {
		t.Fatalf("disable: %d %s", s, b)
	}
	if s, b := e.rack("GET", "/rack/apps", dep); s != 401 || !strings.Contains(b, "user_disabled") {
		t.Errorf("disabled user: %d %s", s, b)
	}
}

// The brief's scenario: a viewer with an ordinary token (minted with the
// default scope) promoted to deployer sees the env on the next request.
func TestPromotedViewerDefaultTokenSeesEnv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.tokens[authz.RoleViewer]
	if has, _ := e.releaseEnv(viewer); has {
		t.Fatal("viewer sees the release env")
	}
	if s, b, _ := e.api("PATCH", "/api/v1/users/viewer@example.com", e.tokens[authz.RoleAdmin], `{"role":"deployer"}`); s != 200 {
		t.Fatalf("promote: %d %s", s, b)
	}
	if has, _ := e.releaseEnv(viewer); !has {
		t.Error("after viewer→deployer the viewer's token still gets the release without env")
	}
}

// detailsOf decodes an audit event's Details.
func detailsOf(t *testing.T, ev chain.Event) map[string]any {
	t.Helper()
	if ev.Details == "" {
		return nil
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(ev.Details), &d); err != nil {
		t.Fatalf("event %d details %q: %v", ev.ID, ev.Details, err)
	}
	return d
}

func TestAdminChangesAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adminTok := e.tokens[authz.RoleAdmin]
	viewerTok := e.tokens[authz.RoleViewer]
	calls := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/api/v1/users", `{"email":"aud@example.com","name":"Aud","role":"viewer"}`, 201},
		{"PATCH", "/api/v1/users/aud@example.com", `{"role":"ops"}`, 200},
		{"PATCH", "/api/v1/users/aud@example.com", `{"disabled":true}`, 200},
		{"POST", "/api/v1/tokens", `{"name":"aud-token","owner":"ops@example.com"}`, 201},
	}
	for _, c := range calls {
		if s, b, _ := e.api(c.method, c.path, adminTok, c.body); s != c.status {
			t.Fatalf("%s %s: %d %s", c.method, c.path, s, b)
		}
	}
	tokID := e.tokenID("ops@example.com", "aud-token")
	if s, b, _ := e.api("DELETE", fmt.Sprintf("/api/v1/tokens/%d", tokID), adminTok, ""); s != 200 {
		t.Fatalf("revoke: %d %s", s, b)
	}
	if s, b, _ := e.api("PUT", "/api/v1/users/aud@example.com/racks/dev", adminTok, `{"role":"deployer"}`); s != 200 {
		t.Fatalf("rack role: %d %s", s, b)
	}
	// Refusals are audited too.
	if s, _, _ := e.api("GET", "/api/v1/users", viewerTok, ""); s != 403 {
		t.Fatalf("viewer list users: %d", s)
	}
	if s, _, _ := e.api("POST", "/api/v1/users", viewerTok, `{"email":"v@example.com","role":"admin"}`); s != 403 {
		t.Fatalf("viewer create user: %d", s)
	}

	// Changes are recorded twice: an attempt before they are made and
	// their outcome after; byAction holds the attempts (and refusals),
	// outcomes the outcomes.
	byAction := map[string][]chain.Event{}
	outcomes := map[string][]chain.Event{}
	for _, ev := range e.auditEvents() {
		if ev.Actor == "admin@example.com" || ev.Actor == "viewer@example.com" {
			if strings.Contains(ev.Details, `"phase":"outcome"`) {
				outcomes[ev.Action] = append(outcomes[ev.Action], ev)
				continue
			}
			byAction[ev.Action] = append(byAction[ev.Action], ev)
		}
	}
	for action, n := range map[string]int{"user.create": 1, "user.update": 2, "token.create": 1, "token.revoke": 1, "user.rack-role": 1} {
		evs := outcomes[action]
		if len(evs) != n {
			t.Errorf("%s: %d outcomes, want %d", action, len(evs), n)
		}
		for _, ev := range evs {
			if ev.Status != 200 || ev.Decision != "allow" {
				t.Errorf("%s outcome: status %d %s", action, ev.Status, ev.Decision)
			}
		}
	}
	// Admin events carry who did it, from where, and under which role.
	for action, evs := range byAction {
		for _, ev := range evs {
			if ev.ActorType != "token" || ev.ActorID == 0 || ev.TokenID == 0 || ev.SourceIP != "127.0.0.1" || ev.Role == "" {
				t.Errorf("%s event lacks actor fields: %+v", action, ev)
			}
		}
	}

	create := byAction["user.create"]
	if len(create) != 2 {
		t.Fatalf("user.create events: %+v", create)
	}
	if ev := create[0]; ev.Decision != "allow" || ev.Resource != "aud@example.com" {
		t.Errorf("user.create: %+v", ev)
	} else if after, _ := detailsOf(t, ev)["after"].(map[string]any); after["role"] != "viewer" || after["email"] != "aud@example.com" {
		t.Errorf("user.create details: %s", ev.Details)
	}
	if ev := create[1]; ev.Decision != "deny" || ev.Actor != "viewer@example.com" || ev.Status != 403 || ev.Reason == "" {
		t.Errorf("viewer user.create refusal: %+v", ev)
	}

	updates := byAction["user.update"]
	if len(updates) != 2 {
		t.Fatalf("user.update events: %d", len(updates))
	}
	for i, want := range []struct{ field, before, after any }{
		{"role", "viewer", "ops"},
		{"disabled", false, true},
	} {
		d := detailsOf(t, updates[i])
		before, _ := d["before"].(map[string]any)
		after, _ := d["after"].(map[string]any)
		if before == nil || after == nil {
			t.Errorf("user.update %d without before/after: %s", i, updates[i].Details)
			continue
		}
		if before[want.field.(string)] != want.before || after[want.field.(string)] != want.after {
			t.Errorf("user.update %d %s: before %v after %v, want %v → %v", i, want.field, before[want.field.(string)],
				after[want.field.(string)], want.before, want.after)
		}
		if updates[i].Resource != "aud@example.com" || updates[i].Decision != "allow" {
			t.Errorf("user.update %d: %+v", i, updates[i])
		}
	}

	tc := byAction["token.create"]
	if len(tc) != 1 {
		t.Fatalf("token.create events: %+v", tc)
	}
	after, _ := detailsOf(t, tc[0])["after"].(map[string]any)
	if after["owner"] != "ops@example.com" || after["name"] != "aud-token" || after["prefix"] == "" {
		t.Errorf("token.create details: %s", tc[0].Details)
	}
	if strings.Contains(tc[0].Details, "rgw_") && len(after["prefix"].(string)) > 10 {
		t.Errorf("token.create details hold more than a prefix: %s", tc[0].Details)
	}

	if tr := byAction["token.revoke"]; len(tr) != 1 || tr[0].Resource != "aud-token" {
		t.Errorf("token.revoke events: %+v", tr)
	}
	rr := byAction["user.rack-role"]
	if len(rr) != 1 || rr[0].Rack != "dev" || rr[0].Resource != "aud@example.com" {
		t.Fatalf("user.rack-role events: %+v", rr)
	}
	if d := detailsOf(t, rr[0]); d["role"] != "deployer" || d["rack"] != "dev" {
		t.Errorf("user.rack-role details: %s", rr[0].Details)
	}
	if ul := byAction["user.list"]; len(ul) != 1 || ul[0].Decision != "deny" {
		t.Errorf("user.list events: %+v", ul)
	}
	// Audit reads are themselves audited.
	if s, _, _ := e.api("GET", "/api/v1/audit", adminTok, ""); s != 200 {
		t.Fatal("audit read")
	}
	found := false
	for _, ev := range e.auditEvents() {
		if ev.Action == "audit.read" && ev.Actor == "admin@example.com" {
			found = true
		}
	}
	if !found {
		t.Error("audit.read not audited")
	}
}

// The admin package promises "audited with before/after"; a per-rack role
// change records only the new role, so the previous binding is lost.
func TestRackRoleChangeAuditedWithBeforeAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adminTok := e.tokens[authz.RoleAdmin]
	for _, role := range []string{"ops", "deployer"} {
		if s, b, _ := e.api("PUT", "/api/v1/users/viewer@example.com/racks/dev", adminTok, `{"role":"`+role+`"}`); s != 200 {
			t.Fatalf("rack role: %d %s", s, b)
		}
	}
	var last chain.Event
	for _, ev := range e.auditEvents() {
		if ev.Action == "user.rack-role" {
			last = ev
		}
	}
	d := detailsOf(t, last)
	before, _ := d["before"].(map[string]any)
	after, _ := d["after"].(map[string]any)
	if before == nil || after == nil || before["role"] != "ops" || after["role"] != "deployer" {
		t.Errorf("user.rack-role details %s, want before.role ops and after.role deployer", last.Details)
	}
}

func TestProxiedRequestsAuditedAndUnauthenticatedRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if s, b := e.rack("GET", "/rack/apps", ""); s != 401 || !strings.Contains(b, "unauthenticated") {
		t.Errorf("anonymous GET /rack/apps: %d %s", s, b)
	}
	if s, _ := e.rack("GET", "/rack/check", ""); s != 200 {
		t.Errorf("public /rack/check: %d", s)
	}
	if s, _ := e.rack("GET", "/racks/dev/apps", e.tokens[authz.RoleViewer]); s != 200 {
		t.Errorf("named rack: %d", s)
	}
	if s, _ := e.rack("GET", "/racks/nope/apps", e.tokens[authz.RoleViewer]); s != 404 {
		t.Errorf("unknown rack: %d", s)
	}
	var sawAnon, sawNamed bool
	for _, ev := range e.auditEvents() {
		if ev.Action == "AppList" && ev.Decision == "deny" && ev.Reason == string(authz.ReasonUnauthenticated) {
			sawAnon = true
		}
		if ev.Action == "AppList" && ev.Decision == "allow" && ev.Rack == "dev" && ev.Actor == "viewer@example.com" && ev.Status == 200 {
			sawNamed = true
		}
	}
	if !sawAnon || !sawNamed {
		t.Errorf("audit: anonymous refusal %v, allowed call %v", sawAnon, sawNamed)
	}
}

func TestAuditExportAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if s, _ := e.rack("GET", "/rack/apps", e.tokens[authz.RoleViewer]); s != 200 {
		t.Fatalf("proxied call: %d", s)
	}
	for _, role := range []string{authz.RoleViewer, authz.RoleOps, authz.RoleDeployer} {
		if s, b, _ := e.api("GET", "/api/v1/audit/export", e.tokens[role], ""); s != 403 {
			t.Errorf("%s export: %d %s", role, s, b)
		}
	}
	if s, _, _ := e.api("GET", "/api/v1/audit/export?format=xml", e.tokens[authz.RoleAdmin], ""); s != 400 {
		t.Errorf("bad format: %d", s)
	}
	if err := e.gw.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, body, h := e.api("GET", "/api/v1/audit/export", e.tokens[authz.RoleAdmin], "")
	if s != 200 || h.Get("Content-Type") != "application/x-ndjson" || !strings.Contains(h.Get("Content-Disposition"), ".jsonl") {
		t.Fatalf("jsonl export: %d %v", s, h)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], `"format":"rack-gateway-audit-export/v1"`) || !strings.Contains(body, `"route":"AppList"`) {
		t.Fatalf("jsonl export body: %.400s", body)
	}
	s, body, h = e.api("GET", "/api/v1/audit/export?format=csv&app=myapp", e.tokens[authz.RoleAdmin], "")
	if s != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.HasPrefix(body, "seq,time,") {
		t.Fatalf("csv export: %d %v %.200s", s, h, body)
	}
	found := false
	for _, ev := range e.auditEvents() {
		if ev.Action == "audit.export" && ev.Actor == "admin@example.com" && strings.Contains(ev.Details, `"format":"csv"`) {
			found = true
		}
	}
	if !found {
		t.Error("audit.export not audited")
	}
}
