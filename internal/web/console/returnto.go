package console

import "github.com/rack-gateway/rack-gateway/internal/web/returnto"

// cliFinishPath is where the browser step of a CLI login returns after the
// challenge (package login's finishPath); the one /auth/ path allowed.
const cliFinishPath = "/auth/cli/finish"

// safeReturnTo returns s if it is a same-origin path that is safe to
// redirect to (returnto.Local) and not in the login flow, except the CLI
// login's finish; "/" otherwise.
func safeReturnTo(s string) string {
	if p, ok := returnto.Local(s); ok && (!returnto.InLogin(p) || p == cliFinishPath) {
		return s
	}
	return "/"
}
