package console

import (
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/mfa"
)

// challenge is the sign-in second factor (GET): a session that passed it
// goes on to return_to.
func (c *console) challenge(q *request) {
	if !c.gated(q.p) {
		http.Redirect(q.w, q.r, safeReturnTo(q.r.URL.Query().Get("return_to")), http.StatusSeeOther)
		return
	}
	c.askProof(q, http.StatusOK, nil)
}

// challengeDone follows a proved sign-in factor: trust this browser if
// asked, then go on to return_to.
func (c *console) challengeDone(q *request) {
	if !q.proved {
		c.askProof(q, http.StatusBadRequest, errNoCode)
		return
	}
	if q.r.PostForm.Get(fieldTrust) == "1" && c.o.TrustDays > 0 {
		c.trustBrowser(q)
	}
	http.Redirect(q.w, q.r, safeReturnTo(q.r.PostForm.Get("return_to")), http.StatusSeeOther)
}

// trustBrowser sets the trusted-browser cookie after a proof in this
// request.
func (c *console) trustBrowser(q *request) {
	token, exp, err := c.o.MFA.TrustBrowser(q.r.Context(), c.mfaActor(q))
	if err != nil {
		c.setFlash(q.w, flash{Error: true, Msg: "This browser could not be trusted: " + err.Error()})
		return
	}
	http.SetCookie(q.w, &http.Cookie{Name: mfa.TrustCookie, Value: token, Path: "/", MaxAge: c.o.TrustDays * 24 * 3600,
		Expires: exp, HttpOnly: true, Secure: c.o.Secure, SameSite: http.SameSiteLaxMode})
}

// verify asks for a second factor to open the step-up window, then
// returns to return_to (GET: the step-up of a page).
func (c *console) verify(q *request) { c.askProof(q, http.StatusOK, nil) }

func (c *console) verifyDone(q *request) {
	if !q.proved {
		c.askProof(q, http.StatusBadRequest, errNoCode)
		return
	}
	http.Redirect(q.w, q.r, safeReturnTo(q.r.PostForm.Get("return_to")), http.StatusSeeOther)
}

// passkeyLoginOptions starts a passkey assertion for webauthn.js.
func (c *console) passkeyLoginOptions(q *request) {
	opts, err := c.o.MFA.BeginPasskeyLogin(q.r.Context(), c.mfaActor(q))
	c.writeOptions(q, opts, err)
}

func (c *console) writeOptions(q *request, opts []byte, err error) {
	h := q.w.Header()
	h.Set("Content-Type", "application/json")
	if err != nil {
		status := statusOf(err)
		if status == http.StatusInternalServerError {
			c.log.Error("console: passkey options", "err", err, "request_id", q.actor.RequestID)
		}
		q.w.WriteHeader(status)
		_, _ = q.w.Write([]byte(`{"error":"could not start"}`))
		return
	}
	_, _ = q.w.Write(opts)
}

// cliVerify is the page a terminal's `rack-gateway` sends its person to
// when their second factor is a passkey: prove it here, and the CLI
// session's request is verified (mfa.CompleteBrowserVerification).
func (c *console) cliVerify(q *request) {
	req, err := c.o.MFA.BrowserVerification(q.r.Context(), c.mfaActor(q), q.r.PathValue("id"))
	switch {
	case err != nil:
		c.message(q, statusOf(err), "Unknown request", "This verification request is unknown or has expired. Start again from the terminal.")
	case req.Done:
		c.message(q, http.StatusOK, "Already verified", "This terminal sign-in is verified; return to your terminal.")
	default:
		c.askProof(q, http.StatusOK, nil)
	}
}

func (c *console) cliVerifyDone(q *request) {
	if !q.proved {
		c.askProof(q, http.StatusBadRequest, errNoCode)
		return
	}
	if err := c.o.MFA.CompleteBrowserVerification(q.r.Context(), c.mfaActor(q), q.r.PathValue("id")); err != nil {
		c.message(q, statusOf(err), "Not verified", "The terminal sign-in could not be verified: "+err.Error())
		return
	}
	c.message(q, http.StatusOK, "Verified", "The terminal sign-in is verified; return to your terminal, where it goes on by itself.")
}
