package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
)

// The console's reads (proxy.Handler.Read) go through the same pipeline
// as the convox CLI's calls: authenticated, authorized, filtered, audited
// with the page request's caller, and never beyond GET.
func TestInternalReadGoesThroughThePipeline(t *testing.T) {
	e := newEnv(t)
	page := httptest.NewRequest(http.MethodGet, "/", nil)
	page.RemoteAddr = "192.0.2.7:4444"
	page.Header.Set("User-Agent", "console-test/1")
	read := func(token, path string) proxy.RackAnswer {
		t.Helper()
		ans, err := e.gw.Proxy.Read(context.Background(), proxy.RackRead{Rack: "dev", Path: path, Credential: token, For: page})
		if err != nil {
			t.Fatalf("Read %s: %v", path, err)
		}
		return ans
	}
	// A viewer reads releases without their env (the release-env filter).
	ans := read(e.tokens[authz.RoleViewer], "/apps/myapp/releases/"+testRelease)
	if ans.Status != 200 || strings.Contains(string(ans.Body), `"env"`) || !strings.Contains(string(ans.Body), testRelease) {
		t.Errorf("viewer release read: %d %s", ans.Status, ans.Body)
	}
	// A viewer may not read env-bearing configs: refused by the policy.
	if ans := read(e.tokens[authz.RoleViewer], "/apps/myapp/configs"); ans.Status != 403 || !strings.Contains(string(ans.Body), "missing_permission") {
		t.Errorf("viewer configs read: %d %s", ans.Status, ans.Body)
	}
	// A bad credential is refused before anything reaches the rack.
	e.rack.ResetRequests()
	if ans := read("rgw_not-a-token", "/apps"); ans.Status != 401 {
		t.Errorf("bad credential: %d %s", ans.Status, ans.Body)
	}
	if reqs := e.rack.Requests(); len(reqs) != 0 {
		t.Errorf("a refused read reached the rack: %+v", reqs)
	}
	var seen int
	for _, ev := range e.audit() {
		if ev.UserAgent != "console-test/1" {
			continue
		}
		seen++
		if ev.SourceIP != "192.0.2.7" || ev.Method != http.MethodGet {
			t.Errorf("read audited as %s %s from %s", ev.Method, ev.Path, ev.SourceIP)
		}
	}
	if seen != 3 {
		t.Errorf("%d audited reads, want 3", seen)
	}
}
