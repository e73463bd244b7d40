package routes

import (
	"net/url"
	"strings"
	"testing"
)

// A path the gateway accepts (CheckPath) is one the rack cannot read as
// different segments: no empty, dot or dot-dot segment, no control
// character or backslash, and a matched route's parameters hold no slash
// (except a final catch-all). Matching never panics.
func FuzzCheckPathAndMatch(f *testing.F) {
	for _, s := range []string{"/apps", "/apps/myapp/processes/web-1/exec", "/apps/%2e%2e/system", "/apps//x",
		"/apps/./x", "/apps/x%2fy", "/apps/a%00b", "/apps/\x7f", "/apps/myapp/objects/a/b/c.tgz", "/v2/x/manifests/y",
		"/apps/%252e", "/apps/x%5cy", "/apps/ü/builds", "//apps", "/", ""} {
		f.Add("GET", s, false)
		f.Add("POST", s, false)
		f.Add("GET", s, true)
	}
	m := Default()
	f.Fuzz(func(t *testing.T, method, raw string, ws bool) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		escaped, decoded := u.EscapedPath(), u.Path
		if CheckPath(escaped, decoded) != nil {
			return
		}
		if decoded != "/" {
			for _, seg := range strings.Split(decoded[1:], "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("accepted %q with segment %q", raw, seg)
				}
			}
		}
		for i := 0; i < len(decoded); i++ {
			if c := decoded[i]; c < 0x20 || c == 0x7f || c == '\\' {
				t.Fatalf("accepted %q with byte %#x", raw, c)
			}
		}
		mt, ok := m.Match(method, decoded, ws)
		if !ok {
			return
		}
		if mt.Route.Method != method || mt.Route.Websocket != ws {
			t.Fatalf("%s %q (ws %v) matched %s %s (ws %v)", method, decoded, ws, mt.Route.Method, mt.Route.Path, mt.Route.Websocket)
		}
		if strings.Contains(mt.App(), "/") {
			t.Fatalf("%q: app %q holds a slash", decoded, mt.App())
		}
	})
}
