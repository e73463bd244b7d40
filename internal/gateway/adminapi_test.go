package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

func (e *testEnv) api(method, path, token, body string) (int, string) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestAdminAPIAuthorizedOnServer: every admin endpoint is decided by the
// policy on the server; roles without the permission get 403 whatever the
// request looks like, and escalation through token minting is impossible.
func TestAdminAPIAuthorizedOnServer(t *testing.T) {
	e := newEnv(t)
	adminTok := e.tokens[authz.RoleAdmin]
	// newEnv mints tokens in role order: viewer 1, ops 2, deployer 3, admin 4.
	calls := []struct {
		method, path, body string
		perm               authz.Permission
	}{
		{"GET", "/api/v1/users", "", authz.GatewayUsers},
		{"POST", "/api/v1/users", `{"email":"new@example.com","role":"admin"}`, authz.GatewayUsers},
		{"PATCH", "/api/v1/users/ops@example.com", `{"role":"admin"}`, authz.GatewayUsers},
		{"PUT", "/api/v1/users/ops@example.com/racks/dev", `{"role":"admin"}`, authz.GatewayUsers},
		{"GET", "/api/v1/tokens?all=1", "", authz.GatewayTokens},
		{"GET", "/api/v1/audit", "", authz.GatewayAudit},
	}
	for _, role := range []string{authz.RoleViewer, authz.RoleOps, authz.RoleDeployer} {
		for _, c := range calls {
			status, body := e.api(c.method, c.path, e.tokens[role], c.body)
			if status != 403 {
				t.Errorf("%s %s %s: %d %s, want 403", role, c.method, c.path, status, body)
			}
		}
		// Another's token and an unknown id get the same answer (no id
		// oracle), and nothing is revoked.
		_, other := e.api("DELETE", "/api/v1/tokens/4", e.tokens[role], "")
		_, unknown := e.api("DELETE", "/api/v1/tokens/999999", e.tokens[role], "")
		// (Only the request ids differ.)
		var o, u apitypes.Error
		_ = json.Unmarshal([]byte(other), &o)
		_ = json.Unmarshal([]byte(unknown), &u)
		o.RequestID, u.RequestID = "", ""
		if strings.Replace(u.Error, "999999", "4", 1) != o.Error || u.Reason != o.Reason || !strings.Contains(other, "not found") {
			t.Errorf("%s: revoking another's token answered %s; an unknown one %s", role, other, unknown)
		}
	}
	if status, _ := e.api("GET", "/api/v1/me", adminTok, ""); status != 200 {
		t.Fatalf("the admin's token was revoked by a refused call: %d", status)
	}
	// Unauthenticated: 401.
	if status, _ := e.api("GET", "/api/v1/users", "", ""); status != 401 {
		t.Errorf("unauthenticated: %d", status)
	}
	// A viewer cannot mint a token beyond the viewer role (the bug class
	// where a viewer's token could mint an admin token).
	for _, perms := range []string{`["env:read"]`, `["gateway:users"]`, `["rack:jwt-token"]`} {
		status, body := e.api("POST", "/api/v1/tokens", e.tokens[authz.RoleViewer], `{"name":"x","permissions":`+perms+`}`)
		if status != 403 {
			t.Errorf("viewer minting %s: %d %s", perms, status, body)
		}
	}
	status, body := e.api("POST", "/api/v1/tokens", e.tokens[authz.RoleViewer], `{"name":"x","owner":"admin@example.com"}`)
	if status != 403 {
		t.Errorf("viewer minting for the admin: %d %s", status, body)
	}
	// Within its rights a viewer may mint its own token, and it works.
	status, body = e.api("POST", "/api/v1/tokens", e.tokens[authz.RoleViewer], `{"name":"mine","permissions":["app:read"],"expires_in":"1h"}`)
	var created struct{ Token string }
	_ = json.Unmarshal([]byte(body), &created)
	if status != 201 || !strings.HasPrefix(created.Token, "rgw_") {
		t.Fatalf("viewer own token: %d %s", status, body)
	}
	if s, _ := read(t, e.do("GET", "/rack/apps", created.Token, nil, nil)); s != 200 {
		t.Errorf("scoped token GET /apps: %d", s)
	}
	if s, _ := read(t, e.do("GET", "/rack/apps/myapp/processes", created.Token, nil, nil)); s != 403 {
		t.Errorf("scoped token outside its scope: %d", s)
	}
	// The viewer may not revoke someone else's token (answered as unknown).
	if s, b := e.api("DELETE", "/api/v1/tokens/4", e.tokens[authz.RoleViewer], ""); s != 404 {
		t.Errorf("viewer revoking admin token: %d %s", s, b)
	}

	// The admin can do all of it; a role change applies on the next request.
	if s, b := e.api("GET", "/api/v1/users", adminTok, ""); s != 200 || !strings.Contains(b, "viewer@example.com") {
		t.Fatalf("admin list users: %d %s", s, b)
	}
	if s, _ := read(t, e.do("GET", "/rack/apps/myapp/releases/"+testRelease, e.tokens[authz.RoleViewer], nil, nil)); s != 200 {
		t.Fatalf("viewer release read: %d", s)
	}
	if s, b := e.api("PATCH", "/api/v1/users/viewer@example.com", adminTok, `{"disabled":true}`); s != 200 {
		t.Fatalf("disable viewer: %d %s", s, b)
	}
	if s, b := read(t, e.do("GET", "/rack/apps", e.tokens[authz.RoleViewer], nil, nil)); s != 401 || !strings.Contains(b, "user_disabled") {
		t.Fatalf("disabled viewer: %d %s", s, b)
	}
	if s, b := e.api("PATCH", "/api/v1/users/admin@example.com", adminTok, `{"disabled":true}`); s != 400 {
		t.Fatalf("admin disabling themselves: %d %s", s, b)
	}
	if s, b := e.api("POST", "/api/v1/users", adminTok, `{"email":"not-an-email","role":"viewer"}`); s != 400 {
		t.Fatalf("bad email: %d %s", s, b)
	}
	if s, b := e.api("POST", "/api/v1/users", adminTok, `{"email":"x@example.com","role":"root"}`); s != 400 {
		t.Fatalf("bad role: %d %s", s, b)
	}
	if s, b := e.api("POST", "/api/v1/users", adminTok, `{"email":`); s != 400 {
		t.Fatalf("bad json: %d %s", s, b)
	}
	if s, b := e.api("DELETE", "/api/v1/tokens/3", adminTok, ""); s != 200 {
		t.Fatalf("admin revoke: %d %s", s, b)
	}
	if s, _ := read(t, e.do("GET", "/rack/apps", e.tokens[authz.RoleDeployer], nil, nil)); s != 401 {
		t.Fatalf("revoked token still works: %d", s)
	}
	if s, _ := read(t, e.do("GET", "/rack/apps", "rgw_not-a-token-anyone-has", nil, nil)); s != 401 {
		t.Fatalf("unknown token: %d", s)
	}
	// Refusals of known credentials name their holder; unknown ones stay
	// anonymous.
	holders := map[string]string{}
	for _, ev := range e.audit() {
		if ev.Route == "AppList" && ev.Status == 401 {
			holders[ev.Reason] = ev.ActorType + ":" + ev.Actor
			if ev.Reason == string(authz.ReasonTokenRevoked) && ev.TokenID != 3 {
				t.Errorf("revoked token refusal has token id %d, want 3", ev.TokenID)
			}
		}
	}
	for reason, want := range map[authz.Reason]string{
		authz.ReasonUserDisabled:      "token:viewer@example.com",
		authz.ReasonTokenRevoked:      "token:deployer@example.com",
		authz.ReasonInvalidCredential: "anonymous:anonymous",
	} {
		if holders[string(reason)] != want {
			t.Errorf("refusal %s audited as %q, want %q (all: %v)", reason, holders[string(reason)], want, holders)
		}
	}

	// Every change and every refusal is in the audit log; changes carry
	// before/after.
	var denied, updates int
	for _, ev := range e.audit() {
		if strings.HasPrefix(ev.Action, "user.") || strings.HasPrefix(ev.Action, "token.") {
			if ev.Decision == "deny" {
				denied++
			}
			if ev.Action == "user.update" && ev.Decision == "allow" {
				updates++
				if !strings.Contains(ev.Details, `"before"`) || !strings.Contains(ev.Details, `"after"`) {
					t.Errorf("user.update without before/after: %s", ev.Details)
				}
			}
		}
	}
	if denied < 3*5+3 || updates < 1 {
		t.Fatalf("audited %d admin denials and %d updates", denied, updates)
	}
}

