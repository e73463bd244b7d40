package gateway_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
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

// credentialOutage is a store whose credential lookups fail while down is
// set; everything else, the audit log included, keeps working.
type credentialOutage struct {
	store.Store
	down atomic.Bool
}

var errCredentialsDown = errors.New("credential lookups are down")

func (s *credentialOutage) GetTokenByHash(ctx context.Context, hash []byte) (*store.APIToken, error) {
	if s.down.Load() {
		return nil, errCredentialsDown
	}
	return s.Store.GetTokenByHash(ctx, hash)
}

func (s *credentialOutage) GetSessionByHash(ctx context.Context, hash []byte) (*store.Session, error) {
	if s.down.Load() {
		return nil, errCredentialsDown
	}
	return s.Store.GetSessionByHash(ctx, hash)
}

// TestCredentialOutageIsAuthUnavailable: when credentials cannot be
// checked, calls are refused with 503, nothing reaches the rack, and the
// audit says why (auth_unavailable), not that the audit log failed.
func TestCredentialOutageIsAuthUnavailable(t *testing.T) {
	var outage *credentialOutage
	e := newEnvWrapped(t, func(st store.Store) store.Store { outage = &credentialOutage{Store: st}; return outage })
	outage.down.Store(true)
	e.rack.ResetRequests()
	for _, c := range []struct{ method, path string }{{"GET", "/rack/apps"}, {"POST", "/rack/apps"}} {
		status, body := read(t, e.do(c.method, c.path, e.tokens[authz.RoleAdmin], nil, nil))
		if status != 503 || !strings.Contains(body, `"reason":"auth_unavailable"`) {
			t.Errorf("%s %s: %d %s, want 503 auth_unavailable", c.method, c.path, status, body)
		}
	}
	if reqs := e.rack.Requests(); len(reqs) != 0 {
		t.Fatalf("%d requests reached the rack without authentication: %+v", len(reqs), reqs[0])
	}
	var n int
	for _, ev := range e.audit() {
		if ev.Path != "/apps" {
			continue
		}
		n++
		if ev.Decision != "deny" || ev.Reason != string(authz.ReasonAuthUnavailable) || ev.Status != 503 {
			t.Errorf("audit of %s %s: %s %s %d, want deny auth_unavailable 503", ev.Method, ev.Path, ev.Decision, ev.Reason, ev.Status)
		}
	}
	if n != 2 {
		t.Errorf("%d audit events for the refused calls, want 2", n)
	}
}
