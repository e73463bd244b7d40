package console

import (
	"net/http"
	"net/url"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/web/websession"
)

// The console's second-factor pages. Whether a second factor is needed is
// the policy's decision (authz.Policy.Decide, which the services behind
// every page apply); the gate below only sends a person who cannot use
// anything yet to the page where they can fix that, and mfa.Service
// proves factors.
const (
	enrolPath     = "/account/mfa/enrol"
	challengePath = "/mfa/challenge"
	verifyPath    = "/mfa/verify"
)

// gate is what a route lets a person through with while MFA is required.
type gate int

const (
	// gateSignedIn: every page, once the session passed its sign-in
	// second factor.
	gateSignedIn gate = iota
	// gateEnrol: the enrolment pages, open to a person with no factor yet.
	gateEnrol
	// gateChallenge: the sign-in challenge, open to a person who has a
	// factor but has not proved it in this session.
	gateChallenge
)

func (c *console) routesMFA(mux *http.ServeMux) {
	mux.HandleFunc("GET /static/webauthn.js", c.serveJS)
	mux.HandleFunc("GET "+challengePath, c.pageAt(gateChallenge, c.challenge))
	mux.HandleFunc("POST "+challengePath, c.actionAt(gateChallenge, "/", c.challengeDone))
	mux.HandleFunc("GET /mfa/passkey/options", c.pageAt(gateChallenge, c.passkeyLoginOptions))
	mux.HandleFunc("GET "+verifyPath, c.page(c.verify))
	mux.HandleFunc("POST "+verifyPath, c.action("/", c.verifyDone))
	mux.HandleFunc("GET /mfa/cli/{id}", c.page(c.cliVerify))
	mux.HandleFunc("POST /mfa/cli/{id}", c.action("/", c.cliVerifyDone))
	c.routesEnrol(mux)
	mux.HandleFunc("POST /users/mfa/unlock", c.action("/users", c.unlockUserMFA))
	mux.HandleFunc("POST /users/mfa/reset", c.action("/users", c.resetUserMFA))
}

// required reports whether people must enrol and prove a second factor.
func (c *console) required() bool { return c.o.MFA != nil && c.o.MFA.Required() }

// gated reports whether p may use nothing but the second-factor pages yet.
func (c *console) gated(p *authz.Principal) bool {
	as := p.Assurance
	return c.required() && as.Credential.Human() && (!as.Enrolled || !as.SignedIn)
}

// admit lets the request through its gate, or answers it with a redirect
// to the enrolment or the challenge (which return to returnTo). A browser
// trusted by its person passes the challenge on its own.
func (c *console) admit(q *request, returnTo string, g gate) bool {
	if !c.gated(q.p) {
		return true
	}
	back := url.Values{"return_to": {returnTo}}.Encode()
	switch {
	case !q.p.Assurance.Enrolled:
		if g == gateEnrol {
			return true
		}
		http.Redirect(q.w, q.r, enrolPath+"?"+back, http.StatusSeeOther)
		return false
	case c.trustedSignIn(q):
		return true
	case g == gateChallenge:
		return true
	}
	http.Redirect(q.w, q.r, challengePath+"?"+back, http.StatusSeeOther)
	return false
}

// trustedSignIn passes the session's sign-in factor with the browser's
// trusted-browser cookie, if it has a live one of this person's.
func (c *console) trustedSignIn(q *request) bool {
	ck, err := q.r.Cookie(mfa.TrustCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	ok, err := c.o.MFA.SignInWithTrustedBrowser(q.r.Context(), c.mfaActor(q), ck.Value)
	if err != nil {
		c.log.Error("console: trusted browser sign-in", "err", err, "request_id", q.actor.RequestID)
	}
	return ok && c.refresh(q) && !c.gated(q.p)
}

// refresh reads the session again after its second-factor proof changed
// (mfa.Service drops the authenticator's cache), or answers and returns
// false.
func (c *console) refresh(q *request) bool {
	res, err := websession.Authenticate(q.r.Context(), c.o.Authn, q.r)
	if err != nil || res.Principal == nil {
		c.renderError(q.w, q.r, nil, http.StatusServiceUnavailable, "Unavailable",
			"Your session could not be read again; sign in again.")
		return false
	}
	q.p, q.actor.Principal = res.Principal, res.Principal
	return true
}

func (c *console) mfaActor(q *request) mfa.Actor {
	return mfa.Actor{Principal: q.p, SourceIP: q.actor.SourceIP, UserAgent: q.actor.UserAgent, RequestID: q.actor.RequestID}
}
