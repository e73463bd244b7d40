package proxy

import (
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// authenticate resolves the caller's credential (an API token or a login
// session, as the Basic password or a Bearer token) to a principal. Public
// routes need none. A credential store outage refuses the call: fail
// closed.
func (h *Handler) authenticate(c *call) *refusal {
	c.authChecked = true
	if c.route.Public {
		return nil
	}
	res, err := h.authn.Authenticate(c.r.Context(), c.r.Header.Get("Authorization"))
	if err != nil {
		h.log.Error("authentication unavailable", "err", err, "request_id", c.ev.RequestID)
		return refuse(http.StatusServiceUnavailable, authz.ReasonAuthUnavailable,
			"rack-gateway: cannot check credentials right now; try again shortly")
	}
	if res.Principal == nil {
		if res.Holder != nil { // a known credential, no longer good: name its holder
			setActor(&c.ev, res.Holder)
			c.ev.Role = res.Holder.Role
		}
		return refuse(http.StatusUnauthorized, res.Reason, unauthMessage(res.Reason))
	}
	p := res.Principal
	c.principal, c.actor = p, p.ActorName()
	setActor(&c.ev, p)
	return nil
}

// setActor names the principal in an audit event.
func setActor(ev *chain.Event, p *authz.Principal) {
	ev.ActorID = p.UserID
	ev.Actor = p.Email
	ev.ActorType = string(p.Kind)
	if p.Kind == authz.KindToken {
		ev.TokenID = p.TokenID
	}
}
