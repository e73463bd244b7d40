package proxy

import (
	"mime"
	"net/http"
	"strings"
)

// rackCSP makes anything the rack sends inert on the gateway's origin: a
// sandbox without allow-scripts gives the document an opaque origin (no
// cookies, no same-origin requests) and runs no script, and nothing may be
// loaded, framed or submitted from it.
const rackCSP = "sandbox; default-src 'none'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"

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

// clientHeaderPrefixesDropped: whole families of identity headers.
var clientHeaderPrefixesDropped = []string{"X-Auth-Request-", "X-Goog-Authenticated-", "X-Amzn-Oidc-", "X-Ms-Client-Principal"}

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
func hardenResponse(h http.Header, keepChallenge bool) {
	for k := range h {
		if rackHeadersDropped[k] || strings.HasPrefix(k, "Access-Control-") || k == "Www-Authenticate" && !keepChallenge {
			delete(h, k)
		}
	}
	h["Content-Security-Policy"] = []string{rackCSP}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["X-Frame-Options"] = []string{"DENY"}
	h["Cross-Origin-Resource-Policy"] = []string{"same-origin"}
	if !inertType(h.Get("Content-Type")) {
		h["Content-Disposition"] = []string{"attachment"}
	}
}

// inertType reports the media types a browser never runs (with nosniff):
// the rack API's JSON answers and plain-text errors.
func inertType(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/plain" || strings.HasSuffix(mt, "+json")
}
