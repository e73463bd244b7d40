package gateway_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/gateway"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// testEnv is a real gateway on loopback in front of a real simulated rack,
// with a SQLite store and one API token per built-in role.
type testEnv struct {
	t            testing.TB
	rack         *simrack.Rack
	rackSrv      *httptest.Server
	rackPassword string
	gw           *gateway.Gateway
	srv          *httptest.Server
	st           store.Store
	tokens       map[string]string // role → token
}

type configT = config.Config

type envOption func(*config.Config)

func newEnv(t testing.TB, opts ...envOption) *testEnv {
	t.Helper()
	return newEnvWrapped(t, nil, opts...)
}

// newEnvWrapped is newEnv with the gateway's store wrapped by wrap (nil:
// none), for tests that break one part of the database.
func newEnvWrapped(t testing.TB, wrap func(store.Store) store.Store, opts ...envOption) *testEnv {
	t.Helper()
	e := &testEnv{t: t, rackPassword: "rack-password-0123456789", tokens: map[string]string{}}
	e.rack = simrack.New(simrack.Config{Password: e.rackPassword})
	e.rackSrv = httptest.NewServer(e.rack.Handler())
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
		Racks:       []config.Rack{{Name: "dev", URL: e.rackSrv.URL, Password: e.rackPassword}},
		MFA:         config.MFA{EncryptionKeys: config.NewMFAKey(time.Now())},
	}
	for _, o := range opts {
		o(cfg)
	}
	cfg.SetDefaults(cfg.Addr)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	gst := st
	if wrap != nil {
		gst = wrap(st)
	}
	g, err := gateway.New(context.Background(), cfg, gst, nil)
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

// token mints an extra token for a role's user with a given scope.
func (e *testEnv) token(role string, perms ...authz.Permission) string {
	e.t.Helper()
	var names []string
	for _, p := range perms {
		names = append(names, string(p))
	}
	tok, err := e.gw.Admin.CreateToken(context.Background(), admin.Actor{System: "test"},
		admin.TokenRequest{Name: "scoped-" + role, Owner: role + "@example.com", Permissions: names})
	if err != nil {
		e.t.Fatalf("create scoped token: %v", err)
	}
	return tok.Token
}

func basic(token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("convox:"+token))
}

// do sends a request through the gateway with the CLI's headers.
func (e *testEnv) do(method, path, token string, body io.Reader, hdr http.Header) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", basic(token))
	}
	req.Header.Set("User-Agent", "convox.go/dev")
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// read returns the status and body and closes the response.
func read(t *testing.T, resp *http.Response) (int, string) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, string(b)
}

func form(kv ...string) (io.Reader, http.Header) {
	v := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		v = append(v, urlQueryEscape(kv[i])+"="+urlQueryEscape(kv[i+1]))
	}
	return strings.NewReader(strings.Join(v, "&")), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
}

// dialWS opens a websocket through the gateway as the convox CLI does.
func (e *testEnv) dialWS(path, token string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for k, v := range hdr {
		h[k] = v
	}
	if token != "" {
		h.Set("Authorization", basic(token))
	}
	if h.Get("Origin") == "" {
		h.Set("Origin", e.srv.URL) // as the convox CLI does: RACK_URL's scheme and host
	}
	h.Set("User-Agent", "convox.go/dev")
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + path
	return websocket.DefaultDialer.Dial(url, h)
}

// rackSaw reports whether the rack received a request for path.
func (e *testEnv) rackSaw(method, path string) bool {
	for _, r := range e.rack.Requests() {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}

// audit flushes and returns every audit event, oldest first.
func (e *testEnv) audit() []chain.Event {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.gw.Audit.Flush(ctx); err != nil {
		e.t.Fatalf("audit flush: %v", err)
	}
	evs, err := e.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
	if err != nil {
		e.t.Fatalf("list audit: %v", err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}
