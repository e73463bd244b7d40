package proxy

import (
	"net/http"
	"strings"
)

// rackCSP makes anything the rack sends inert on the gateway's origin: a
// sandbox without any allow- token runs no script, submits no form and
// gives the document an opaque origin (no cookies, no same-origin
// requests), and default-src 'none' loads nothing. Framing is refused by
// X-Frame-Options. It is sent on every answer, so it says no more than
// that.
const rackCSP = "sandbox; default-src 'none'"

// rackHeadersDropped are headers of the rack's answers that would act on
// the gateway's origin: cookies (they would land on the console's domain),
// CORS grants (other sites could read the gateway's answers with the
// caller's credentials), and headers that navigate, clear or register
// things in the browser.
var rackHeadersDropped = setOf(
	"Set-Cookie", "Set-Cookie2",
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
	"Access-Control-Allow-Methods", "Access-Control-Expose-Headers", "Access-Control-Max-Age",
	"Clear-Site-Data", "Refresh", "Service-Worker-Allowed", "Link",
)

// clientHeadersDropped never reach the rack: identity that only the
// gateway asserts (X-Convox-Actor, set by the rewrite), identity headers an
// auth proxy in front of the rack might trust, and method overrides that
// would make the rack run another method than the one authorized.
var clientHeadersDropped = setOf(
	"Authorization", "Proxy-Authorization", "Cookie",
	"Convox-Actor", "X-Convox-Actor",
	"X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "Forwarded",
	"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server",
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username",
	"X-Forwarded-Access-Token", "Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name",
	"X-Remote-User", "X-Remote-Group", "X-Auth-User", "X-User", "X-Email", "X-Webauth-User",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "X-Original-Method",
	"X-Original-Url", "X-Rewrite-Url", "X-Original-Uri",
)

// clientHeaderPrefixesDropped: whole families of identity headers, and
// the gateway's own (a second-factor code is for the gateway alone).
var clientHeaderPrefixesDropped = []string{"Rack-Gateway-", "X-Auth-Request-", "X-Goog-Authenticated-", "X-Amzn-Oidc-", "X-Ms-Client-Principal"}

// stripClientHeaders removes from an outbound request what the client may
// not assert to the rack. The keys of a parsed request are canonical. It
// walks the request's few headers rather than the long list.
func stripClientHeaders(h http.Header) {
	for k := range h {
		if clientHeadersDropped[k] {
			delete(h, k)
			continue
		}
		for _, p := range clientHeaderPrefixesDropped {
			if strings.HasPrefix(k, p) {
				delete(h, k)
				break
			}
		}
	}
}

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		if k != http.CanonicalHeaderKey(k) {
			panic("proxy: header key not canonical: " + k)
		}
		m[k] = true
	}
	return m
}

// hardenResponse applies the gateway's rules for rack content to the
// headers of an answer: rack content is data, never active content on the
// gateway's origin. JSON and plain text (what the rack API answers) are
// shown as they are under the sandbox; anything else is a download. The
// rack's own authentication challenges are dropped (a Basic challenge makes
// browsers prompt for and cache credentials); keepChallenge keeps those of
// another service's answers (foreign routes: a registry's token challenge).
//
// It runs on every proxied answer, so it allocates nothing: the values are
// shared read-only slices (the reverse proxy copies values out of the
// rack's header, never into these), and headers the rack already set as
// wanted (it sends nosniff and DENY itself) are left as they are.
func hardenResponse(h http.Header, keepChallenge bool) {
	for k := range h {
		if rackHeadersDropped[k] || strings.HasPrefix(k, "Access-Control-") || k == "Www-Authenticate" && !keepChallenge {
			delete(h, k)
		}
	}
	h["Content-Security-Policy"] = rackCSPValue
	setIfNot(h, "X-Content-Type-Options", nosniffValue)
	setIfNot(h, "X-Frame-Options", denyValue)
	if !inertType(h["Content-Type"]) {
		h["Content-Disposition"] = attachmentValue
	}
}

var (
	rackCSPValue    = []string{rackCSP}
	nosniffValue    = []string{"nosniff"}
	denyValue       = []string{"DENY"}
	attachmentValue = []string{"attachment"}
)

// setIfNot sets h[k] to v unless it holds exactly that already.
func setIfNot(h http.Header, k string, v []string) {
	if cur := h[k]; len(cur) != 1 || cur[0] != v[0] {
		h[k] = v
	}
}

// inertType reports the media types a browser never runs (with nosniff):
// the rack API's JSON answers and plain-text errors. A missing or repeated
// Content-Type is not inert.
func inertType(values []string) bool {
	if len(values) != 1 {
		return false
	}
	mt, _, _ := strings.Cut(values[0], ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, "application/json") || strings.EqualFold(mt, "text/plain") ||
		len(mt) > 5 && strings.EqualFold(mt[len(mt)-5:], "+json") && !strings.ContainsAny(mt, " \t")
}
