package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

const (
	testPID     = "web-5d8f9c7b6b-x2x7k"
	testRelease = "RMYAPPSECND"
)

// TestScriptedSessionPerRole runs a convox-like session through the gateway
// with each role's token and checks every step's outcome against the role.
func TestScriptedSessionPerRole(t *testing.T) {
	for _, role := range authz.RoleNames() {
		t.Run(role, func(t *testing.T) {
			e := newEnv(t)
			tok := e.tokens[role]
			perms, _ := authz.RolePermissions(role)
			expect := func(step string, perm authz.Permission, status int) {
				t.Helper()
				allowed := perms.Has(perm)
				if allowed && (status == 401 || status == 403) {
					t.Errorf("%s: %s may %s but got %d", step, role, perm, status)
				}
				if !allowed && status != 403 {
					t.Errorf("%s: %s may not %s but got %d", step, role, perm, status)
				}
			}

			// convox apps
			status, body := read(t, e.do("GET", "/rack/apps", tok, nil, nil))
			expect("apps", authz.AppRead, status)
			if status == 200 && !strings.Contains(body, `"myapp"`) {
				t.Errorf("apps: %s", body)
			}

			// convox logs (websocket, not following)
			c, resp, err := e.dialWS("/rack/apps/myapp/logs", tok, http.Header{"Follow": {"false"}, "Since": {"1h0m0s"}})
			if err != nil {
				t.Fatalf("logs: %v %v", err, resp)
			}
			out, _ := readStream(t, c)
			c.Close()
			if !strings.Contains(out, "service/web/") {
				t.Errorf("logs output %q", out)
			}

			// convox exec: stdin relayed, exit code returned
			c, resp, err = e.dialWS("/rack/apps/myapp/processes/"+testPID+"/exec", tok,
				http.Header{"Command": {"sh -c 'cat; exit 7'"}, "Tty": {"false"}})
			if perms.Has(authz.ProcessExec) {
				if err != nil {
					t.Fatalf("exec: %v", err)
				}
				_ = c.WriteMessage(websocket.TextMessage, []byte("hello gateway\n"))
				_ = c.WriteMessage(websocket.BinaryMessage, nil)
				out, code := readStream(t, c)
				c.Close()
				if code != 7 || !strings.Contains(out, "hello gateway") {
					t.Errorf("exec: code %d output %q", code, out)
				}
			} else if err == nil || resp == nil || resp.StatusCode != 403 {
				t.Errorf("exec: %s should be refused before upgrade: %v", role, err)
			}

			// convox deploy: upload object, create build
			status, body = read(t, e.do("POST", "/rack/apps/myapp/objects/tmp/source.tgz", tok,
				strings.NewReader(strings.Repeat("tgz", 10000)), nil))
			expect("object upload", authz.ObjectWrite, status)
			if status == 200 && !strings.Contains(body, "object://myapp/tmp/source.tgz") {
				t.Errorf("object upload: %s", body)
			}
			b, h := form("url", "object://myapp/tmp/source.tgz", "description", "test build")
			status, body = read(t, e.do("POST", "/rack/apps/myapp/builds", tok, b, h))
			expect("build create", authz.BuildCreate, status)
			var build struct{ ID string }
			if status == 200 {
				_ = json.Unmarshal([]byte(body), &build)
				if build.ID == "" {
					t.Errorf("build create: %s", body)
				}
			}

			// convox env set NEWKEY=1 (read the env, send it back with a change)
			status, body = read(t, e.do("GET", "/rack/apps/myapp/releases/"+testRelease, tok, nil, nil))
			expect("release read", authz.ReleaseRead, status)
			var rel struct{ Env string }
			_ = json.Unmarshal([]byte(body), &rel)
			if perms.Has(authz.EnvRead) != (rel.Env != "") {
				t.Errorf("release env visible=%v for %s: %q", rel.Env != "", role, rel.Env)
			}
			newEnv := rel.Env + "\nNEWKEY=1"
			if rel.Env == "" {
				newEnv = "NEWKEY=1"
			}
			b, h = form("env", newEnv, "parent-release", testRelease)
			status, body = read(t, e.do("POST", "/rack/apps/myapp/releases", tok, b, h))
			expect("env set", authz.EnvSet, status)
			var created struct{ ID string }
			if status == 200 {
				_ = json.Unmarshal([]byte(body), &created)
				// The rack must hold the real secrets, not the masks the
				// deployer sent back.
				real := e.rackRelease(t, created.ID)
				if !strings.Contains(real, "DATABASE_URL=postgres://u:secretpw@db/x") || !strings.Contains(real, "NEWKEY=1") ||
					strings.Contains(real, "********") {
					t.Errorf("env on the rack after env set: %q", real)
				}
			}

			// convox releases promote
			target := created.ID
			if target == "" {
				target = testRelease
			}
			status, _ = read(t, e.do("POST", "/rack/apps/myapp/releases/"+target+"/promote", tok, nil, nil))
			expect("promote", authz.ReleasePromote, status)
		})
	}
}

// rackRelease reads a release's env directly from the rack.
func (e *testEnv) rackRelease(t *testing.T, id string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", e.rackSrv.URL+"/apps/myapp/releases/"+id, nil)
	req.SetBasicAuth("convox", e.rackPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, body := read(t, resp)
	var rel struct{ Env string }
	if err := json.Unmarshal([]byte(body), &rel); err != nil {
		t.Fatalf("rack release %s: %s", id, body)
	}
	return rel.Env
}
