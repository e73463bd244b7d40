package gateway_test

import (
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// TestFailClosedWithoutDatabase: with the database gone mid-run, mutating
// calls are refused and nothing reaches the rack.
func TestFailClosedWithoutDatabase(t *testing.T) {
	e := newEnv(t)
	admin := e.tokens[authz.RoleAdmin]
	// Warm the token cache, so authentication alone would still pass.
	if status, _ := read(t, e.do("GET", "/rack/apps", admin, nil, nil)); status != 200 {
		t.Fatalf("warm-up: %d", status)
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	e.rack.ResetRequests()
	calls := []struct{ method, path string }{
		{"POST", "/rack/apps"},
		{"DELETE", "/rack/apps/myapp"},
		{"POST", "/rack/apps/myapp/objects/tmp/x.tgz"},
		{"PUT", "/rack/system"},
		{"POST", "/rack/system/jwt/token"},
	}
	for _, c := range calls {
		b, h := form("name", "newapp")
		status, body := read(t, e.do(c.method, c.path, admin, b, h))
		if status != 503 || !strings.Contains(body, "audit_unavailable") {
			t.Errorf("%s %s: %d %s, want 503 audit_unavailable", c.method, c.path, status, body)
		}
	}
	c, resp, err := e.dialWS("/rack/apps/myapp/processes/"+testPID+"/exec", admin, nil)
	if err == nil {
		c.Close()
		t.Errorf("exec upgraded without an audit log")
	} else if resp == nil || resp.StatusCode != 503 {
		t.Errorf("exec: %v", resp)
	}
	if reqs := e.rack.Requests(); len(reqs) != 0 {
		t.Fatalf("%d requests reached the rack with the audit log down: %+v", len(reqs), reqs[0])
	}
}
