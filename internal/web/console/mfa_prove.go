package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
)

// The fields with which a form proves a second factor. Every field whose
// name starts with proofPrefix is the console's own, never re-posted.
const (
	proofPrefix  = "rgw_mfa"
	fieldCode    = "rgw_mfa_code"    // a TOTP code, YubiKey OTP or backup code
	fieldPasskey = "rgw_mfa_passkey" // set: "credential" is a WebAuthn assertion
	fieldCred    = "credential"      // what webauthn.js posts
	fieldTrust   = "trust"           // the challenge's "trust this browser"
)

func hasProof(f url.Values) bool { return f.Has(fieldCode) || f.Has(fieldPasskey) }

var errNoCode = &mfa.Invalid{Msg: "enter a code, or use a passkey"}

// proveInline verifies the second factor a post carries, then removes its
// fields so the action sees only its own. On failure it answers with the
// page that asked for the factor again (the original fields kept).
func (c *console) proveInline(q *request) bool {
	f, ctx, a := q.r.PostForm, q.r.Context(), c.mfaActor(q)
	var err error
	switch {
	case f.Get(fieldPasskey) != "":
		_, err = c.o.MFA.FinishPasskeyLogin(ctx, a, []byte(f.Get(fieldCred)))
	case f.Get(fieldCode) == "":
		err = errNoCode
	default:
		_, err = c.o.MFA.Verify(ctx, a, f.Get(fieldCode))
	}
	if err != nil {
		c.askProof(q, proofFailure(err), err)
		return false
	}
	passkey := f.Get(fieldPasskey) != ""
	for _, vs := range []url.Values{q.r.PostForm, q.r.Form} {
		for k := range vs {
			if isProofField(k) || (passkey && k == fieldCred) {
				delete(vs, k)
			}
		}
	}
	if !c.refresh(q) {
		return false
	}
	// The factor came with this very request (what the most dangerous
	// permissions ask for). The principal is the authenticator's shared
	// copy: change a copy of it.
	p := *q.p
	p.Assurance.MFAThisRequest = true
	q.p, q.actor.Principal, q.proved = &p, &p, true
	return true
}

func isProofField(k string) bool { return strings.HasPrefix(k, proofPrefix) }

// proofFailure is the status for a factor that did not prove (mfa.Answer).
func proofFailure(err error) int {
	status, _ := mfa.Answer(err)
	return status
}

// stepUpOf reports whether err is the policy asking for a second factor,
// and at which level ("recent", "every-request", "sign-in", or "enrol").
func stepUpOf(err error) (string, bool) {
	var ae *admin.Error
	var mf *mfa.Forbidden
	switch {
	case errors.As(err, &ae) && ae.Reason == authz.ReasonStepUpRequired:
		return ae.MFALevel, true
	case errors.As(err, &ae) && ae.Reason == authz.ReasonMFAEnrollmentRequired:
		return "enrol", true
	case errors.As(err, &mf) && mf.Decision.Reason == authz.ReasonStepUpRequired:
		return mf.Decision.StepUp.String(), true
	case errors.As(err, &mf) && mf.Decision.Reason == authz.ReasonMFAEnrollmentRequired:
		return "enrol", true
	}
	return "", false
}

// stepUp answers a request the policy refused for want of a (recent)
// second factor: a page is sent to the step-up page, which returns to it;
// a form post is answered with the step-up page itself, which posts the
// same fields back to the same action with the factor.
func (c *console) stepUp(q *request, level string, err error) {
	post := q.r.Method == http.MethodPost
	switch {
	case post && level != "enrol":
		c.askProof(q, http.StatusForbidden, err)
	case post: // (a factor removed meanwhile) back to the page the form was on
		http.Redirect(q.w, q.r, enrolPath+"?"+url.Values{"return_to": {sameOriginReferer(q.r)}}.Encode(), http.StatusSeeOther)
	default:
		to := verifyPath
		if level == "enrol" {
			to = enrolPath
		}
		http.Redirect(q.w, q.r, to+"?"+url.Values{"return_to": {q.r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
	}
}

// sameOriginReferer is the page a form was posted from, if it is this
// console's; "/" otherwise.
func sameOriginReferer(r *http.Request) string {
	if u, err := url.Parse(r.Referer()); err == nil && u.Host == r.Host && u.Path != "" {
		return safeReturnTo(u.RequestURI())
	}
	return "/"
}

// proveData is the page that asks for a second factor: the sign-in
// challenge, the step-up page, the terminal sign-in's verification.
type proveData struct {
	Heading, Intro string
	Action         string  // where both forms post
	Fields         []field // posted back as they came
	Error          string
	Locked         bool
	Passkey        bool // offer the person's passkey
	TrustDays      int  // offer "trust this browser" (the challenge)
	Trust          bool // ... checked
	SignOut        bool // the challenge: nothing else to do here
}

type field struct{ Name, Value string }

// askProof renders the page asking for a second factor for this request:
// its kind follows from the path; a POST's own fields are posted back.
func (c *console) askProof(q *request, status int, err error) {
	d := proveData{Heading: "Confirm it's you", Action: q.r.URL.RequestURI()}
	window := duration(c.o.MFA.Window())
	switch path := q.r.URL.Path; {
	case path == challengePath:
		d.Heading, d.Intro, d.SignOut = "Second factor", "Prove your second factor to finish signing in.", true
		d.TrustDays, d.Trust = c.o.TrustDays, q.r.PostForm.Get(fieldTrust) == "1"
		d.Action = challengePath
	case path == verifyPath:
		d.Intro = "Prove your second factor again. It then counts as recent for " + window + "."
		d.Action = verifyPath
	case strings.HasPrefix(path, "/mfa/cli/"):
		d.Heading = "Verify a terminal sign-in"
		d.Intro = "A terminal signed in as you asks to be verified here. Prove your second factor in this browser to let it go on."
	default:
		d.Intro = "This action needs a second factor proved within the last " + window + ". Prove it to carry it out; what you entered is kept."
		if lvl, refused := stepUpOf(err); refused {
			if lvl == authz.StepUpEveryRequest.String() {
				d.Intro = "This action needs a second factor with this very request. Prove it to carry it out; what you entered is kept."
			}
			err = nil // the refusal is why the page is shown, not a mistake of the person's
		}
	}
	if q.r.Method == http.MethodPost {
		d.Fields = repost(q.r.PostForm, d.TrustDays > 0)
	} else if rt := q.r.URL.Query().Get("return_to"); rt != "" {
		d.Fields = []field{{"return_to", safeReturnTo(rt)}}
	}
	if err != nil {
		d.Error = err.Error()
		d.Locked = errors.Is(err, mfa.ErrLocked)
	}
	st, serr := c.o.MFA.StatusOf(q.r.Context(), c.mfaActor(q))
	if serr == nil {
		d.Locked = d.Locked || st.Locked
		d.Passkey = c.o.MFA.Passkeys() && hasKind(st, "webauthn")
	}
	if d.Locked {
		d.Error = mfa.ErrLocked.Error()
	}
	c.renderPage(q, status, "mfa_prove", d.Heading, "", d, d.Passkey)
}

// repost lists a form's fields to post back, without the console's own.
func repost(f url.Values, dropTrust bool) []field {
	var out []field
	for _, k := range sortedKeys(f) {
		if isProofField(k) || k == fieldCred || (dropTrust && k == fieldTrust) {
			continue
		}
		for _, v := range f[k] {
			out = append(out, field{k, v})
		}
	}
	return out
}

func hasKind(st *mfa.Status, kind string) bool {
	for _, m := range st.Methods {
		if m.Kind == kind {
			return true
		}
	}
	return false
}
