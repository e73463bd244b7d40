package console_test

import (
	"bufio"
	"context"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
	"github.com/rack-gateway/rack-gateway/internal/web/console"
)

// newLogsEnv is newEnv that also hands back the proxy (to see its live
// streams) and sets the log stream limit (0: the default).
func newLogsEnv(t *testing.T, limit time.Duration) (*env, *proxy.Handler) {
	t.Helper()
	var px *proxy.Handler
	e := newEnvOpts(t, mfaOff, func(o *console.Options) { px, o.LogStreamLimit = o.Proxy, limit }, "dev")
	return e, px
}

// openStream starts GET path with the session and returns the response
// (headers read, body streaming) and a function that hangs up.
func (e *env) openStream(path, session string) (*http.Response, context.CancelFunc) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: "rgw_session", Value: session})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cancel(); res.Body.Close() })
	return res, cancel
}

func TestLogsPage(t *testing.T) {
	e, _ := newLogsEnv(t, 0)
	for _, role := range []string{"viewer", "ops", "deployer", "admin"} {
		r := e.get(appBase+"/logs?since=15m&filter=GET", e.sessions[role])
		if r.status != 200 {
			t.Fatalf("%s: logs page %d\n%s", role, r.status, r.body)
		}
		m := regexp.MustCompile(`<script src="(/static/logs\.js\?v=[0-9a-f]+)" defer></script>`).FindStringSubmatch(r.body)
		if m == nil || strings.Count(r.body, "<script") != 1 || handlerRE.MatchString(r.body) || styleRE.MatchString(r.body) {
			t.Fatalf("%s: the page's one script is not the embedded logs.js:\n%s", role, r.body)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") ||
			!strings.Contains(csp, "connect-src 'self'") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("logs page CSP %q", csp)
		}
		stream := `/racks/dev/apps/myapp/logs/stream?filter=GET&amp;since=15m`
		if !strings.Contains(r.body, `data-stream="`+stream+`"`) || !strings.Contains(r.body, `id="log-plain" href`) && !strings.Contains(r.body, `href="`+stream+`" id="log-plain"`) {
			t.Errorf("%s: the page does not name its stream (and link it without JavaScript):\n%s", role, r.body)
		}
		js := e.get(m[1], "")
		if js.status != 200 || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") ||
			!strings.Contains(js.body, "textContent") || strings.Contains(js.body, "innerHTML") {
			t.Errorf("logs.js: %d %q", js.status, js.header.Get("Content-Type"))
		}
	}
	// A role with no log:read on the rack gets the refusal page.
	if err := e.st.SetRoleBinding(context.Background(), store.RoleBinding{UserID: e.userIDs["ops"], Rack: "dev", Role: "nobody"}); err != nil {
		t.Fatal(err)
	}
	e.authn.Invalidate()
	if r := e.get(appBase+"/logs", e.sessions["ops"]); r.status != http.StatusForbidden || !strings.Contains(r.body, "Permission denied") {
		t.Errorf("logs page without log:read: %d", r.status)
	}
	if r := e.get(appBase+"/logs/stream", e.sessions["ops"]); r.status != http.StatusForbidden {
		t.Errorf("stream without log:read: %d", r.status)
	}
	// Bad options are refused before anything is opened.
	for _, q := range []string{"?since=1y", "?since=5m&filter=" + strings.Repeat("x", 201), "?filter=%00", "?filter=%1b%5b31m"} {
		if r := e.get(appBase+"/logs/stream"+q, e.sessions["admin"]); r.status != http.StatusBadRequest {
			t.Errorf("stream%s: %d", q, r.status)
		}
	}
	for _, p := range []string{"/racks/dev/apps/..%2F..%2Fsystem/logs", "/racks/dev/apps/My%3Cb%3E/logs/stream"} {
		if r := e.get(p, e.sessions["admin"]); r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

// TestLogsStream: the stream is the rack's log, followed through the
// proxy as the person (audited like `convox logs`), as inert plain text;
// it ends when the browser hangs up (no stream, no goroutine left) and
// when the session is revoked.
func TestLogsStream(t *testing.T) {
	e, px := newLogsEnv(t, 0)
	goroutines := runtime.NumGoroutine()
	res, hangUp := e.openStream(appBase+"/logs/stream?since=5m", e.sessions["viewer"])
	if res.StatusCode != 200 {
		t.Fatalf("stream: %d", res.StatusCode)
	}
	for k, v := range map[string]string{"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff",
		"Content-Security-Policy": "sandbox; default-src 'none'", "Cache-Control": "no-store"} {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	sc := bufio.NewScanner(res.Body)
	var lines []string
	for len(lines) < 12 && sc.Scan() { // the history, then followed lines
		lines = append(lines, sc.Text())
	}
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "service/web/") || !strings.Contains(all, "GET /health 200 1ms (request") {
		t.Fatalf("stream lines:\n%s", all)
	}
	if px.LiveStreams() != 1 {
		t.Errorf("live streams: %d", px.LiveStreams())
	}
	hangUp()
	testutil.Eventually(t, "the stream to end when the browser hangs up", func() bool { return px.LiveStreams() == 0 })
	testutil.Eventually(t, "the stream's goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutines+2 })
	// Audited when it ends, like the CLI's: the person, the route, allowed.
	evs := e.rackEvents("viewer@example.com", "AppLogs")
	if len(evs) == 0 || evs[0].Decision != "allow" || evs[0].Permission != "log:read" || evs[0].Path != "/apps/myapp/logs" {
		t.Errorf("stream audited as %+v", evs)
	}

	// Revocation cuts an open stream.
	res, _ = e.openStream(appBase+"/logs/stream", e.sessions["ops"])
	sc = bufio.NewScanner(res.Body)
	if !sc.Scan() {
		t.Fatal("no line")
	}
	if _, err := e.admin.RevokeUserSessions(context.Background(), admin.Actor{System: "test"}, "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	if n := px.RecheckStreams(context.Background()); n != 1 {
		t.Fatalf("recheck cut %d streams", n)
	}
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	if len(rest) == 0 || !strings.Contains(rest[len(rest)-1], "-- rack-gateway: the stream ended --") {
		t.Errorf("the cut stream's end: %q", rest)
	}
	testutil.Eventually(t, "the cut stream to be gone", func() bool { return px.LiveStreams() == 0 })
	var cut bool
	for _, ev := range e.rackEvents("ops@example.com", "AppLogs") {
		cut = cut || ev.Decision == "deny" && ev.Reason == "session_revoked"
	}
	if !cut {
		t.Error("the cut is not audited")
	}
	// A revoked session opens no new stream.
	if r := e.get(appBase+"/logs/stream", e.sessions["ops"]); r.status != http.StatusSeeOther {
		t.Errorf("stream after revocation: %d", r.status)
	}
}

// TestLogsStreamLimit: a stream ends at its limit, saying so.
func TestLogsStreamLimit(t *testing.T) {
	e, px := newLogsEnv(t, 2*time.Second)
	res, _ := e.openStream(appBase+"/logs/stream", e.sessions["viewer"])
	sc := bufio.NewScanner(res.Body)
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	if !strings.Contains(last, "reached its limit of 2s") {
		t.Errorf("last line %q", last)
	}
	testutil.Eventually(t, "the stream to be gone", func() bool { return px.LiveStreams() == 0 })
}
