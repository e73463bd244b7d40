package login

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/web/websession"
)

// signinMessages maps ?error= codes to what the sign-in page says. Unknown
// codes get a generic message; the code itself is never echoed.
var signinMessages = map[string]string{
	"expired":         "Your session has expired. Sign in again.",
	"session_expired": "Your session has expired. Sign in again.",
	"revoked":         "Your session was ended. Sign in again.",
	"session_revoked": "Your session was ended. Sign in again.",
	"unknown_user":    "Your account is not known to this gateway. Ask an administrator to add you.",
	"disabled":        "Your account is disabled. Ask an administrator.",
	"user_disabled":   "Your account is disabled. Ask an administrator.",
	"domain":          "Accounts from that domain may not sign in here.",
	"unverified":      "Your identity provider has not verified your email address.",
	"unauthenticated": "Sign in to continue.",
	"logged_out":      "You have signed out.",
	"login_failed":    "Sign-in did not complete. Try again.",
}

// signin shows the sign-in page, or who is signed in.
func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	returnTo := SafeReturnTo(q.Get("return_to"))
	p := page{Title: "Sign in", Tone: "info"}
	if code := q.Get("error"); code != "" {
		msg, ok := signinMessages[code]
		if !ok {
			msg = "Sign-in is needed to continue."
		}
		p.Message = msg
		if code != "logged_out" && code != "unauthenticated" {
			p.Tone = "error"
		}
	}
	if res, err := websession.Authenticate(r.Context(), h.o.Authn, r); err == nil && res.Principal != nil {
		p.Title, p.SignedInAs, p.ContinueURL = "Signed in", res.Principal.Email, returnTo
		h.render(w, http.StatusOK, p)
		return
	}
	p.LoginURL = "/auth/login?" + url.Values{"return_to": {returnTo}}.Encode()
	p.LoginLabel = "Sign in with " + h.providerName
	h.render(w, http.StatusOK, p)
}

// startWeb starts a browser login for the web console.
func (h *Handler) startWeb(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := randomString()
	lr := &store.LoginRequest{IDHash: sha(state), ReturnTo: SafeReturnTo(q.Get("return_to"))}
	if !h.createLogin(w, r, lr) {
		return
	}
	redirect(w, h.authURL(state, lr, cleanHint(q.Get("login_hint"))), http.StatusFound)
}

// cliParams reads and checks the CLI's parameters (query or form).
func cliParams(r *http.Request) (req, challenge, name string, ok bool) {
	req, challenge, name = r.FormValue("request"), r.FormValue("challenge"), r.FormValue("name")
	ok = isB64URL(req, 43, 128) && isB64URL(challenge, 43, 43) && validCLIName(name)
	return req, challenge, name, ok
}

// VerificationCode is the short code shown on the CLI login confirmation
// page, derived from the CLI's PKCE challenge. The CLI should print the
// same code so that the person can see that the browser page belongs to
// the login they started (a link sent by someone else shows another code).
func VerificationCode(challenge string) string {
	sum := sha256.Sum256([]byte("rack-gateway cli login\x00" + challenge))
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:5])
	return s[:4] + "-" + s[4:8]
}

// confirmCLI starts a CLI login: it stores the login request (so the CLI's
// claim answers "pending" from now on), binds it to this browser and shows
// a confirmation page. Only the page's POST goes on to the IdP: a link that
// someone else made, with their own challenge, would otherwise sign the
// victim in for the sender with one click (or none, with a remembered IdP
// session).
func (h *Handler) confirmCLI(w http.ResponseWriter, r *http.Request) {
	req, challenge, name, ok := cliParams(r)
	if !ok {
		h.failPage(w, http.StatusBadRequest, "Invalid login link",
			"This command-line login link is malformed. Run the login command again.")
		return
	}
	lr := &store.LoginRequest{IDHash: sha(req), CLIChallenge: challenge, CLIName: name}
	err := h.storeLogin(w, r, lr)
	if errors.Is(err, store.ErrConflict) {
		// A reload of the page in the same browser shows it again.
		old, gerr := h.o.Store.GetLoginRequest(r.Context(), lr.IDHash)
		if gerr != nil || old.CLIChallenge != challenge || old.CLIName != name || h.pendingCLIProblem(r, old) != nil {
			h.failPage(w, http.StatusConflict, "Login already started",
				"This login link was already used. Run the login command again.")
			return
		}
		err = nil
	}
	if err != nil {
		h.log.Error("login: store login request", "err", err)
		h.failPage(w, http.StatusServiceUnavailable, "Try again shortly", "Sign-in is unavailable right now.")
		return
	}
	h.render(w, http.StatusOK, page{Title: "Command-line login", CLI: &cliConfirm{
		Request: req, Challenge: challenge, Name: name, LoginHint: cleanHint(r.FormValue("login_hint")),
		Code: VerificationCode(challenge), ProviderName: h.providerName,
	}})
}

// startCLI continues a confirmed CLI login to the IdP; the CLI's random
// request id is the OIDC state.
func (h *Handler) startCLI(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	req, _, _, ok := cliParams(r)
	if !ok {
		h.failPage(w, http.StatusBadRequest, "Invalid login link",
			"This command-line login link is malformed. Run the login command again.")
		return
	}
	lr, err := h.o.Store.GetLoginRequest(r.Context(), sha(req))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.Error("login: load login request", "err", err)
		h.failPage(w, http.StatusServiceUnavailable, "Try again shortly", "Sign-in is unavailable right now.")
		return
	}
	f := refuse(http.StatusBadRequest, ReasonUnknownState, "Sign-in expired",
		"This login is unknown or has expired. Run the login command again.")
	if err == nil && lr.CLIChallenge != "" {
		f = h.pendingCLIProblem(r, lr)
	}
	if f != nil {
		ev := h.event(r, "login")
		ev.Decision, ev.Reason, ev.Status = "deny", f.reason, f.status
		ev.Details = audit.Details(map[string]any{"kind": "cli", "provider": h.providerHost})
		h.o.Audit.Record(ev)
		h.failPage(w, f.status, f.title, f.msg)
		return
	}
	redirect(w, h.authURL(req, lr, cleanHint(r.FormValue("login_hint"))), http.StatusSeeOther)
}

