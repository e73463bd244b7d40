package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// TestWebsocketRefusedBeforeUpgrade: the rack answers 101 even to bad
// credentials, so the gateway must decide before anything reaches it.
func TestWebsocketRefusedBeforeUpgrade(t *testing.T) {
	e := newEnv(t)
	sockets := []struct {
		path string
		perm authz.Permission
	}{
		{"/apps/myapp/logs", authz.LogRead},
		{"/apps/myapp/processes/" + testPID + "/exec", authz.ProcessExec},
		{"/apps/myapp/resources/database/console", authz.ResourceConsole},
		{"/proxy/database.myapp.svc.cluster.local/5432", authz.RackProxy},
		{"/instances/ip-10-0-1-11.ec2.internal/shell", authz.InstanceShell},
		{"/system/logs", authz.LogRead},
	}
	for _, s := range sockets {
		for _, who := range append([]string{"bad-token", "no-token"}, authz.RoleNames()...) {
			token := e.tokens[who]
			switch who {
			case "bad-token":
				token = "rgw_not-a-real-token"
			case "no-token":
				token = ""
			}
			e.rack.ResetRequests()
			c, resp, err := e.dialWS("/rack"+s.path, token, http.Header{"Command": {"echo hi"}})
			perms, _ := authz.RolePermissions(who)
			allowed := perms.Has(s.perm)
			if allowed {
				if err != nil {
					t.Errorf("%s %s: allowed but %v", who, s.path, err)
					continue
				}
				c.Close()
				continue
			}
			if err == nil {
				c.Close()
				t.Errorf("%s %s: upgraded, want refusal", who, s.path)
				continue
			}
			want := http.StatusForbidden
			if who == "bad-token" || who == "no-token" {
				want = http.StatusUnauthorized
			}
			if resp == nil || resp.StatusCode != want {
				t.Errorf("%s %s: %v, want %d", who, s.path, resp, want)
			}
			if n := len(e.rack.Requests()); n != 0 {
				t.Errorf("%s %s: %d requests reached the rack", who, s.path, n)
			}
		}
	}
}

