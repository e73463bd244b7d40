package login

import "github.com/rack-gateway/rack-gateway/internal/web/returnto"

// SafeReturnTo returns s if it is a same-origin relative path that is safe
// to redirect to after login (returnto.Local) and outside the login routes
// themselves (no loops, no second login), and "/" otherwise. It never
// returns an absolute URL, so it can never be an open redirect.
func SafeReturnTo(s string) string {
	if p, ok := returnto.Local(s); ok && !returnto.InLogin(p) {
		return s
	}
	return "/"
}
