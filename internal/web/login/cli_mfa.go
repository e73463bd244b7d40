package login

import (
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"

	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/web/websession"
)

// The console's pages a browser is sent to for its second factor.
const (
	challengePath = "/mfa/challenge"
	enrolPath     = "/account/mfa/enrol"
)

// finishPath is where a CLI login's browser step ends, once the browser
// has proved a second factor. It names the login request by its hash
// (never the request id itself, which the CLI keeps to claim with).
func finishPath(idHash []byte) string {
	return "/auth/cli/finish?request=" + hex.EncodeToString(idHash)
}

// finishCLI completes a CLI login whose browser step needs a second
// factor: the browser that signed in (its binding cookie) comes back with
// a web session that has passed its sign-in factor, and the login request
// is completed for that person with that proof, which the CLI session the
// claim creates starts with. Without the factor yet, the browser is sent
// to the console's challenge (or enrolment), which returns here.
func (h *Handler) finishCLI(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	idHash, err := hex.DecodeString(r.URL.Query().Get("request"))
	if err != nil || len(idHash) != 32 {
		h.failPage(w, http.StatusBadRequest, "Sign-in link incomplete", "This sign-in link is not valid. "+messageStartAgain)
		return
	}
	lr, err := h.o.Store.GetLoginRequest(ctx, idHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.failPage(w, http.StatusBadRequest, "Unknown sign-in", "This sign-in is unknown. "+messageStartAgain)
		return
	case err != nil:
		h.log.Error("login: load login request to finish", "err", err)
		h.failPage(w, http.StatusServiceUnavailable, "Try again shortly", "Sign-in is unavailable right now.")
		return
	}
	if lr.CLIChallenge == "" || !lr.CompletedAt.IsZero() || !lr.ConsumedAt.IsZero() || !h.now().Before(lr.ExpiresAt) {
		h.failPage(w, http.StatusBadRequest, "Sign-in already used or expired", "This sign-in was already used or has expired. "+messageStartAgain)
		return
	}
	if !h.boundToBrowser(r, lr) {
		h.failPage(w, http.StatusForbidden, "Wrong browser", "Finish the sign-in in the browser that started it. "+messageStartAgain)
		return
	}
	res, err := websession.Authenticate(ctx, h.o.Authn, r)
	if err != nil {
		h.failPage(w, http.StatusServiceUnavailable, "Try again shortly", "Sign-in is unavailable right now.")
		return
	}
	p := res.Principal
	if p == nil {
		h.failPage(w, http.StatusUnauthorized, "Signed out", "The browser's session ended before the second factor. "+messageStartAgain)
		return
	}
	back := url.Values{"return_to": {r.URL.RequestURI()}}.Encode()
	switch as := p.Assurance; {
	case !as.Enrolled:
		redirect(w, enrolPath+"?"+back, http.StatusSeeOther)
		return
	case !as.SignedIn:
		redirect(w, challengePath+"?"+back, http.StatusSeeOther)
		return
	}
	u, err := h.o.Store.GetUser(ctx, p.UserID)
	if err != nil {
		h.failPage(w, http.StatusServiceUnavailable, "Try again shortly", "Sign-in is unavailable right now.")
		return
	}
	mfa := store.SecondFactor{Method: p.Assurance.MFAMethod, At: p.Assurance.MFAAt}
	if mfa.At.IsZero() { // signed in by a trusted browser: passes sign-in, not step-up
		mfa = store.SecondFactor{Method: authn.TrustedDevice, At: h.now()}
	}
	ev := h.event(r, "login")
	setActor(ev, u)
	d := map[string]any{"kind": authn.KindCLI, "provider": h.providerHost, "second_factor": mfa.Method}
	h.completeCLIFor(w, r, ev, d, lr, u, mfa)
}