// Admin changes are audited honestly: an attempt before the change and its
// outcome after, so a change that failed never looks done; request ids
// are the gateway's own (a client's X-Request-Id is ignored); and the
// caller's address is resolved through the trusted proxies like the
// proxy's.
func TestAdminAuditHonesty(t *testing.T) {
	e := newEnv(t, func(c *configT) { c.TrustedProxies = []string{"127.0.0.0/8"} })
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/users", strings.NewReader(`{"email":"viewer@example.com","role":"admin"}`))
	req.Header.Set("Authorization", "Bearer "+e.tokens[authz.RoleAdmin])
	req.Header.Set("Content-Type", "application/json")
	clientID := strings.Repeat("x", 60000)
	req.Header.Set("X-Request-Id", clientID)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 409 {
		t.Fatalf("creating an existing user: %d, want 409", resp.StatusCode)
	}
	gotID := resp.Header.Get("X-Request-Id")
	if len(gotID) != 24 {
		t.Fatalf("X-Request-Id %q, want the gateway's 24 hex digits", gotID)
	}
	var phases []string
	for _, ev := range e.audit() {
		if ev.Action != "user.create" || ev.Actor != "admin@example.com" {
			continue
		}
		var d map[string]any
		_ = json.Unmarshal([]byte(ev.Details), &d)
		phases = append(phases, fmt.Sprint(d["phase"]))
		if ev.RequestID != gotID {
			t.Errorf("event request id %q, want %q (the client's was %d bytes)", ev.RequestID, gotID, len(clientID))
		}
		if ev.SourceIP != "203.0.113.9" {
			t.Errorf("event source %q, want the client behind the trusted proxy", ev.SourceIP)
		}
		if d["phase"] == "outcome" && (ev.Status != 409 || d["error"] != "conflict") {
			t.Errorf("outcome of the failed change: status %d details %s", ev.Status, ev.Details)
		}
	}
	if strings.Join(phases, ",") != "attempt,outcome" {
		t.Errorf("user.create phases %v, want attempt then outcome", phases)
	}
}
