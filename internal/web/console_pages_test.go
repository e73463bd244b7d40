package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/web/websession"
)

// Which requests under /racks/ the console serves, and which go to the
// proxy: rack API clients (Authorization, websockets, anything that is not
// a browser's navigation) always reach the proxy, which refuses them
// without credentials.
func TestConsolePageDispatch(t *testing.T) {
	const html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	cases := []struct {
		name    string
		method  string
		accept  string
		cookie  bool
		auth    bool
		upgrade bool
		console bool // the console is configured
		want    bool
	}{
		{"signed in", "GET", html, true, false, false, true, true},
		{"signed in, a form post", "POST", "", true, false, false, true, true},
		{"signed out browser navigation", "GET", html, false, false, false, true, true},
		{"signed out HEAD", "HEAD", html, false, false, false, true, true},
		{"signed out, JSON", "GET", "application/json", false, false, false, true, false},
		{"signed out, no Accept", "GET", "", false, false, false, true, false},
		{"signed out POST accepting HTML", "POST", html, false, false, false, true, false},
		{"API client with Authorization and a cookie", "GET", html, true, true, false, true, false},
		{"websocket with a cookie", "GET", html, true, false, true, true, false},
		{"no console", "GET", html, true, false, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Server{}
			if c.console {
				s.Console = http.NotFoundHandler()
			}
			r := httptest.NewRequest(c.method, "/racks/dev/apps/myapp", nil)
			if c.accept != "" {
				r.Header.Set("Accept", c.accept)
			}
			if c.cookie {
				r.AddCookie(&http.Cookie{Name: websession.CookieName, Value: "x"})
			}
			if c.auth {
				r.SetBasicAuth("convox", "token")
			}
			if c.upgrade {
				r.Header.Set("Upgrade", "websocket")
			}
			if got := s.consolePage(r); got != c.want {
				t.Errorf("consolePage = %v, want %v", got, c.want)
			}
		})
	}
}
