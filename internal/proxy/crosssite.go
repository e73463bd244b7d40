package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// crossSite refuses a call made from another site's page. The convox CLI
// sends no Origin on plain calls and, on websockets, the scheme and host of
// RACK_URL, which is this gateway; a browser sends the page's origin. A
// browser that holds a credential for the gateway (a cached Basic
// password) must not let another site drive exec or change anything.
//
// The rack's own check (Origin host equals Host) cannot help: the gateway
// rewrites Origin for the rack, so it checks here, against the host the
// client addressed and the configured public URL.
func (h *Handler) crossSite(c *call) *refusal {
	r := c.r
	if origin := r.Header.Get("Origin"); origin != "" {
		if h.sameOrigin(origin, r.Host) {
			return nil
		}
		return refuse(http.StatusForbidden, authz.ReasonCrossOrigin,
			"rack-gateway: refused: the request came from another site ("+truncate(origin, 100)+")")
	}
	// Without Origin, a browser still says where a request came from; only
	// a change is refused, as http.CrossOriginProtection does.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.Method != http.MethodGet && r.Method != http.MethodHead &&
		r.Method != http.MethodOptions {
		return refuse(http.StatusForbidden, authz.ReasonCrossOrigin, "rack-gateway: refused: the request came from another site")
	}
	return nil
}

// sameOrigin reports whether origin names this gateway: the host the
// client addressed (as the rack's own check would) or the public URL's.
func (h *Handler) sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil ||
		(u.Path != "" && u.Path != "/") {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	return h.publicHost != "" && strings.EqualFold(u.Host, h.publicHost)
}
