package login

import (
	"net/url"
	"strings"
)

// maxReturnTo bounds a return_to path.
const maxReturnTo = 512

// SafeReturnTo returns s if it is a same-origin relative path that is safe
// to redirect to after login, and "/" otherwise. It is deliberately strict:
// it must start with exactly one "/" (not "//" or "/\"), have no scheme,
// host or user info, contain only printable ASCII without backslashes,
// decode to a path that is still not protocol-relative, stay out of the
// login routes themselves, and be at most 512 bytes. It never returns an
// absolute URL, so it can never be an open redirect.
func SafeReturnTo(s string) string {
	if s == "" || len(s) > maxReturnTo || s[0] != '/' {
		return "/"
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return "/"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c >= 0x7f || c == '\\' {
			// Control characters, spaces, DEL, non-ASCII and backslashes:
			// browsers strip or reinterpret them.
			return "/"
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	// The decoded path must not be protocol-relative either, in case a later
	// hop decodes it (/%2F%2Fevil.com), nor hide control characters or
	// backslashes behind percent-encoding.
	p := u.Path
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") {
		return "/"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return "/"
		}
	}
	// Never send someone back into the login flow (loops, or a second login).
	if p == "/auth" || strings.HasPrefix(p, "/auth/") {
		return "/"
	}
	return s
}
