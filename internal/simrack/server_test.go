package simrack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestAuthentication(t *testing.T) {
	tr := newTestRack(t)
	read, write, admin := tr.token("read"), tr.token("write"), tr.token("admin")

	tests := []struct {
		name       string
		q          req
		wantStatus int
		wantBody   string // exact, when set
		wantRealm  bool
	}{
		{"password", req{path: "/apps"}, 200, "", false},
		{"any username", req{path: "/apps", user: "anybody"}, 200, "", false},
		{"wrong password", req{path: "/apps", pass: "nope"}, 401, "invalid authentication\n", true},
		{"no credentials", req{path: "/apps", noAuth: true}, 401, "invalid authentication\n", true},
		{"password is not a jwt", req{path: "/apps", user: "jwt", pass: testPassword}, 401,
			"invalid authentication: token contains an invalid number of segments\n", false},
		{"forged jwt", req{path: "/apps", user: "jwt", pass: read[:len(read)-4] + "AAAA"}, 401,
			"invalid authentication: signature is invalid\n", false},
		{"read jwt can GET", req{path: "/apps", user: "jwt", pass: read}, 200, "", false},
		{"read jwt reads env", req{path: "/apps/myapp/releases/RMYAPPSECND", user: "jwt", pass: read}, 200, "", false},
		{"read jwt cannot POST", req{method: "POST", path: "/apps", user: "jwt", pass: read, form: url.Values{"name": {"x"}}}, 401,
			"you are unauthorized to access this\n", false},
		{"read jwt cannot HEAD", req{method: "HEAD", path: "/apps/myapp/objects/x", user: "jwt", pass: read}, 401, "", false},
		{"read jwt cannot OPTIONS", req{method: "OPTIONS", path: "/resources", user: "jwt", pass: read}, 401,
			"you are unauthorized to access this\n", false},
		{"write jwt can POST", req{method: "POST", path: "/apps", user: "jwt", pass: write, form: url.Values{"name": {"created-by-jwt"}}}, 200, "", false},
		{"admin jwt can GET", req{path: "/system", user: "jwt", pass: admin}, 200, "", false},
		{"auth route", req{path: "/auth"}, 200, "ok\n", false},
		{"auth route bad password", req{path: "/auth", pass: "nope"}, 401, "invalid authentication\n", true},
		{"check needs no auth", req{path: "/check", noAuth: true}, 200, "ok", false},
		{"check any method", req{method: "POST", path: "/check", noAuth: true}, 200, "ok", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tr.do(tt.q)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", r.status, tt.wantStatus, r.body)
			}
			if tt.wantBody != "" && r.body != tt.wantBody {
				t.Errorf("body %q, want %q", r.body, tt.wantBody)
			}
			if got := r.header.Get("WWW-Authenticate"); (got == `Basic realm="convox"`) != tt.wantRealm {
				t.Errorf("WWW-Authenticate %q, want realm %v", got, tt.wantRealm)
			}
			if tt.wantStatus == 401 && tt.q.method != "HEAD" && !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
				t.Errorf("401 content type %q", r.header.Get("Content-Type"))
			}
		})
	}
}

