package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

func TestProbesAndMetrics(t *testing.T) {
	e := newEnv(t)
	read(t, e.do("GET", "/rack/apps", e.tokens[authz.RoleViewer], nil, nil))
	read(t, e.do("GET", "/rack/registries", e.tokens[authz.RoleViewer], nil, nil))
	read(t, e.do("GET", "/rack/registries", e.tokens[authz.RoleViewer], nil, nil))
	// Rack names in URLs are the caller's: they must not become series.
	for _, name := range []string{"nope-a", "nope-b"} {
		read(t, e.do("GET", "/racks/"+name+"/apps", e.tokens[authz.RoleViewer], nil, nil))
	}
	// The CLI's probes get a quiet 404 and are neither forwarded nor audited.
	e.rack.ResetRequests()
	for _, p := range []string{"/rack/machines", "/rack/racks", "/racks/dev/racks"} {
		if s, _ := read(t, e.do("GET", p, e.tokens[authz.RoleViewer], nil, nil)); s != 404 {
			t.Errorf("probe %s: %d", p, s)
		}
	}
	if n := len(e.rack.Requests()); n != 0 {
		t.Errorf("probes forwarded: %d", n)
	}
	for _, ev := range e.audit() {
		if strings.HasSuffix(ev.Path, "/machines") || strings.HasSuffix(ev.Path, "/racks") {
			t.Errorf("probe audited: %+v", ev)
		}
	}
	cases := []struct{ path, want string }{
		{"/healthz", "ok"},
		{"/readyz", "ready"},
		{"/metrics", `rgw_requests_total{decision="allow",rack="dev",route="AppList",status="200"} 1`},
		{"/metrics", `rgw_requests_total{decision="deny",rack="dev",route="RegistryList",status="403"} 2`},
		{"/metrics", `rgw_requests_total{decision="deny",rack="unknown",route="unmatched",status="404"} 2`},
		{"/metrics", "rgw_request_duration_seconds_bucket"},
		{"/metrics", "rgw_audit_events_written_total"},
	}
	for _, c := range cases {
		resp, err := http.Get(e.srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: security headers missing", c.path)
		}
		status, body := read(t, resp)
		if status != 200 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d, want %q in\n%.2000s", c.path, status, c.want, body)
		}
		if strings.Contains(body, "nope-") {
			t.Errorf("%s: a rack name from the URL became a label", c.path)
		}
	}
}
