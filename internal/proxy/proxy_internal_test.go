package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
	"github.com/rack-gateway/rack-gateway/internal/secrets"
)

func testHandler() *Handler {
	return &Handler{secrets: secrets.NewClassifier([]string{"SALT"}, nil), policy: &authz.Policy{}}
}

// decode parses a filter's output for comparison.
func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("output is not JSON: %v: %s", err, b)
	}
	return v
}

const releaseEnv = "DATABASE_URL=postgres://u:secretpw@db/x\nSECRET_KEY_BASE=9f86d0\nPASSWORD_SALT=pepper\nPORT=3000"

func TestApplyFilter(t *testing.T) {
	h := testHandler()
	rel := func(env string) map[string]any {
		return map[string]any{"id": "R1", "app": "myapp", "build": "B1", "env": env, "manifest": "services: {}"}
	}
	relNoEnv := map[string]any{"id": "R1", "app": "myapp", "build": "B1", "manifest": "services: {}"}
	masked := "DATABASE_URL=********\nSECRET_KEY_BASE=********\nPASSWORD_SALT=********\nPORT=3000"
	mustJSON := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name   string
		filter routes.Filter
		canEnv bool
		in     string
		want   any // decoded JSON
	}{
		{
			name: "release env removed without env:read", filter: routes.FilterReleaseEnv,
			in: mustJSON(rel(releaseEnv)), want: relNoEnv,
		},
		{
			name: "release env masked with env:read", filter: routes.FilterReleaseEnv, canEnv: true,
			in: mustJSON(rel(releaseEnv)), want: rel(masked),
		},
		{
			name: "release list: every item", filter: routes.FilterReleaseEnv,
			in:   mustJSON([]any{rel(releaseEnv), rel("A=1"), relNoEnv}),
			want: []any{relNoEnv, relNoEnv, relNoEnv},
		},
		{
			name: "release list masked", filter: routes.FilterReleaseEnv, canEnv: true,
			in:   mustJSON([]any{rel(releaseEnv), rel("API_TOKEN=t\nA=1")}),
			want: []any{rel(masked), rel("API_TOKEN=********\nA=1")},
		},
		{
			name: "empty array", filter: routes.FilterReleaseEnv,
			in: `[]`, want: []any{},
		},
		{
			name: "array with null item", filter: routes.FilterReleaseEnv,
			in: `[null, {"env":"TOKEN=x","id":"R2"}]`, want: []any{nil, map[string]any{"id": "R2"}},
		},
		{
			name: "resource url masked", filter: routes.FilterResourceURL,
			in:   `{"name":"db","type":"postgres","url":"postgres://app:dbpw@db.internal:5432/app","status":"running"}`,
			want: map[string]any{"name": "db", "type": "postgres", "url": "postgres://app:********@db.internal:5432/app", "status": "running"},
		},
		{
			name: "resource url without password unchanged", filter: routes.FilterResourceURL,
			in:   `{"name":"cache","url":"redis://cache:6379"}`,
			want: map[string]any{"name": "cache", "url": "redis://cache:6379"},
		},
		{
			name: "resource list and parameters", filter: routes.FilterResourceURL,
			in: `[{"name":"db","url":"postgres://a:p1@h/d","parameters":{"Password":"p2","Url":"mysql://r:p3@h/x","Size":"db.t3","Count":2}},
			      {"name":"r","url":"redis://:p4@h:6379"}]`,
			want: []any{
				map[string]any{"name": "db", "url": "postgres://a:********@h/d", "parameters": map[string]any{
					"Password": secrets.Mask, "Url": "mysql://r:********@h/x", "Size": "db.t3", "Count": float64(2)}},
				map[string]any{"name": "r", "url": "redis://:********@h:6379"},
			},
		},
		{
			name: "registry password masked", filter: routes.FilterRegistryPassword,
			in:   `[{"server":"r.example.com","username":"bot","password":"regpw"},{"server":"s","username":"u"}]`,
			want: []any{map[string]any{"server": "r.example.com", "username": "bot", "password": secrets.Mask}, map[string]any{"server": "s", "username": "u"}},
		},
		{
			name: "registry single object", filter: routes.FilterRegistryPassword,
			in:   `{"server":"r.example.com","password":"regpw"}`,
			want: map[string]any{"server": "r.example.com", "password": secrets.Mask},
		},
		{
			name: "other fields and nesting preserved", filter: routes.FilterReleaseEnv,
			in:   `{"env":"X=1","nested":{"env":"kept","n":[1,2,3]},"flag":true,"nil":null}`,
			want: map[string]any{"nested": map[string]any{"env": "kept", "n": []any{float64(1), float64(2), float64(3)}}, "flag": true, "nil": nil},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := h.applyFilter(tc.filter, []byte(tc.in), tc.canEnv)
			if err != nil {
				t.Fatalf("applyFilter: %v", err)
			}
			got := decode(t, out)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %s\nwant %s", out, mustJSON(tc.want))
			}
			for _, secret := range []string{"secretpw", "9f86d0", "pepper", "dbpw", "regpw", "p1@", "p2", "p3@", "p4@"} {
				if bytes.Contains(out, []byte(secret)) {
					t.Errorf("output leaks %q: %s", secret, out)
				}
			}
		})
	}
}

