package web

import (
	"net/http"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/web/websession"
)

// consolePage reports whether a request under /racks/ is a person's browser
// asking for a console page (the rack and app pages, actions, live logs)
// rather than a rack API call: it carries the console's session cookie, no
// Authorization header and no websocket upgrade. Rack API clients (the
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
	_, err := r.Cookie(websession.CookieName)
	return err == nil
}
