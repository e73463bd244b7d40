package proxy

import (
	"fmt"
	"net/http"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// refusal is a stage's answer that ends a call before it reaches the rack:
// what the client is told and what the audit records.
type refusal struct {
	status  int
	reason  authz.Reason
	msg     string         // one line the convox CLI prints
	details map[string]any // audit facts of the refusal (e.g. a guard's findings)
	// quiet refusals are answered with a bare 404 and neither audited nor
	// counted: the CLI's probes, which it sends before every websocket.
	quiet bool
	// limited refusals (429) are counted per address and audited as one
	// event per address and period (ratelimit.go), not one each.
	limited bool
	// unrecorded refusals found no room in the audit queue: counted
	// (audit.Auditor.Unrecorded), not queued.
	unrecorded bool
	// mfaLevel names the second factor a step-up refusal needs.
	mfaLevel string
}

func refuse(status int, reason authz.Reason, msg string) *refusal {
	return &refusal{status: status, reason: reason, msg: msg}
}

// refuse answers a refused call, audits the refusal and counts it.
func (h *Handler) refuse(c *call, f *refusal) {
	if f.quiet {
		c.slot.Release()
		http.Error(c.w, "not found", f.status)
		return
	}
	writeErrorMFA(c.w, f.status, f.reason, c.ev.RequestID, f.msg, f.mfaLevel)
	if f.limited {
		h.failures.Refused(c.ev.SourceIP)
		h.metrics.observe("unknown", "unmatched", "deny", f.status, time.Since(c.start))
		return
	}
	if !c.authChecked {
		h.attribute(c)
	}
	if c.ev.ActorType == "anonymous" && f.status != http.StatusServiceUnavailable {
		h.failures.Failed(c.ev.SourceIP) // a failure without a good credential
	}
	c.ev.Decision, c.ev.Reason, c.ev.Status = "deny", string(f.reason), f.status
	c.ev.Details = audit.Details(f.details)
	c.ev.DurationUS = time.Since(c.start).Microseconds()
	ev := c.ev
	if f.unrecorded {
		h.audit.Unrecorded()
	} else {
		c.slot.Record(&ev)
	}
	route, rack := c.ev.Route, c.ev.Rack
	if route == "" {
		route = "unmatched"
	}
	if _, ok := h.racks[rack]; !ok {
		rack = "unknown" // a name from the URL must not mint metric series
	}
	h.metrics.observe(rack, route, "deny", f.status, time.Since(c.start))
}

// attribute names the caller of a call refused before authentication (an
// unknown rack, a bad path, no such route) when it carried a credential
// that is good: an insider's probing is recorded under their name. It
// changes nothing but the audit record.
func (h *Handler) attribute(c *call) {
	cred := c.r.Header.Get("Authorization")
	if cred == "" || h.authn == nil {
		return
	}
	res, err := h.authn.Authenticate(c.r.Context(), cred)
	if err != nil {
		return
	}
	p := res.Principal
	if p == nil {
		p = res.Holder
	}
	if p != nil {
		setActor(&c.ev, p)
		c.ev.Role = p.Role
	}
}

func unauthMessage(r authz.Reason) string {
	switch r {
	case authz.ReasonTokenExpired:
		return "rack-gateway: your API token has expired; create a new one"
	case authz.ReasonTokenRevoked:
		return "rack-gateway: your API token was revoked; create a new one"
	case authz.ReasonUserDisabled:
		return "rack-gateway: your account is disabled; ask a gateway admin"
	case authz.ReasonSessionExpired:
		return "rack-gateway: your session has expired; run: rack-gateway login"
	case authz.ReasonSessionRevoked:
		return "rack-gateway: your session was ended (logout, or an admin changed your access); run: rack-gateway login"
	case authz.ReasonUnauthenticated:
		return "rack-gateway: authentication required: put an API token in RACK_URL (https://convox:<token>@host/rack)"
	}
	return "rack-gateway: invalid credentials: check the token in RACK_URL"
}

func denyMessage(d authz.Decision, rt *routes.Route) string {
	switch d.Reason {
	case authz.ReasonTokenScope:
		return fmt.Sprintf("rack-gateway: permission denied: this API token's scope lacks %s (needed for %s)", d.Permission, rt.Name)
	case authz.ReasonUserDisabled:
		return "rack-gateway: your account is disabled; ask a gateway admin"
	case authz.ReasonStepUpRequired:
		return stepUpMessage(d.StepUp, rt.Name)
	case authz.ReasonMFAEnrollmentRequired:
		return "rack-gateway: you have no second factor yet and this gateway requires one: enrol it on your account page in the gateway's console, then try again"
	case authz.ReasonApprovalRequired:
		return fmt.Sprintf("rack-gateway: %s needs a person's approval before this token may deploy", rt.Name)
	}
	return fmt.Sprintf("rack-gateway: permission denied: role %q lacks %s (needed for %s); ask a gateway admin", d.Role, d.Permission, rt.Name)
}

// stepUpMessage is the one line the real convox CLI prints for a step-up
// refusal: it names the rack-gateway command that gets the person through.
func stepUpMessage(level authz.StepUp, action string) string {
	switch level {
	case authz.StepUpEveryRequest:
		return fmt.Sprintf("rack-gateway: %s needs a second factor on this very request: run the same command as "+
			"`rack-gateway convox <arguments>`, which asks for your code", action)
	case authz.StepUpSignIn:
		return "rack-gateway: this session has not passed its second factor: run `rack-gateway mfa verify`, then try again"
	}
	return fmt.Sprintf("rack-gateway: %s needs a recent second factor: run `rack-gateway mfa verify` (or the same command as "+
		"`rack-gateway convox <arguments>`, which asks), then try again", action)
}