func TestApplyFilterPassthroughAndErrors(t *testing.T) {
	h := testHandler()
	for _, body := range []string{"", "  \n", "null", " null \n"} {
		out, err := h.applyFilter(routes.FilterReleaseEnv, []byte(body), false)
		if err != nil || string(out) != body {
			t.Errorf("applyFilter(%q) = %q, %v; want unchanged", body, out, err)
		}
	}
	// Anything that is not an object or an array of objects cannot be
	// filtered and must be withheld (an error), never passed through.
	for _, body := range []string{
		`{"env": "SECRET=x"`, `not json`, `"SECRET=x"`, `42`, `["SECRET=x"]`, `[1,2]`, `[{"env":"A=1"},`, `{"env":"A"} trailing`,
	} {
		for _, f := range []routes.Filter{routes.FilterReleaseEnv, routes.FilterResourceURL, routes.FilterRegistryPassword} {
			if out, err := h.applyFilter(f, []byte(body), false); err == nil {
				t.Errorf("applyFilter(%s, %q) = %q, want error", f, body, out)
			}
		}
	}
}

func TestModifyResponse(t *testing.T) {
	h := testHandler()
	rt := route(t, "ReleaseGet")
	viewer := principal(authz.RoleViewer, nil)
	deployer := principal(authz.RoleDeployer, nil)
	mk := func(p *authz.Principal, status int, body string) *http.Response {
		c := &call{principal: p, route: rt, rack: "dev", filterActive: h.filterActive(rt, p, "dev")}
		req := newRequest(withCall(context.Background(), c))
		return &http.Response{StatusCode: status, Request: req, Header: http.Header{
			"Content-Encoding": {"identity"}, "Etag": {`"abc"`}, "Content-Length": {"999"}}, Body: io.NopCloser(strings.NewReader(body))}
	}
	body := `{"id":"R1","env":"API_TOKEN=tok\nPORT=1"}`

	resp := mk(viewer, 200, body)
	if err := h.modifyResponse(resp); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), "env") || resp.ContentLength != int64(len(b)) || resp.Header.Get("Content-Length") != itoa(len(b)) {
		t.Errorf("viewer: %s (len %d, header %q)", b, resp.ContentLength, resp.Header.Get("Content-Length"))
	}
	if resp.Header.Get("Etag") != "" || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("stale headers kept: %v", resp.Header)
	}

	resp = mk(deployer, 200, body)
	if err := h.modifyResponse(resp); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `API_TOKEN=********\nPORT=1`) || strings.Contains(string(b), "tok\\n") {
		t.Errorf("deployer: %s", b)
	}

	// Errors from the rack are passed through untouched.
	resp = mk(viewer, 404, `{"error":"no such release"}`)
	if err := h.modifyResponse(resp); err != nil {
		t.Fatal(err)
	}
	if b, _ = io.ReadAll(resp.Body); string(b) != `{"error":"no such release"}` {
		t.Errorf("404 body changed: %s", b)
	}

	// An unparseable success is withheld.
	resp = mk(viewer, 200, `SECRET=x`)
	if err := h.modifyResponse(resp); !errors.Is(err, errFilter) {
		t.Errorf("unparseable body: %v, want errFilter", err)
	}

	// Without request info, or with the filter inactive, nothing changes.
	resp = &http.Response{StatusCode: 200, Request: newRequest(context.Background()), Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(body))}
	if err := h.modifyResponse(resp); err != nil {
		t.Fatal(err)
	}
	if b, _ = io.ReadAll(resp.Body); string(b) != body {
		t.Errorf("body without request info changed: %s", b)
	}
	admin := principal(authz.RoleAdmin, nil)
	resp = mk(admin, 200, body)
	if err := h.modifyResponse(resp); err != nil {
		t.Fatal(err)
	}
	if b, _ = io.ReadAll(resp.Body); string(b) != body {
		t.Errorf("admin body changed: %s", b)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func newRequest(ctx context.Context) *http.Request {
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://rack/apps/myapp/releases/R1", nil)
	return r
}

func route(t *testing.T, name string) *routes.Route {
	t.Helper()
	table := routes.Table()
	for i := range table {
		if table[i].Name == name {
			return &table[i]
		}
	}
	t.Fatalf("no route %s", name)
	return nil
}

// principal is a token principal with the given role and scope (nil scope:
// every permission, so the role alone decides).
func principal(role string, scope []authz.Permission) *authz.Principal {
	s := authz.Universe()
	if scope != nil {
		s = authz.NewSet(scope...)
	}
	return &authz.Principal{Kind: authz.KindToken, UserID: 1, Email: role + "@example.com", Role: role,
		TokenID: 1, TokenName: "t", TokenPerms: s}
}

func TestFilterActive(t *testing.T) {
	h := testHandler()
	cases := []struct {
		route string
		p     *authz.Principal
		rack  string
		want  bool
	}{
		// Routes without a filter are never rewritten.
		{"AppList", principal(authz.RoleViewer, nil), "dev", false},
		{"AppList", nil, "dev", false},
		{"ReleaseCreate", principal(authz.RoleDeployer, nil), "dev", true},
		// Release env: rewritten unless the caller has secret:read.
		{"ReleaseGet", principal(authz.RoleViewer, nil), "dev", true},
		{"ReleaseList", principal(authz.RoleOps, nil), "dev", true},
		{"ReleaseList", principal(authz.RoleDeployer, nil), "dev", true},
		{"ReleaseList", principal(authz.RoleAdmin, nil), "dev", false},
		{"SystemReleases", principal(authz.RoleAdmin, nil), "dev", false},
		{"ReleaseList", principal(authz.RoleAdmin, []authz.Permission{authz.ReleaseRead, authz.EnvRead}), "dev", true},
		// A nil principal (never authenticated) always gets the filter.
		{"ReleaseGet", nil, "dev", true},
		{"ResourceGet", nil, "dev", true},
		// Resource URLs: resource:credentials.
		{"ResourceList", principal(authz.RoleDeployer, nil), "dev", true},
		{"SystemResourceGet", principal(authz.RoleAdmin, nil), "dev", false},
		{"SystemResourceList", principal(authz.RoleAdmin, []authz.Permission{authz.ResourceRead}), "dev", true},
		// Registry passwords: secret:read.
		{"RegistryList", principal(authz.RoleAdmin, nil), "dev", false},
		{"RegistryList", principal(authz.RoleAdmin, []authz.Permission{authz.RegistryRead}), "dev", true},
		// Per-rack roles decide on their rack.
		{"ReleaseGet", withRack(principal(authz.RoleViewer, nil), "prod", authz.RoleAdmin), "prod", false},
		{"ReleaseGet", withRack(principal(authz.RoleViewer, nil), "prod", authz.RoleAdmin), "dev", true},
		{"ReleaseGet", withRack(principal(authz.RoleAdmin, nil), "prod", authz.RoleViewer), "prod", true},
	}
	for _, tc := range cases {
		who := "nil"
		if tc.p != nil {
			who = tc.p.Role + "/" + strings.Join(tc.p.TokenPerms.Strings()[:min(3, len(tc.p.TokenPerms.Strings()))], ",")
		}
		if got := h.filterActive(route(t, tc.route), tc.p, tc.rack); got != tc.want {
			t.Errorf("filterActive(%s, %s, %s) = %v, want %v", tc.route, who, tc.rack, got, tc.want)
		}
	}
}

func withRack(p *authz.Principal, rack, role string) *authz.Principal {
	p.RackRole = map[string]string{rack: role}
	return p
}

// A token scoped to secret:read but not env:read lacks env:read, so the
// route's documented filter ("removes env for callers without env:read")
// must still apply.
func TestFilterActiveSecretReadWithoutEnvRead(t *testing.T) {
	h := testHandler()
	p := principal(authz.RoleAdmin, []authz.Permission{authz.ReleaseRead, authz.SecretRead})
	if h.policy.Allowed(p, authz.EnvRead, "dev") {
		t.Fatal("setup: principal has env:read")
	}
	if !h.filterActive(route(t, "ReleaseGet"), p, "dev") {
		t.Error("filter inactive for a caller without env:read: the env is returned in full")
	}
}

func TestStripPrefix(t *testing.T) {
	cases := []struct {
		rawURL, prefix string
		path, rawPath  string
		ok             bool
	}{
		{"/rack/apps", "/rack", "/apps", "", true},
		{"/rack", "/rack", "/", "", true},
		{"/rack/", "/rack", "/", "", true},
		{"/racks/prod/apps/myapp", "/racks/prod", "/apps/myapp", "", true},
		{"/rack/apps/my%2Fapp", "/rack", "/apps/my/app", "/apps/my%2Fapp", true},
		{"/rack/apps/a%20b", "/rack", "/apps/a b", "", true}, // RawPath not kept when it is the default encoding
		{"/rack/v2/x%2Fy/blobs", "/rack", "/v2/x/y/blobs", "/v2/x%2Fy/blobs", true},
		{"/other/apps", "/rack", "", "", false},
		{"/apps", "", "/apps", "", true},
		// A prefix spelled with escapes only in RawPath does not match it.
		{"/r%61ck/apps/a%2Fb", "/rack", "", "", false},
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.rawURL)
		if err != nil {
			t.Fatal(err)
		}
		path, rawPath, ok := stripPrefix(u, tc.prefix)
		if path != tc.path || rawPath != tc.rawPath || ok != tc.ok {
			t.Errorf("stripPrefix(%q, %q) = %q, %q, %v; want %q, %q, %v", tc.rawURL, tc.prefix, path, rawPath, ok, tc.path, tc.rawPath, tc.ok)
		}
	}
	// Hand-built URLs (as after routing) with RawPath set.
	u := &url.URL{Path: "/rack/apps/a/b", RawPath: "/rack/apps/a%2Fb"}
	if p, rp, ok := stripPrefix(u, "/rack"); !ok || p != "/apps/a/b" || rp != "/apps/a%2Fb" {
		t.Errorf("hand-built: %q %q %v", p, rp, ok)
	}
	u = &url.URL{Path: "/rack", RawPath: "/rack"}
	if p, rp, ok := stripPrefix(u, "/rack"); !ok || p != "/" || rp != "/" {
		t.Errorf("root with RawPath: %q %q %v", p, rp, ok)
	}
	u = &url.URL{Path: "/rack/x", RawPath: "/elsewhere/x"}
	if _, _, ok := stripPrefix(u, "/rack"); ok {
		t.Error("RawPath without the prefix accepted")
	}
}

