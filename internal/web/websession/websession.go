// Package websession carries a person's web login session in a cookie: the
// one place that names the cookie and sets its attributes, shared by the
// login flow (which sets it) and the console (which reads it).
package websession

import (
	"context"
	"net/http"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// CookieName is the session cookie. It holds a session token (rgws_…);
// only its SHA-256 is stored.
const CookieName = "rgw_session"

// Set stores a web session token in the browser: HttpOnly, SameSite=Lax,
// Secure unless the gateway is served over plain http on loopback (dev).
func Set(w http.ResponseWriter, token string, secure bool, lifetime time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(lifetime.Seconds())})
}

// Clear removes the session cookie.
func Clear(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// Authenticate resolves the request's session cookie. Only web sessions
// are accepted from a cookie (a CLI session token pasted into a cookie is
// refused); no cookie is ReasonUnauthenticated.
func Authenticate(ctx context.Context, a *authn.Authenticator, r *http.Request) (authn.Result, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return authn.Result{Reason: authz.ReasonUnauthenticated}, nil
	}
	res, err := a.AuthenticateToken(ctx, c.Value)
	if err != nil || res.Principal == nil {
		return res, err
	}
	if res.Principal.SessionKind != authn.KindWeb {
		return authn.Result{Reason: authz.ReasonInvalidCredential}, nil
	}
	return res, nil
}