func TestJWTMintAndRotate(t *testing.T) {
	tr := newTestRack(t)
	read, write := tr.token("read"), tr.token("write")

	mint := func(user, pass, role, hours string) resp {
		return tr.do(req{method: "POST", path: "/system/jwt/token", user: user, pass: pass,
			form: url.Values{"role": {role}, "durationInHour": {hours}}})
	}
	tests := []struct {
		name       string
		user, pass string
		role       string
		hours      string
		wantStatus int
		wantBody   string
	}{
		{"admin mints admin", "convox", testPassword, "admin", "1", 200, ""},
		{"admin mints read for a year", "convox", testPassword, "read", "8760", 200, ""},
		{"write mints write", "jwt", write, "write", "8760", 200, ""},
		{"write cannot mint admin", "jwt", write, "admin", "1", 403, "admin role required to mint admin tokens\n"},
		{"read cannot mint at all", "jwt", read, "read", "1", 401, "you are unauthorized to access this\n"},
		{"duration too short", "convox", testPassword, "read", "0", 400, "duration must be between 1 and 8760 hours\n"},
		{"duration too long", "convox", testPassword, "read", "8761", 400, "duration must be between 1 and 8760 hours\n"},
		{"duration not a number", "convox", testPassword, "read", "x", 400, "invalid duration\n"},
		{"unknown role", "convox", testPassword, "root", "1", 400, "invalid role: must be read, write, or admin\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mint(tt.user, tt.pass, tt.role, tt.hours)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d (%q)", r.status, tt.wantStatus, r.body)
			}
			if tt.wantBody != "" && r.body != tt.wantBody {
				t.Errorf("body %q, want %q", r.body, tt.wantBody)
			}
			if tt.wantStatus == 200 {
				var v struct{ Token string }
				if err := json.Unmarshal([]byte(r.body), &v); err != nil || strings.Count(v.Token, ".") != 2 {
					t.Fatalf("token response %q", r.body)
				}
				if got := tr.do(req{path: "/apps", user: "jwt", pass: v.Token}); got.status != 200 {
					t.Errorf("minted token rejected: %d %q", got.status, got.body)
				}
			}
		})
	}

	t.Run("rotate needs admin", func(t *testing.T) {
		r := tr.do(req{method: "PUT", path: "/system/jwt/rotate", user: "jwt", pass: write})
		if r.status != 403 || r.body != "admin role required\n" {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("rotate invalidates tokens", func(t *testing.T) {
		if r := tr.do(req{method: "PUT", path: "/system/jwt/rotate"}); r.status != 200 || r.body != "ok\n" {
			t.Fatalf("rotate: %d %q", r.status, r.body)
		}
		r := tr.do(req{path: "/apps", user: "jwt", pass: read})
		if r.status != 401 || r.body != "invalid authentication: signature is invalid\n" {
			t.Fatalf("old token: %d %q", r.status, r.body)
		}
	})
}

func TestRouting(t *testing.T) {
	tr := newTestRack(t)
	tests := []struct {
		name       string
		q          req
		wantStatus int
		wantBody   *string
	}{
		{"machines probe", req{path: "/machines?"}, 404, ptr("")},
		{"racks probe", req{path: "/racks?"}, 404, ptr("")},
		{"root", req{path: "/"}, 404, ptr("")},
		{"unknown without auth is 404 not 401", req{path: "/nope", noAuth: true}, 404, ptr("")},
		{"trailing slash is not cleaned", req{path: "/apps/"}, 404, ptr("")},
		{"double slash is not cleaned", req{path: "//apps"}, 404, ptr("")},
		{"socket route without upgrade", req{path: "/apps/myapp/logs"}, 404, ptr("")},
		{"system logs without upgrade", req{path: "/system/logs"}, 404, ptr("")},
		{"method mismatch", req{method: "PATCH", path: "/apps"}, 405, ptr("")},
		{"HEAD on a GET route", req{method: "HEAD", path: "/apps"}, 405, nil},
		{"legacy environment path", req{method: "POST", path: "/apps/myapp/environment"}, 404, ptr("")},
		{"app get", req{path: "/apps/myapp"}, 200, nil},
		{"build export wins over build get", req{path: "/apps/myapp/builds/BMYAPPFIRST.tgz"}, 200, nil},
		{"object key with slashes", req{path: "/apps/myapp/objects/build/BMYAPPFIRST/logs"}, 200, nil},
		{"object key with dotdot", req{path: "/apps/myapp/objects/a/../b"}, 400, ptr("invalid object key\n")},
		{"empty object key", req{path: "/apps/myapp/objects/"}, 400, ptr("invalid object key\n")},
		{"registry remove", req{method: "DELETE", path: "/registries/registry.example.com"}, 200, ptr("ok\n")},
		{"registry server may contain slashes", req{method: "DELETE", path: "/registries/ghcr.io/org"}, 404, ptr("no such registry: ghcr.io/org\n")},
		{"docker registry v2", req{path: "/v2/"}, 200, nil},
		{"unknown app", req{path: "/apps/nope"}, 404, ptr("app not found: nope\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tr.do(tt.q)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d (%q)", r.status, tt.wantStatus, r.body)
			}
			if tt.wantBody != nil && r.body != *tt.wantBody {
				t.Errorf("body %q, want %q", r.body, *tt.wantBody)
			}
			for _, h := range []string{"Request-Id", "X-Content-Type-Options", "X-Frame-Options"} {
				if r.header.Get(h) == "" {
					t.Errorf("missing %s", h)
				}
			}
		})
	}
}

