// Package returnto is the one rule for where the gateway's pages may send
// a browser back to after a step (sign-in, a second factor): a same-origin
// path, never an absolute URL, so never an open redirect.
package returnto

import (
	"net/url"
	"strings"
)

// Max bounds a return_to path.
const Max = 512

// Local reports whether s is a same-origin relative path that is safe to
// redirect to. It is deliberately strict: it must start with exactly one
// "/" (not "//" or "/\"), have no scheme, host or user info, contain only
// printable ASCII without backslashes, decode to a path that is still not
// protocol-relative, and be at most Max bytes. It also returns that
// decoded path, for the caller's own rules (e.g. staying out of the login
// flow).
func Local(s string) (path string, ok bool) {
	if s == "" || len(s) > Max || s[0] != '/' {
		return "", false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c >= 0x7f || c == '\\' {
			// Control characters, spaces, DEL, non-ASCII and backslashes:
			// browsers strip or reinterpret them.
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	// The decoded path must not be protocol-relative either, in case a later
	// hop decodes it (/%2F%2Fevil.com), nor hide control characters or
	// backslashes behind percent-encoding.
	p := u.Path
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") {
		return "", false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return "", false
		}
	}
	return p, true
}

// InLogin reports whether a decoded path is in the login flow (/auth/...).
func InLogin(p string) bool { return p == "/auth" || strings.HasPrefix(p, "/auth/") }
