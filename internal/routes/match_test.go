package routes

import (
	"net/http"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		method, path string
		ws           bool
		want         string // route name, "" = no match
		params       map[string]string
	}{
		{"GET", "/apps", false, "AppList", nil},
		{"GET", "/apps/myapp", false, "AppGet", map[string]string{"app": "myapp"}},
		{"POST", "/apps/myapp/builds/import", false, "BuildImport", map[string]string{"app": "myapp"}},
		{"GET", "/apps/myapp/builds/B123.tgz", false, "BuildExport", map[string]string{"app": "myapp", "id": "B123"}},
		{"GET", "/apps/myapp/builds/B123", false, "BuildGet", map[string]string{"id": "B123"}},
		{"GET", "/apps/myapp/objects/tmp/a/b.tgz", false, "ObjectFetch", map[string]string{"key": "tmp/a/b.tgz"}},
		{"HEAD", "/apps/myapp/objects/tmp/x", false, "ObjectExists", nil},
		{"GET", "/apps/myapp/processes/p1/exec", true, "ProcessExec", map[string]string{"app": "myapp", "pid": "p1"}},
		{"GET", "/apps/myapp/processes/p1/exec", false, "", nil}, // socket route needs an upgrade
		{"GET", "/apps", true, "", nil}, // plain route never matches an upgrade
		{"GET", "/apps/myapp/logs", true, "AppLogs", nil},
		{"DELETE", "/registries/index.docker.io/v1", false, "RegistryRemove", map[string]string{"server": "index.docker.io/v1"}},
		{"POST", "/system/jwt/token", false, "SystemJwtToken", nil},
		{"PUT", "/system/jwt/rotate", false, "SystemJwtSignKeyRotate", nil},
		{"PATCH", "/apps/myapp", false, "", nil},
		{"GET", "/machines", false, "", nil},
		{"GET", "/apps/myapp/environment", false, "", nil},
		{"OPTIONS", "/resources", false, "SystemResourceTypes", nil},
		{"GET", "/apps/myapp/resources/db/data", false, "ResourceExport", map[string]string{"name": "db"}},
		{"GET", "/check", false, "Check", nil},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			m, ok := Default().Match(c.method, c.path, c.ws)
			if c.want == "" {
				if ok {
					t.Fatalf("matched %s, want no match", m.Route.Name)
				}
				return
			}
			if !ok || m.Route.Name != c.want {
				t.Fatalf("got %v %v, want %s", ok, m.Route, c.want)
			}
			for k, v := range c.params {
				if got := m.Params.Get(k); got != v {
					t.Errorf("param %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// Every route in the table must match itself with sample values.
func TestEveryRouteMatchesItself(t *testing.T) {
	for i := range table {
		r := &table[i]
		path := samplePath(r.Path)
		m, ok := Default().Match(r.Method, path, r.Websocket)
		if !ok || m.Route != r {
			got := "none"
			if ok {
				got = m.Route.Name + " " + m.Route.Path
			}
			t.Errorf("%s %s (sample %s) matched %s", r.Method, r.Path, path, got)
		}
		if r.Permission == "" && !r.Public {
			t.Errorf("%s %s has no permission", r.Method, r.Path)
		}
		if r.Permission != "" && !r.Permission.Valid() {
			t.Errorf("%s %s: unknown permission %s", r.Method, r.Path, r.Permission)
		}
		if r.Method != http.MethodGet && !r.Mutating {
			t.Errorf("%s %s: non-GET routes must be mutating", r.Method, r.Path)
		}
	}
}

// SamplePath fills a pattern with plausible values; shared with other tests
// through export_test.go-free duplication is avoided by keeping it here.
func samplePath(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		switch {
		case strings.HasSuffix(s, "...}"):
			segs[i] = "some/deep/key"
		case strings.HasPrefix(s, "{"):
			end := strings.Index(s, "}")
			segs[i] = "x" + s[1:end] + s[end+1:]
		}
	}
	return strings.Join(segs, "/")
}

func TestCompileRejectsDuplicates(t *testing.T) {
	_, err := Compile([]Route{
		{Name: "A", Method: "GET", Path: "/a/{x}"},
		{Name: "B", Method: "GET", Path: "/a/{x}"},
	})
	if err == nil {
		t.Fatal("duplicate route accepted")
	}
}

func TestCheckPath(t *testing.T) {
	cases := []struct {
		escaped, decoded string
		ok               bool
	}{
		{"/apps", "/apps", true},
		{"/", "/", true},
		{"/apps/myapp/objects/tmp/x.tgz", "/apps/myapp/objects/tmp/x.tgz", true},
		{"/apps/../system", "/apps/../system", false},
		{"/apps/%2e%2e/system", "/apps/../system", false},
		{"/apps/%2E%2E/system", "/apps/../system", false},
		{"/apps/a%2fb", "/apps/a/b", false},
		{"/apps/a%2Fb", "/apps/a/b", false},
		{"/apps//myapp", "/apps//myapp", false},
		{"/apps/./myapp", "/apps/./myapp", false},
		{"/apps/", "/apps/", false},
		{"/apps/a%5cb", "/apps/a\\b", false},
		{"/apps/a%00", "/apps/a\x00", false},
		{"apps", "apps", false},
		{"/apps/my%20app", "/apps/my app", true},
	}
	for _, c := range cases {
		err := CheckPath(c.escaped, c.decoded)
		if (err == nil) != c.ok {
			t.Errorf("CheckPath(%q) = %v, want ok=%v", c.escaped, err, c.ok)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	paths := []struct {
		m, p string
		ws   bool
	}{
		{"GET", "/apps", false},
		{"GET", "/apps/myapp/processes/p-123/exec", true},
		{"POST", "/apps/myapp/objects/tmp/source.tgz", false},
		{"GET", "/apps/myapp/builds/BABCDEF.tgz", false},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := paths[i%len(paths)]
		if _, ok := Default().Match(p.m, p.p, p.ws); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkCheckPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if CheckPath("/apps/myapp/processes/p-123/exec", "/apps/myapp/processes/p-123/exec") != nil {
			b.Fatal("rejected")
		}
	}
}