func TestRouteTable(t *testing.T) {
	r := New(Config{Password: "x"})
	// 100 routes of setupRoutes plus GET /auth (/check is handled before routing).
	if n := len(r.router.routes); n != 101 {
		t.Fatalf("%d routes, want 101", n)
	}
	seen := map[string]bool{}
	for _, rt := range r.router.routes {
		k := rt.method + " " + rt.tmpl
		if seen[k] {
			t.Errorf("duplicate route %s", k)
		}
		seen[k] = true
	}
}

func TestErrorFormats(t *testing.T) {
	tr := newTestRack(t)
	tests := []struct {
		name      string
		accept    string
		wantType  string
		wantBody  string
		wantCode  int
		path      string
		badPasswd bool
	}{
		{"text by default", "*/*", "text/plain; charset=utf-8", "app not found: nope\n", 404, "/apps/nope", false},
		{"json when accepted", "application/json", "application/json", "{\"error\":\"app not found: nope\"}\n", 404, "/apps/nope", false},
		{"json with params", "text/html, application/json;q=0.9", "application/json", "{\"error\":\"app not found: nope\"}\n", 404, "/apps/nope", false},
		{"json auth failure", "application/json", "application/json", "{\"error\":\"invalid authentication\"}\n", 401, "/apps", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := req{path: tt.path, header: map[string]string{"Accept": tt.accept}}
			if tt.badPasswd {
				q.pass = "bad"
			}
			r := tr.do(q)
			if r.status != tt.wantCode || r.body != tt.wantBody || r.header.Get("Content-Type") != tt.wantType {
				t.Fatalf("got %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
			}
		})
	}
}

func TestParamsFallBackToQueryAndHeader(t *testing.T) {
	tr := newTestRack(t)
	tests := []struct {
		name string
		q    req
		want string
	}{
		{"form body", req{method: "POST", path: "/apps", form: url.Values{"name": {"from-form"}}}, "from-form"},
		{"query string", req{method: "POST", path: "/apps?name=from-query"}, "from-query"},
		{"header", req{method: "POST", path: "/apps", header: map[string]string{"Name": "from-header"}}, "from-header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a apiApp
			tr.jsonDo(tt.q, &a)
			if a.Name != tt.want {
				t.Fatalf("created %q, want %q", a.Name, tt.want)
			}
		})
	}
	if r := tr.do(req{method: "POST", path: "/apps", form: url.Values{"name": {"from-form"}}}); r.status != 409 {
		t.Fatalf("duplicate app: %d %q", r.status, r.body)
	}
}

