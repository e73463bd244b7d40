package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// hostileRack answers every call with what a compromised or careless rack
// might send to a browser, and records the headers it received.
type hostileRack struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []http.Header
}

func newHostileRack(t *testing.T) *hostileRack {
	hr := &hostileRack{}
	hr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hr.mu.Lock()
		hr.seen = append(hr.seen, r.Header.Clone())
		hr.mu.Unlock()
		h := w.Header()
		h.Set("Set-Cookie", "rgw_session=attacker; Path=/")
		h.Set("Access-Control-Allow-Origin", "https://evil.example")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("WWW-Authenticate", `Basic realm="convox"`)
		h.Set("Refresh", "0; url=https://evil.example/")
		switch {
		case strings.HasSuffix(r.URL.Path, "/unauthorized"):
			h.Set("WWW-Authenticate", `Bearer realm="https://registry.example/token"`)
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`)
		case strings.HasSuffix(r.URL.Path, ".html"):
			h.Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<script>fetch("/api/v1/users",{method:"POST"})</script>`)
		case strings.HasSuffix(r.URL.Path, ".svg"):
			h.Set("Content-Type", "image/svg+xml")
			_, _ = io.WriteString(w, `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
		case strings.HasSuffix(r.URL.Path, ".bin"):
			_, _ = io.WriteString(w, "<html><script>alert(1)</script>") // no Content-Type: sniffable
		default:
			h.Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `[]`)
		}
	}))
	t.Cleanup(hr.srv.Close)
	return hr
}

func (hr *hostileRack) headers() []http.Header {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	return append([]http.Header(nil), hr.seen...)
}

func withHostileRack(hr *hostileRack) envOption {
	return func(c *config.Config) {
		c.Racks = append(c.Racks, config.Rack{Name: "hostile", URL: hr.srv.URL, Password: "hostile-rack-password"})
	}
}

// Rack content is never active content on the gateway's origin: every
// answer is sandboxed and nosniff, anything but JSON or text is a download,
// and the rack cannot set cookies, grant CORS or send a Basic challenge
// through the gateway.
func TestRackContentIsInert(t *testing.T) {
	hr := newHostileRack(t)
	e := newEnv(t, withHostileRack(hr))
	admin := e.tokens[authz.RoleAdmin]
	for _, c := range []struct {
		path       string
		attachment bool
	}{
		{"/racks/hostile/apps", false},
		{"/racks/hostile/apps/myapp/objects/evil.html", true},
		{"/racks/hostile/apps/myapp/objects/evil.svg", true},
		{"/racks/hostile/apps/myapp/objects/evil.bin", true},
	} {
		resp := e.do("GET", c.path, admin, nil, nil)
		status, _ := read(t, resp)
		h := resp.Header
		if status != 200 {
			t.Fatalf("%s: %d", c.path, status)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q, want a sandbox", c.path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.path)
		}
		if got := h.Get("Content-Disposition") == "attachment"; got != c.attachment {
			t.Errorf("%s: Content-Disposition %q, want attachment=%v", c.path, h.Get("Content-Disposition"), c.attachment)
		}
		for _, k := range []string{"Set-Cookie", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "WWW-Authenticate", "Refresh"} {
			if v := h.Get(k); v != "" {
				t.Errorf("%s: the rack's %s reached the client: %q", c.path, k, v)
			}
		}
	}
	// Another service's 401 (the registry, an app's HTTP service) is that
	// service's answer: relayed with its challenge, not taken for the
	// rack refusing the gateway.
	resp := e.do("GET", "/racks/hostile/v2/myapp/unauthorized", admin, nil, nil)
	if status, body := read(t, resp); status != 401 || !strings.Contains(body, "UNAUTHORIZED") ||
		resp.Header.Get("WWW-Authenticate") != `Bearer realm="https://registry.example/token"` {
		t.Errorf("registry 401: %d %s %q", status, body, resp.Header.Get("WWW-Authenticate"))
	}
	// The gateway's own refusals are inert too, and never ask a browser
	// for Basic credentials.
	resp = e.do("GET", "/rack/apps", "", nil, nil)
	read(t, resp)
	if resp.StatusCode != 401 || strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") ||
		!strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("401: %d, WWW-Authenticate %q, CSP %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"),
			resp.Header.Get("Content-Security-Policy"))
	}
}

// Identity-like and method-override headers from the client never reach
// the rack; the actor the rack sees is the one the gateway names.
func TestClientIdentityHeadersStripped(t *testing.T) {
	hr := newHostileRack(t)
	e := newEnv(t, withHostileRack(hr))
	hdr := http.Header{}
	forged := map[string]string{
		"X-Real-IP": "10.9.9.9", "Remote-User": "admin@example.com", "X-Forwarded-User": "admin",
		"X-Forwarded-Email": "admin@example.com", "X-Auth-Request-Email": "admin@example.com",
		"X-Auth-Request-User": "admin", "X-HTTP-Method-Override": "DELETE", "X-Method-Override": "DELETE",
		"X-Convox-Actor": "admin@example.com", "Convox-Actor": "admin@example.com", "Forwarded": "for=10.9.9.9",
		"X-Forwarded-Host": "evil.example", "X-Original-URL": "/system/jwt/token", "Cookie": "rgw_session=x",
		"Rack-Gateway-Mfa-Code": "123456", // a second factor is for the gateway alone
	}
	for k, v := range forged {
		hdr.Set(k, v)
	}
	read(t, e.do("GET", "/racks/hostile/apps", e.tokens[authz.RoleViewer], nil, hdr))
	seen := hr.headers()
	if len(seen) != 1 {
		t.Fatalf("the rack saw %d calls", len(seen))
	}
	got := seen[0]
	for k, v := range forged {
		if k == "X-Convox-Actor" {
			continue
		}
		if g := got.Get(k); g != "" {
			t.Errorf("%s reached the rack: %q (sent %q)", k, g, v)
		}
	}
	if a := got.Get("X-Convox-Actor"); a != "viewer@example.com (token viewer)" {
		t.Errorf("X-Convox-Actor = %q, want the gateway's", a)
	}
	if xff := got.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the gateway's view of the caller", xff)
	}
}

// A websocket or a change driven by another site's page is refused before
// anything reaches the rack and audited with the caller's identity; the
// convox CLI's own Origin (RACK_URL's scheme and host) is accepted.
func TestCrossSiteRefused(t *testing.T) {
	e := newEnv(t)
	ops := e.tokens[authz.RoleOps]
	exec := "/rack/apps/myapp/processes/" + testPID + "/exec"
	e.rack.ResetRequests()
	for _, origin := range []string{"https://evil.example", "http://127.0.0.1.evil.example", "null", "http://127.0.0.1:1"} {
		c, resp, err := e.dialWS(exec, ops, http.Header{"Origin": {origin}, "Command": {"echo hi"}})
		if err == nil {
			c.Close()
			t.Errorf("exec with Origin %q upgraded", origin)
			continue
		}
		if resp == nil || resp.StatusCode != 403 {
			t.Errorf("exec with Origin %q: %v, want 403", origin, resp)
		}
	}
	status, body := read(t, e.do("POST", "/rack/apps/myapp/services/web/restart", ops, nil,
		http.Header{"Origin": {"https://evil.example"}}))
	if status != 403 || !strings.Contains(body, "cross_origin") {
		t.Errorf("cross-site POST: %d %s", status, body)
	}
	status, body = read(t, e.do("POST", "/rack/apps/myapp/services/web/restart", ops, nil,
		http.Header{"Sec-Fetch-Site": {"cross-site"}}))
	if status != 403 || !strings.Contains(body, "cross_origin") {
		t.Errorf("cross-site POST without Origin: %d %s", status, body)
	}
	if reqs := e.rack.Requests(); len(reqs) != 0 {
		t.Fatalf("cross-site requests reached the rack: %+v", reqs)
	}
	// The CLI's Origin is this gateway (dialWS sends it): allowed.
	c, _, err := e.dialWS(exec, ops, http.Header{"Command": {"echo hi"}})
	if err != nil {
		t.Fatalf("same-origin exec: %v", err)
	}
	c.Close()
	var refused int
	for _, ev := range e.audit() {
		if ev.Reason != string(authz.ReasonCrossOrigin) {
			continue
		}
		refused++
		if ev.Actor != "ops@example.com" || ev.Decision != "deny" {
			t.Errorf("cross-site refusal audited as %s %s", ev.Actor, ev.Decision)
		}
	}
	if refused != 6 {
		t.Errorf("%d cross-site refusals audited, want 6", refused)
	}
}

// Calls refused before authentication (no such rack, a bad path, no such
// route) are recorded under the caller's name when their credential is
// good, so an insider's probing is attributed; a bad credential stays
// anonymous. The answers do not change.
func TestEarlyRefusalsAttributed(t *testing.T) {
	e := newEnv(t)
	viewer := e.tokens[authz.RoleViewer]
	probes := []struct {
		path   string
		status int
		reason authz.Reason
	}{
		{"/racks/nosuch/apps", 404, authz.ReasonUnknownRack},
		{"/rack/apps/%2e%2e/system", 400, authz.ReasonBadPath},
		{"/rack/no/such/route", 403, authz.ReasonNoRoute},
	}
	for _, p := range probes {
		for _, tok := range []string{viewer, "rgw_not-a-real-token"} {
			status, body := read(t, e.do("GET", p.path, tok, nil, nil))
			if status != p.status || !strings.Contains(body, string(p.reason)) {
				t.Errorf("%s: %d %s", p.path, status, body)
			}
		}
	}
	got := map[string][]string{}
	for _, ev := range e.audit() {
		if ev.Decision == "deny" {
			got[ev.Reason] = append(got[ev.Reason], ev.Actor)
		}
	}
	for _, p := range probes {
		actors := got[string(p.reason)]
		if len(actors) != 2 || actors[0] != "viewer@example.com" || actors[1] != "anonymous" {
			t.Errorf("%s refusals attributed to %q, want the viewer then anonymous", p.reason, actors)
		}
	}
}

// A flood of bad credentials from one address spends that address's
// budget of failures; after it the address gets 429 with Retry-After
// without a credential lookup or an audit row each (the refusals are
// audited as one counted event), while a caller whose credential is known
// good goes on being served from the same address.
func TestFailureFloodLimited(t *testing.T) {
	e := newEnv(t, func(c *configT) {
		c.Limits.FailuresPerMinute, c.Limits.FailureBurst = 1, 30
		c.TokenCacheTTL = config.Duration(time.Minute) // the good token stays known through the test
	})
	good := e.tokens[authz.RoleViewer]
	if status, _ := read(t, e.do("GET", "/rack/apps", good, nil, nil)); status != 200 {
		t.Fatal("warm-up")
	}
	statuses := map[int]int{}
	var retryAfter string
	for i := range 200 {
		resp := e.do("GET", "/rack/apps", fmt.Sprintf("rgw_flood-%d", i), nil, nil)
		read(t, resp)
		statuses[resp.StatusCode]++
		if resp.StatusCode == 429 {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	// 30 at once, and at most one more refilled within the test's minute.
	if statuses[401] < 30 || statuses[401] > 31 || statuses[429] != 200-statuses[401] {
		t.Fatalf("answers %v, want 30 (or 31) 401s and the rest 429", statuses)
	}
	if n, err := strconv.Atoi(retryAfter); err != nil || n < 1 || n > 60 {
		t.Errorf("Retry-After %q", retryAfter)
	}
	if status, _ := read(t, e.do("GET", "/rack/apps", good, nil, nil)); status != 200 {
		t.Errorf("a known-good caller from the flooding address: %d", status)
	}
	// The admin API spends the same budget.
	if status, _ := e.api("GET", "/api/v1/me", "rgw_flood-x", ""); status != 429 {
		t.Errorf("admin API from the flooding address: %d, want 429", status)
	}
	e.gw.Proxy.RecordRateLimited()
	var denied401, aggregated int
	for _, ev := range e.audit() {
		switch {
		case ev.Status == 401:
			denied401++
		case ev.Reason == string(authz.ReasonRateLimited):
			aggregated++
			if !strings.Contains(ev.Details, fmt.Sprintf(`"refused":%d`, statuses[429])) || ev.SourceIP != "127.0.0.1" {
				t.Errorf("aggregated event: %s from %s", ev.Details, ev.SourceIP)
			}
		}
	}
	if denied401 != statuses[401] || aggregated != 1 {
		t.Errorf("audit rows: %d for the 401s (want %d), %d aggregated (want 1)", denied401, statuses[401], aggregated)
	}
}

// /metrics can be kept from the gateway's users: behind a bearer token,
// and on a listener of its own.
func TestMetricsProtected(t *testing.T) {
	const token = "metrics-token-0123456789"
	e := newEnv(t, func(c *configT) { c.MetricsToken = token })
	get := func(url, auth string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(e.srv.URL+"/metrics", ""); s != 401 {
		t.Errorf("metrics without the token: %d", s)
	}
	if s := get(e.srv.URL+"/metrics", "Bearer wrong-token-0123456789"); s != 401 {
		t.Errorf("metrics with a wrong token: %d", s)
	}
	if s := get(e.srv.URL+"/metrics", "Bearer "+token); s != 200 {
		t.Errorf("metrics with the token: %d", s)
	}

	// On its own address, /metrics is gone from the main listener.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := probe.Addr().String()
	probe.Close()
	e2 := newEnv(t, func(c *configT) { c.MetricsAddr = metricsAddr })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e2.gw.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	testutil.Eventually(t, "the metrics listener", func() bool {
		c, err := net.Dial("tcp", metricsAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if s := get("http://"+metricsAddr+"/metrics", ""); s != 200 {
		t.Errorf("metrics on their own address: %d", s)
	}
	if s := get("http://"+ln.Addr().String()+"/metrics", ""); s != 404 {
		t.Errorf("metrics on the main listener with metrics_addr set: %d, want 404", s)
	}
}