func TestIsWebsocketAndHeaderHasToken(t *testing.T) {
	cases := []struct {
		name string
		h    http.Header
		want bool
	}{
		{"plain", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, true},
		{"case", http.Header{"Connection": {"UPGRADE"}, "Upgrade": {"WebSocket"}}, true},
		{"comma list", http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}}, true},
		{"comma list no spaces", http.Header{"Connection": {"keep-alive,upgrade"}, "Upgrade": {"h2c,websocket"}}, true},
		{"multiple header lines", http.Header{"Connection": {"keep-alive", "upgrade"}, "Upgrade": {"websocket"}}, true},
		{"no upgrade header", http.Header{"Connection": {"Upgrade"}}, false},
		{"no connection upgrade", http.Header{"Connection": {"keep-alive"}, "Upgrade": {"websocket"}}, false},
		{"other protocol", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"h2c"}}, false},
		{"substring is not a token", http.Header{"Connection": {"upgraded"}, "Upgrade": {"websockets"}}, false},
		{"empty", http.Header{}, false},
	}
	for _, tc := range cases {
		r := &http.Request{Header: tc.h}
		if got := isWebsocket(r); got != tc.want {
			t.Errorf("%s: isWebsocket = %v, want %v", tc.name, got, tc.want)
		}
	}
	tokenCases := []struct {
		vals  []string
		token string
		want  bool
	}{
		{[]string{"a, b ,c"}, "b", true},
		{[]string{"a", " B "}, "b", true},
		{[]string{"ab"}, "b", false},
		{[]string{""}, "b", false},
		{nil, "b", false},
		{[]string{"close"}, "Close", true},
	}
	for _, tc := range tokenCases {
		h := http.Header{}
		if tc.vals != nil {
			h["X-Test"] = tc.vals
		}
		if got := headerHasToken(h, "X-Test", tc.token); got != tc.want {
			t.Errorf("headerHasToken(%q, %q) = %v, want %v", tc.vals, tc.token, got, tc.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if truncate("abcdef", 3) != "abc" || truncate("ab", 3) != "ab" || truncate("", 0) != "" {
		t.Error("truncate")
	}
}