// pendingCLIProblem checks that a CLI login request may still go to the
// IdP from this browser.
func (h *Handler) pendingCLIProblem(r *http.Request, lr *store.LoginRequest) *refusal {
	switch {
	case !h.now().Before(lr.ExpiresAt):
		return refuse(http.StatusBadRequest, ReasonLoginExpired, "Sign-in expired",
			"This login took too long and has expired. Run the login command again.")
	case !h.boundToBrowser(r, lr):
		return refuse(http.StatusBadRequest, ReasonBrowserMismatch, "Start the login again in this browser",
			"This login was not started in this browser. Run the login command again.")
	case !lr.CompletedAt.IsZero() || !lr.ConsumedAt.IsZero():
		return refuse(http.StatusBadRequest, ReasonStateReplayed, "Sign-in already used",
			"This login was already used. Run the login command again.")
	}
	return nil
}

// boundToBrowser checks the rgw_login cookie against the request.
func (h *Handler) boundToBrowser(r *http.Request, lr *store.LoginRequest) bool {
	c, err := r.Cookie(loginCookie)
	return err == nil && constantEq(sha(c.Value), lr.BrowserHash)
}

// createLogin stores a login request or renders the failure.
func (h *Handler) createLogin(w http.ResponseWriter, r *http.Request, lr *store.LoginRequest) bool {
	if l := h.o.Starts; l != nil {
		ip := h.sourceIP(r)
		if wait, blocked := l.Blocked(ip); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(max(int((wait+time.Second-1)/time.Second), 1)))
			h.failPage(w, http.StatusTooManyRequests, "Too many sign-ins",
				"Too many sign-ins were started from your address. Wait a minute and try again.")
			return false
		}
		l.Failed(ip) // each start spends one
	}
	if err := h.storeLogin(w, r, lr); err != nil {
		h.log.Error("login: store login request", "err", err)
		h.failPage(w, http.StatusServiceUnavailable, "Try again shortly", "Sign-in is unavailable right now.")
		return false
	}
	return true
}

// storeLogin fills in the browser binding, nonce and the gateway's PKCE
// verifier, stores the login request and sets the binding cookie.
func (h *Handler) storeLogin(w http.ResponseWriter, r *http.Request, lr *store.LoginRequest) error {
	// One binding value per browser, reused while it lives, so two logins
	// in two tabs do not break each other; only a value this gateway
	// minted is reused, never one the client chose.
	bind := ""
	if c, err := r.Cookie(loginCookie); err == nil && h.validBinding(c.Value) {
		bind = c.Value
	} else {
		bind = h.mintBinding()
	}
	lr.BrowserHash = sha(bind)
	lr.Nonce = randomString()
	lr.Verifier = oauth2.GenerateVerifier()
	lr.ExpiresAt = h.now().Add(loginTTL)
	if err := h.o.Store.CreateLoginRequest(r.Context(), lr); err != nil {
		return err
	}
	h.setLoginCookie(w, bind)
	return nil
}

// authURL is the IdP authorization URL for a stored login request.
func (h *Handler) authURL(state string, lr *store.LoginRequest, hint string) string {
	opts := []oauth2.AuthCodeOption{oidc.Nonce(lr.Nonce), oauth2.S256ChallengeOption(lr.Verifier)}
	if h.hdRules && len(h.allowed) > 0 {
		// A hint for Google's account chooser; the hd claim is checked, never this.
		opts = append(opts, oauth2.SetAuthURLParam("hd", h.allowed[0]))
	}
	if hint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	return h.oauth.AuthCodeURL(state, opts...)
}

// logout ends the browser's web session.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	res, err := websession.Authenticate(r.Context(), h.o.Authn, r)
	if err == nil && res.Principal != nil {
		p := res.Principal
		ev := h.event(r, "logout")
		ev.ActorType, ev.Actor, ev.ActorID, ev.Role = "user", p.Email, p.UserID, p.Role
		if err := h.o.Authn.RevokeSession(r.Context(), p.SessionID); err != nil {
			h.log.Error("login: revoke session at logout", "err", err)
			h.failPage(w, http.StatusServiceUnavailable, "Try again shortly", "Could not sign you out right now.")
			return
		}
		ev.Status = http.StatusSeeOther
		ev.Details = audit.Details(map[string]any{"kind": "web"})
		h.o.Audit.Record(ev)
	}
	websession.Clear(w, h.secure)
	redirect(w, "/auth/signin?error=logged_out", http.StatusSeeOther)
}

// crossOriginDenied refuses a cross-site POST (and audits it).
func (h *Handler) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	action := "logout"
	if strings.HasPrefix(r.URL.Path, "/auth/cli") {
		action = "login"
	}
	ev := h.event(r, action)
	ev.Decision, ev.Reason, ev.Status = "deny", ReasonCrossOrigin, http.StatusForbidden
	h.o.Audit.Record(ev)
	h.failPage(w, http.StatusForbidden, "Request refused",
		"This form was submitted from another site and was refused.")
}

// constantEq compares two secrets in constant time.
func constantEq(a, b []byte) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare(a, b) == 1
}
