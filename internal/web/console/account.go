package console

import (
	"net/http"
	"strconv"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

type rackPerms struct {
	Rack        string
	Role        string
	Permissions []string
}

type accountData struct {
	Email     string
	Role      string
	RackRoles []rackRole
	Gateway   []string // gateway-wide permissions
	Racks     []rackPerms
	Sessions  []admin.SessionView
	MFA       *accountMFA // nil: MFA is off
}

// account shows the caller: identity, roles, effective permissions per
// rack, and their login sessions.
func (c *console) account(q *request) {
	sessions, err := c.o.Admin.ListSessions(q.r.Context(), q.actor, "")
	if err != nil {
		c.fail(q, err)
		return
	}
	d := accountData{Email: q.p.Email, Role: q.p.Role, Sessions: sessions}
	if c.o.MFA != nil {
		if d.MFA, err = c.accountMFA(q.r.Context(), q); err != nil {
			c.fail(q, err)
			return
		}
	}
	for _, p := range authz.Effective(q.p, "").List() {
		if isGatewayPerm(p) {
			d.Gateway = append(d.Gateway, string(p))
		}
	}
	for _, rack := range c.o.Racks {
		if r, ok := q.p.RackRole[rack]; ok {
			d.RackRoles = append(d.RackRoles, rackRole{rack, r})
		}
		var ps []string
		for _, p := range authz.Effective(q.p, rack).List() {
			if !isGatewayPerm(p) {
				ps = append(ps, string(p))
			}
		}
		d.Racks = append(d.Racks, rackPerms{Rack: rack, Role: q.p.RoleOn(rack), Permissions: ps})
	}
	c.render(q.w, q.r, q, http.StatusOK, "account", "Account", "/account", d)
}

func isGatewayPerm(p authz.Permission) bool {
	switch p {
	case authz.TokenSelf, authz.TokenCreate, authz.GatewayUsers, authz.GatewayTokens, authz.GatewayAudit, authz.GatewaySummary, authz.MFASelf:
		return true
	}
	return false
}

func (c *console) revokeSession(q *request) {
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err != nil {
		c.done(q, "/account", "", &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest, Msg: "session id must be a number"})
		return
	}
	err = c.o.Admin.RevokeSession(q.r.Context(), q.actor, id)
	msg := "Ended the session."
	if id == q.p.SessionID {
		msg = "Ended this session; sign in again to continue."
	}
	c.done(q, "/account", msg, err)
}
