package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// samplePath fills a route pattern with values for a non-existent app, so
// the matrix exercises every route without destroying the seeded state.
func samplePath(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		switch {
		case strings.HasSuffix(s, "...}"):
			segs[i] = "deep/key.tgz"
		case strings.HasPrefix(s, "{"):
			end := strings.Index(s, "}")
			segs[i] = "x" + s[1:end] + s[end+1:]
		}
	}
	return strings.Join(segs, "/")
}

type principalCase struct {
	name  string
	token string
	perms authz.Set // effective permissions
}

// TestAuthorizationMatrix sends every route in the table as every role and
// as a token with a partial scope through the real gateway, and checks the
// decision against the role data: allowed calls reach the rack, denied calls
// get the gateway's 403 and never reach it, and each call is audited with
// the decision.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	var cases []principalCase
	for _, role := range authz.RoleNames() {
		ps, _ := authz.RolePermissions(role)
		cases = append(cases, principalCase{role, e.tokens[role], ps})
	}
	scope := authz.NewSet(authz.AppRead, authz.LogRead, authz.ProcessExec, authz.EnvRead, authz.ObjectWrite)
	deployer, _ := authz.RolePermissions(authz.RoleDeployer)
	cases = append(cases, principalCase{"deployer-scoped-token",
		e.token(authz.RoleDeployer, scope.List()...), scope.Intersect(deployer)})

	type want struct {
		allow  bool
		reason string
	}
	expectByRequest := map[string]want{}
	table := routes.Table()
	for i := range table {
		rt := &table[i]
		path := samplePath(rt.Path)
		for _, pc := range cases {
			allow := rt.Public || pc.perms.Has(rt.Permission)
			name := rt.Method + " " + rt.Path + " as " + pc.name
			e.rack.ResetRequests()
			var status int
			var body, reqID string
			if rt.Websocket {
				c, resp, err := e.dialWS("/rack"+path, pc.token, nil)
				if err == nil {
					c.Close()
				}
				if resp != nil {
					status, reqID = resp.StatusCode, resp.Header.Get("X-Request-Id")
					if resp.Body != nil {
						_, body = read(t, resp)
					}
				}
			} else {
				resp := e.do(rt.Method, "/rack"+path, pc.token, strings.NewReader("x"), nil)
				reqID = resp.Header.Get("X-Request-Id")
				status, body = read(t, resp)
			}
			reached := e.rackSaw(rt.Method, path)
			if allow {
				if !reached {
					t.Errorf("%s: allowed but did not reach the rack (status %d %s)", name, status, body)
				}
			} else {
				if reached {
					t.Errorf("%s: denied but reached the rack", name)
				}
				if status != http.StatusForbidden {
					t.Errorf("%s: status %d, want 403", name, status)
				}
				var eb struct{ Reason string }
				if rt.Method == http.MethodHead {
					// no body; the reason is checked in the audit log below
				} else if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Reason == "" {
					t.Errorf("%s: refusal body %q lacks a reason", name, body)
				}
			}
			if reqID == "" {
				t.Errorf("%s: no X-Request-Id", name)
				continue
			}
			w := want{allow: allow, reason: "allowed"}
			if rt.Public {
				w.reason = "public_route"
			}
			if !allow {
				w.reason = "missing_permission"
				if pc.name == "deployer-scoped-token" && deployer.Has(rt.Permission) {
					w.reason = "token_scope"
				}
			}
			expectByRequest[reqID] = w
		}
	}

	// Every call is in the audit log with its decision and reason.
	got := map[string][]string{}
	for _, ev := range e.audit() {
		if ev.RequestID != "" {
			got[ev.RequestID] = append(got[ev.RequestID], ev.Decision+"/"+ev.Reason)
		}
	}
	for id, w := range expectByRequest {
		evs := got[id]
		if len(evs) == 0 {
			t.Errorf("request %s (%+v) not audited", id, w)
			continue
		}
		wantDecision := "deny"
		if w.allow {
			wantDecision = "allow"
		}
		for _, ev := range evs {
			if ev != wantDecision+"/"+w.reason {
				t.Errorf("request %s audited as %s, want %s/%s", id, ev, wantDecision, w.reason)
			}
		}
	}
}

// TestRefusedRequestsNeverForwarded covers requests outside the table and
// non-canonical paths, as an admin (who could otherwise do anything).
func TestRefusedRequestsNeverForwarded(t *testing.T) {
	e := newEnv(t)
	admin := e.tokens[authz.RoleAdmin]
	cases := []struct {
		name, method, path string
		status             int
		reason             string
	}{
		{"unknown route", "GET", "/rack/kubernetes/api", 403, "no_route"},
		{"legacy route", "POST", "/rack/apps/myapp/environment", 403, "no_route"},
		{"method not in table", "PATCH", "/rack/apps/myapp", 403, "no_route"},
		{"TRACE", "TRACE", "/rack/apps", 403, "no_route"},
		{"encoded traversal", "GET", "/rack/apps/%2e%2e/system", 400, "bad_path"},
		{"encoded traversal upper", "GET", "/rack/apps/myapp/%2E%2E/%2E%2E/system", 400, "bad_path"},
		{"encoded slash", "GET", "/rack/apps/myapp%2fbuilds", 400, "bad_path"},
		{"double slash", "GET", "/rack/apps//myapp", 400, "bad_path"},
		{"dot segment", "GET", "/rack/apps/./myapp", 400, "bad_path"},
		{"raw traversal", "GET", "/rack/apps/myapp/../../system", 400, "bad_path"},
		{"unknown rack", "GET", "/racks/nope/apps", 404, "unknown_rack"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.rack.ResetRequests()
			req, _ := http.NewRequest(c.method, e.srv.URL+"/x", nil)
			req.URL.Opaque = c.path // send the path exactly as written
			req.Header.Set("Authorization", basic(admin))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			status, body := read(t, resp)
			if status != c.status || !strings.Contains(body, c.reason) {
				t.Fatalf("got %d %s, want %d %s", status, body, c.status, c.reason)
			}
			if n := len(e.rack.Requests()); n != 0 {
				t.Fatalf("rack received %d requests", n)
			}
		})
	}
	// A websocket upgrade to a route the caller may not use is refused
	// before anything reaches the rack.
	e.rack.ResetRequests()
	_, resp, err := e.dialWS("/rack/apps/myapp/processes/p1/exec", e.tokens[authz.RoleViewer], http.Header{"Command": {"sh"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer exec upgrade: err=%v resp=%v", err, resp)
	}
	if n := len(e.rack.Requests()); n != 0 {
		t.Fatalf("rack received %d requests", n)
	}
	var denied int
	for _, ev := range e.audit() {
		if ev.Decision == "deny" {
			denied++
		}
	}
	if denied < len(cases)+1 {
		t.Fatalf("%d denials audited, want at least %d", denied, len(cases)+1)
	}
}
