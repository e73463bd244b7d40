package proxy

import (
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// authorize asks the policy whether the principal may use the route's
// permission on this rack and app. Refusals by role or scope end the call
// here; a decision that asks for a second factor or an approval is left to
// the stages named for them.
func (h *Handler) authorize(c *call) *refusal {
	if c.route.Public {
		c.decision = authz.Decision{Allow: true, Reason: authz.ReasonPublic}
		c.ev.Decision, c.ev.Reason = "allow", string(authz.ReasonPublic)
		return nil
	}
	d := h.policy.Decide(authz.Request{Principal: c.principal, Permission: c.route.Permission,
		Rack: c.rack, App: c.match.App(), Now: c.start})
	c.decision = d
	c.ev.Role = d.Role
	switch {
	case d.Allow:
		c.ev.Decision, c.ev.Reason = "allow", string(authz.ReasonAllowed)
		return nil
	case d.Reason == authz.ReasonStepUpRequired, d.Reason == authz.ReasonApprovalRequired,
		d.Reason == authz.ReasonMFAEnrollmentRequired:
		return nil
	}
	return refuse(http.StatusForbidden, d.Reason, denyMessage(d, c.route))
}
