package console

import (
	"net/http"
	"strconv"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// The enrolment pages and one's own factors (the account page's "Second
// factors" section). mfa.Service decides: a first factor needs only the
// session; anything more needs a recent second factor, which the step-up
// path (fail → stepUp) asks for.
func (c *console) routesEnrol(mux *http.ServeMux) {
	mux.HandleFunc("GET "+enrolPath, c.pageAt(gateEnrol, c.enrol))
	mux.HandleFunc("GET "+enrolPath+"/totp", c.pageAt(gateEnrol, c.enrolTOTP))
	mux.HandleFunc("GET /account/mfa/totp/{id}/qr.png", c.pageAt(gateEnrol, c.totpQR))
	mux.HandleFunc("POST /account/mfa/totp", c.actionAt(gateEnrol, enrolPath, c.confirmTOTP))
	mux.HandleFunc("POST /account/mfa/yubikey", c.actionAt(gateEnrol, enrolPath, c.enrolYubiKey))
	mux.HandleFunc("GET /account/mfa/passkey/options", c.pageAt(gateEnrol, c.passkeyRegisterOptions))
	mux.HandleFunc("POST /account/mfa/passkey", c.actionAt(gateEnrol, enrolPath, c.enrolPasskey))
	mux.HandleFunc("POST /account/mfa/backup-codes", c.action("/account", c.regenerateCodes))
	mux.HandleFunc("POST /account/mfa/methods/{id}/remove", c.action("/account", c.removeMethod))
	mux.HandleFunc("POST /account/mfa/trusted/{id}/forget", c.action("/account", c.forgetBrowser))
}

type enrolData struct {
	First    bool // the person has no factor yet
	Required bool
	ReturnTo string
	TOTP     bool
	Passkey  bool
	YubiKey  bool
	Error    string
}

func (c *console) enrolData(q *request, returnTo string) enrolData {
	d := enrolData{First: !q.p.Assurance.Enrolled, Required: c.required(), ReturnTo: safeReturnTo(returnTo)}
	for _, m := range c.o.MFA.Methods() {
		switch m {
		case store.MFATOTP:
			d.TOTP = true
		case store.MFAWebAuthn:
			d.Passkey = true
		case store.MFAYubiKey:
			d.YubiKey = true
		}
	}
	return d
}

// enrol lets the person choose a kind of second factor. Adding one more
// needs a recent second factor: asked for here, before any ceremony.
func (c *console) enrol(q *request) {
	if q.p.Assurance.Enrolled && !c.gate(q, authz.MFASelf) {
		return
	}
	d := c.enrolData(q, q.r.URL.Query().Get("return_to"))
	c.renderPage(q, http.StatusOK, "mfa_enrol", "Add a second factor", "/account", d, d.Passkey)
}

type totpData struct {
	ID, Secret, ReturnTo, Name, Error string
	First                             bool
}

// enrolTOTP starts an authenticator-app enrolment: the QR code and the
// secret, and a form for the first code.
func (c *console) enrolTOTP(q *request) {
	pend, err := c.o.MFA.BeginTOTP(q.r.Context(), c.mfaActor(q))
	if err != nil {
		c.fail(q, err)
		return
	}
	c.renderPage(q, http.StatusOK, "mfa_totp", "Authenticator app", "/account",
		totpData{ID: pend.ID, Secret: pend.Secret, ReturnTo: safeReturnTo(q.r.URL.Query().Get("return_to")),
			First: !q.p.Assurance.Enrolled}, false)
}

// totpQR draws the pending enrolment's QR code (never cached).
func (c *console) totpQR(q *request) {
	key, err := c.o.MFA.PendingTOTPKey(q.r.Context(), c.mfaActor(q), q.r.PathValue("id"))
	if err != nil {
		http.Error(q.w, "no such enrolment", http.StatusNotFound)
		return
	}
	png, err := key.PNG(256)
	if err != nil {
		c.log.Error("console: QR code", "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
		return
	}
	q.w.Header().Set("Content-Type", "image/png")
	_, _ = q.w.Write(png)
}

func (c *console) confirmTOTP(q *request) {
	f := q.r.PostForm
	en, err := c.o.MFA.ConfirmTOTP(q.r.Context(), c.mfaActor(q), f.Get("id"), f.Get("code"), f.Get("name"))
	if err == nil || !isInputError(err) {
		c.enrolled(q, en, err)
		return
	}
	// A wrong code leaves the enrolment pending: the same page again.
	key, kerr := c.o.MFA.PendingTOTPKey(q.r.Context(), c.mfaActor(q), f.Get("id"))
	if kerr != nil {
		c.enrolAgain(q, proofFailure(err), err)
		return
	}
	c.renderPage(q, proofFailure(err), "mfa_totp", "Authenticator app", "/account",
		totpData{ID: f.Get("id"), Secret: key.Secret, ReturnTo: safeReturnTo(f.Get("return_to")), Name: f.Get("name"),
			Error: err.Error(), First: !q.p.Assurance.Enrolled}, false)
}

func (c *console) enrolYubiKey(q *request) {
	en, err := c.o.MFA.EnrolYubiKey(q.r.Context(), c.mfaActor(q), q.r.PostForm.Get("otp"), q.r.PostForm.Get("name"))
	c.enrolled(q, en, err)
}

func (c *console) passkeyRegisterOptions(q *request) {
	opts, err := c.o.MFA.BeginPasskeyRegistration(q.r.Context(), c.mfaActor(q))
	c.writeOptions(q, opts, err)
}

func (c *console) enrolPasskey(q *request) {
	en, err := c.o.MFA.FinishPasskeyRegistration(q.r.Context(), c.mfaActor(q), q.r.PostForm.Get("name"),
		[]byte(q.r.PostForm.Get(fieldCred)))
	c.enrolled(q, en, err)
}

// isInputError reports an error the person can fix on the same page.
func isInputError(err error) bool {
	s := proofFailure(err)
	return s == http.StatusUnauthorized || s == http.StatusBadRequest
}

// enrolled ends an enrolment: the first one shows the backup codes, once,
// in this very answer; a further one returns to the account page.
func (c *console) enrolled(q *request, en *mfa.Enrolled, err error) {
	switch {
	case err != nil && isInputError(err):
		c.enrolAgain(q, proofFailure(err), err)
	case err != nil:
		c.fail(q, err)
	case len(en.BackupCodes) > 0:
		if c.refresh(q) { // signed in by the enrolment: the full top bar
			c.showCodes(q, en.BackupCodes, safeReturnTo(q.r.PostForm.Get("return_to")), true)
		}
	default:
		c.setFlash(q.w, flash{Msg: "Added " + mfa.KindLabel(en.Method.Kind) + " “" + en.Method.Name + "”."})
		http.Redirect(q.w, q.r, "/account", http.StatusSeeOther)
	}
}

// enrolAgain shows the enrolment choice with an error.
func (c *console) enrolAgain(q *request, status int, err error) {
	d := c.enrolData(q, q.r.PostForm.Get("return_to"))
	d.Error = err.Error()
	c.renderPage(q, status, "mfa_enrol", "Add a second factor", "/account", d, d.Passkey)
}

type codesData struct {
	Codes    []string
	Next     string
	First    bool
	Required bool
}

func (c *console) showCodes(q *request, codes []string, next string, first bool) {
	c.renderPage(q, http.StatusOK, "mfa_backup_codes", "Backup codes", "/account",
		codesData{Codes: codes, Next: next, First: first, Required: c.required()}, false)
}

func (c *console) regenerateCodes(q *request) {
	codes, err := c.o.MFA.RegenerateBackupCodes(q.r.Context(), c.mfaActor(q))
	if err != nil {
		c.done(q, "/account", "", err)
		return
	}
	c.showCodes(q, codes, "/account", false)
}

func (c *console) removeMethod(q *request) {
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err == nil {
		err = c.o.MFA.Remove(q.r.Context(), c.mfaActor(q), id)
	} else {
		err = &mfa.Invalid{Msg: "no such method of yours"}
	}
	c.done(q, "/account", "Removed the second factor.", err)
}

func (c *console) forgetBrowser(q *request) {
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err == nil {
		err = c.o.MFA.ForgetBrowser(q.r.Context(), c.mfaActor(q), id)
	} else {
		err = &mfa.Invalid{Msg: "no such trusted browser of yours"}
	}
	c.done(q, "/account", "Forgot the browser; it asks for a second factor at its next sign-in.", err)
}
