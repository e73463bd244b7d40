package proxy

import (
	"context"
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// MFAVerifier proves a second factor typed by a person (mfa.Service).
type MFAVerifier interface {
	Verify(ctx context.Context, a mfa.Actor, code string) (string, error)
}

// stepUp deals with second factors. A code sent with the call
// (apitypes.HeaderMFACode, what the rack-gateway client adds when it
// retries) is verified first — which also starts the session's step-up
// window — and from then on the call's principal carries a proof on this
// very request, for this decision and for those the later stages make
// (the env guard's). A decision that still needs a second factor is
// refused with the level needed, so that a client knows what to ask the
// person for.
func (h *Handler) stepUp(c *call) *refusal {
	d := c.decision
	if d.Reason == authz.ReasonMFAEnrollmentRequired {
		f := refuse(http.StatusForbidden, d.Reason, denyMessage(d, c.route))
		f.mfaLevel = apitypes.MFALevelEnrol
		return f
	}
	if code := c.r.Header.Get(apitypes.HeaderMFACode); code != "" && h.mfa != nil && c.principal != nil &&
		c.principal.Assurance.Credential.Human() {
		method, err := h.mfa.Verify(c.r.Context(), mfa.Actor{Principal: c.principal, SourceIP: c.ev.SourceIP,
			UserAgent: c.ev.UserAgent, RequestID: c.ev.RequestID}, code)
		if err != nil {
			return h.mfaFailure(err, d)
		}
		p := *c.principal
		p.Assurance = p.Assurance.WithProof(method, c.start)
		c.principal = &p
		c.addDetails(map[string]any{"mfa": method})
		if d.Reason == authz.ReasonStepUpRequired {
			d = h.policy.Decide(authz.Request{Principal: &p, Permission: c.route.Permission, Rack: c.rack, App: c.match.App(), Now: c.start})
			c.decision = d
			switch {
			case d.Allow:
				c.ev.Decision, c.ev.Reason = "allow", string(authz.ReasonAllowed)
			case d.Reason != authz.ReasonApprovalRequired:
				return refuse(http.StatusForbidden, d.Reason, denyMessage(d, c.route))
			}
		}
	}
	if d.Reason == authz.ReasonStepUpRequired {
		return stepUpRefusal(d, c.route)
	}
	return nil
}

// stepUpRefusal is the answer to a decision that needs a second factor,
// from any stage: it names the level (apitypes.HeaderMFARequired).
func stepUpRefusal(d authz.Decision, rt *routes.Route) *refusal {
	f := refuse(http.StatusForbidden, authz.ReasonStepUpRequired, denyMessage(d, rt))
	f.details = map[string]any{"step_up": d.StepUp.String()}
	f.mfaLevel = d.StepUp.String()
	return f
}

// mfaFailure is the refusal of a code that did not prove a factor, as
// mfa.Answer says; one that merely failed names the level still needed,
// so the client asks the person again.
func (h *Handler) mfaFailure(err error, d authz.Decision) *refusal {
	status, reason := mfa.Answer(err)
	msg := "rack-gateway: " + err.Error()
	if status == http.StatusInternalServerError {
		h.log.Error("proxy: second-factor check", "err", err)
		msg = "rack-gateway: the second-factor check failed; the error was logged"
	}
	f := refuse(status, reason, msg)
	if reason == authz.ReasonMFAFailed && d.StepUp != authz.StepUpNone {
		f.mfaLevel = d.StepUp.String()
	}
	return f
}
