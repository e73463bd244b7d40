package console

import (
	"net/url"
	"strings"
)

// cliFinishPath is where the browser step of a CLI login returns after the
// challenge (package login's finishPath); the one /auth/ path allowed.
const cliFinishPath = "/auth/cli/finish"

// safeReturnTo returns s if it is a same-origin path that is safe to
// redirect to, and "/" otherwise; the rules of package login's
// SafeReturnTo: one leading "/" (not "//" or "/\"), no scheme, host or
// user info, printable ASCII without backslashes, a decoded path that is
// not protocol-relative either, at most 512 bytes, and nothing in the
// login flow except the CLI login's finish. It never returns an absolute
// URL, so it is never an open redirect.
func safeReturnTo(s string) string {
	if s == "" || len(s) > 512 || s[0] != '/' || (len(s) > 1 && (s[1] == '/' || s[1] == '\\')) {
		return "/"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	p := u.Path
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") {
		return "/"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return "/"
		}
	}
	if (p == "/auth" || strings.HasPrefix(p, "/auth/")) && p != cliFinishPath {
		return "/"
	}
	return s
}
