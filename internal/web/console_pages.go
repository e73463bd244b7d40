package web

import (
	"net/http"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/web/websession"
)

// consolePage reports whether a request under /racks/ is a person's browser
// asking for a console page (the rack and app pages, actions, live logs)
// rather than a rack API call: it carries no Authorization header and no
// websocket upgrade, and either the console's session cookie or, signed
// out, a browser's navigation (GET accepting text/html). Rack API clients (the
// convox CLI, CI, the gateway's own reads) always send Authorization, and
// the proxy authenticates nothing else, so such a request is one the proxy
// would refuse anyway: nothing the rack API serves is lost, and the console
// decides and authorizes the page itself.
func (s *Server) consolePage(r *http.Request) bool {
	if s.Console == nil || r.Header.Get("Authorization") != "" {
		return false
	}
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	if _, err := r.Cookie(websession.CookieName); err == nil {
		return true
	}
	// A signed-out browser opening a console link: a page it can navigate
	// (GET, asking for HTML), which the console answers with its sign-in.
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		strings.Contains(r.Header.Get("Accept"), "text/html")
}