// TestExecRelaysExactly checks stdin, output and the exit code through the
// gateway, byte for byte, including frames that split lines.
func TestExecRelaysExactly(t *testing.T) {
	e := newEnv(t)
	c, _, err := e.dialWS("/rack/apps/myapp/processes/"+testPID+"/exec", e.tokens[authz.RoleOps],
		http.Header{"Command": {"cat"}, "Tty": {"false"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chunks := []string{"par", "tial line\nsecond ", "line\n", strings.Repeat("z", 70000) + "\n"}
	for _, ch := range chunks {
		if err := c.WriteMessage(websocket.TextMessage, []byte(ch)); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.WriteMessage(websocket.BinaryMessage, nil) // EOF on stdin
	out, code := readStream(t, c)
	if want := strings.Join(chunks, ""); out != want {
		t.Fatalf("output differs: got %d bytes, want %d", len(out), len(want))
	}
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	c.Close()

	c2, _, err := e.dialWS("/rack/apps/myapp/processes/"+testPID+"/exec", e.tokens[authz.RoleOps],
		http.Header{"Command": {"sh -c 'echo out; exit 42'"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	out, code = readStream(t, c2)
	if code != 42 || !strings.Contains(out, "out") {
		t.Fatalf("exit 42: got %d %q", code, out)
	}
	c2.Close()

	// Each exec is audited as an attempt before the upgrade and one session
	// object after: pid, command, duration, exit code, bytes each way.
	var attempts, sessions []map[string]any
	testutil.Eventually(t, "two exec session outcomes in the audit", func() bool {
		attempts, sessions = nil, nil
		for _, ev := range e.audit() {
			if ev.Route != "ProcessExec" {
				continue
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(ev.Details), &d); err != nil {
				t.Fatalf("details %q: %v", ev.Details, err)
			}
			if ev.Resource != testPID {
				t.Errorf("exec event resource %q, want the pid", ev.Resource)
			}
			switch d["phase"] {
			case "attempt":
				attempts = append(attempts, d)
			case "outcome":
				if ev.Status == 101 {
					sessions = append(sessions, d)
				}
			}
		}
		return len(sessions) >= 2
	})
	if len(attempts) != 2 || len(sessions) != 2 {
		t.Fatalf("exec audit: %d attempts, %d session outcomes", len(attempts), len(sessions))
	}
	for i, want := range []struct {
		exit    float64
		command string
		minIn   float64
	}{{0, "cat", 70000}, {42, "sh -c 'echo out; exit 42'", 0}} {
		s, _ := sessions[i]["session"].(map[string]any)
		params, _ := sessions[i]["params"].(map[string]any)
		if s == nil || s["exit_code"] != want.exit || s["bytes_out"].(float64) <= 0 || s["bytes_in"].(float64) < want.minIn ||
			s["duration_ms"] == nil || params["command"] != want.command {
			t.Errorf("session %d = %v params %v, want exit %v, command %q, bytes in ≥ %v", i, s, params, want.exit, want.command, want.minIn)
		}
	}
}

// TestActorHeader: the client's actor headers never reach the rack; the
// gateway's, naming the authenticated user, does. So does the rack password,
// and never the client's token.
func TestActorHeader(t *testing.T) {
	e := newEnv(t)
	e.rack.ResetRequests()
	hdr := http.Header{"X-Convox-Actor": {"mallory@evil"}, "Convox-Actor": {"mallory@evil"},
		"X-Forwarded-For": {"203.0.113.9"}, "Cookie": {"rgw_session=x"}, "Proxy-Authorization": {"Basic eDp5"}}
	status, _ := read(t, e.do("GET", "/rack/apps", e.tokens[authz.RoleViewer], nil, hdr))
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	reqs := e.rack.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d rack requests", len(reqs))
	}
	r := reqs[0]
	if r.Actor != "viewer@example.com (token viewer)" {
		t.Errorf("actor at rack = %q", r.Actor)
	}
	if v := r.Header.Get("Convox-Actor"); v != "" {
		t.Errorf("client Convox-Actor reached the rack: %q", v)
	}
	// The rack learns the caller's address as the gateway resolved it: no
	// proxy is trusted here, so a client-supplied chain is dropped.
	if v := r.Header.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For at the rack = %q, want the peer 127.0.0.1", v)
	}
	for _, k := range []string{"Cookie", "Proxy-Authorization"} {
		if v := r.Header.Get(k); v != "" {
			t.Errorf("client %s reached the rack: %q", k, v)
		}
	}
	if !r.Authorized {
		t.Errorf("rack did not accept the injected rack password")
	}
	if strings.Contains(r.Header.Get("Authorization"), basic(e.tokens[authz.RoleViewer])[6:]) {
		t.Errorf("client token reached the rack")
	}

	// websockets too
	e.rack.ResetRequests()
	hdr.Set("Follow", "false")
	c, _, err := e.dialWS("/rack/apps/myapp/logs", e.tokens[authz.RoleViewer], hdr)
	if err != nil {
		t.Fatal(err)
	}
	readStream(t, c)
	c.Close()
	reqs = e.rack.Requests()
	if len(reqs) != 1 || reqs[0].Actor != "viewer@example.com (token viewer)" || !reqs[0].Websocket {
		t.Fatalf("websocket at rack: %+v", reqs)
	}
}

// TestRackCredentialsAdminOnly: only admin may mint or rotate rack JWTs.
func TestRackCredentialsAdminOnly(t *testing.T) {
	e := newEnv(t)
	for _, role := range authz.RoleNames() {
		b, h := form("role", "read", "durationInHour", "1")
		status, body := read(t, e.do("POST", "/rack/system/jwt/token", e.tokens[role], b, h))
		if role == authz.RoleAdmin {
			if status != 200 || !strings.Contains(body, "token") {
				t.Errorf("admin mint: %d %s", status, body)
			}
		} else if status != 403 {
			t.Errorf("%s mint: %d", role, status)
		}
		status, _ = read(t, e.do("PUT", "/rack/system/jwt/rotate", e.tokens[role], nil, nil))
		if role == authz.RoleAdmin {
			if status != 200 {
				t.Errorf("admin rotate: %d", status)
			}
		} else if status != 403 {
			t.Errorf("%s rotate: %d", role, status)
		}
	}
	for _, r := range e.rack.Requests() {
		if strings.HasPrefix(r.Path, "/system/jwt") && !strings.HasPrefix(r.Actor, "admin@example.com ") {
			t.Errorf("%s %s reached the rack as %q", r.Method, r.Path, r.Actor)
		}
	}
}

// TestUpgradeOnlyOnWebsocketRoutes: an upgrade header on a plain route never
// reaches the rack as an upgrade.
func TestUpgradeOnlyOnWebsocketRoutes(t *testing.T) {
	e := newEnv(t)
	e.rack.ResetRequests()
	status, _ := read(t, e.do("GET", "/rack/apps", e.tokens[authz.RoleViewer], nil,
		http.Header{"Connection": {"Upgrade"}, "Upgrade": {"h2c"}}))
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	reqs := e.rack.Requests()
	if len(reqs) != 1 || reqs[0].Header.Get("Upgrade") != "" || reqs[0].Websocket {
		t.Fatalf("upgrade reached the rack: %+v", reqs)
	}
}