func TestRequestLog(t *testing.T) {
	tr := newTestRack(t)
	tr.ResetRequests()
	tr.do(req{path: "/apps", header: map[string]string{"Convox-Actor": "alice", "X-Convox-Actor": "mallory"}})
	tr.do(req{path: "/apps", header: map[string]string{"X-Convox-Actor": "bob"}})
	tr.do(req{path: "/apps", pass: "wrong"})
	tr.do(req{path: "/machines?", noAuth: true})
	tr.do(req{method: "POST", path: "/apps/myapp/objects/k", body: strings.NewReader("12345")})
	conn := tr.mustDial("/apps/myapp/logs", map[string]string{"Follow": "false"})
	readUntilEOF(t, conn)

	got := tr.Requests()
	want := []Request{
		{Method: "GET", Path: "/apps", Actor: "alice", Authorized: true, Role: "rwa", Status: 200},
		{Method: "GET", Path: "/apps", Actor: "bob", Authorized: true, Role: "rwa", Status: 200},
		{Method: "GET", Path: "/apps", Authorized: false, Status: 401},
		{Method: "GET", Path: "/machines", Authorized: false, Status: 404},
		{Method: "POST", Path: "/apps/myapp/objects/k", Authorized: true, Role: "rwa", Status: 200, BodyBytes: 5},
		{Method: "GET", Path: "/apps/myapp/logs", Websocket: true, Authorized: true, Role: "rwa", Status: 101},
	}
	if len(got) != len(want) {
		t.Fatalf("%d requests logged, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.Method || g.Path != w.Path || g.Actor != w.Actor || g.Authorized != w.Authorized ||
			g.Role != w.Role || g.Status != w.Status || g.BodyBytes != w.BodyBytes || g.Websocket != w.Websocket {
			t.Errorf("request %d = %+v, want %+v", i, g, w)
		}
		if g.Header.Get("Authorization") == "" && i != 3 {
			t.Errorf("request %d: headers not recorded", i)
		}
	}
	tr.ResetRequests()
	if n := len(tr.Requests()); n != 0 {
		t.Fatalf("%d requests after reset", n)
	}
}

// A bounded log keeps the newest requests, in order, and never more than
// twice its bound.
func TestRequestLogBounded(t *testing.T) {
	r := New(Config{Password: "pw", MaxRequests: 10})
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	for i := range 57 {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/apps?n=%d", srv.URL, i), nil)
		req.SetBasicAuth("convox", "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := r.Requests()
		if len(got) > 20 || len(got) < min(i+1, 10) {
			t.Fatalf("after %d requests the log holds %d", i+1, len(got))
		}
		if last := got[len(got)-1].RawQuery; last != fmt.Sprintf("n=%d", i) {
			t.Fatalf("newest entry %q after request %d", last, i)
		}
		for j := 1; j < len(got); j++ {
			var a, b int
			fmt.Sscanf(got[j-1].RawQuery, "n=%d", &a)
			fmt.Sscanf(got[j].RawQuery, "n=%d", &b)
			if b != a+1 {
				t.Fatalf("log out of order or with gaps: %q then %q", got[j-1].RawQuery, got[j].RawQuery)
			}
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	tr := newTestRack(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				tr.do(req{path: "/apps/myapp/processes"})
				tr.do(req{method: "PUT", path: "/apps/myapp/services/web", form: url.Values{"count": {string(rune('1' + (i+j)%3))}}})
				tr.do(req{method: "POST", path: "/apps/myapp/releases", form: url.Values{"env": {"A=1"}}})
				_ = tr.Requests()
			}
		}(i)
	}
	wg.Wait()
}

func ptr[T any](v T) *T { return &v }

func TestSystemVersionIsTheCurrentRelease(t *testing.T) {
	tr := newTestRack(t)
	var s apiSystem
	tr.jsonDo(req{path: "/system"}, &s)
	if s.Version != RackVersion || !strings.HasPrefix(s.Version, "3.") {
		t.Fatalf("version %q, want %q", s.Version, RackVersion)
	}
	if r := tr.do(req{method: "PUT", path: "/system", form: url.Values{"version": {"3.25.0"}}}); r.status != 200 {
		t.Fatalf("rack update: %d %q", r.status, r.body)
	}
	tr.jsonDo(req{path: "/system"}, &s)
	if s.Version != "3.25.0" {
		t.Fatalf("after update: %q", s.Version)
	}
}
