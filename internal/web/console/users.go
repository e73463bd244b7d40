package console

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

type rackRole struct{ Rack, Role string }

type userRow struct {
	admin.UserView
	RackRoleList []rackRole
	Sessions     int // active login sessions; -1 unknown
	Self         bool
	MFA          *userMFA // nil: unknown, or MFA is off
}

type usersData struct {
	Users []userRow
	Roles []string
	Racks []string
	MFA   bool // the second-factor column and actions
}

// users lists users (gateway:users, decided by admin.ListUsers).
func (c *console) users(q *request) {
	ctx := q.r.Context()
	list, err := c.o.Admin.ListUsers(ctx, q.actor)
	if err != nil {
		c.fail(q, err)
		return
	}
	counts := map[string]int{}
	sessions, serr := c.o.Admin.ListSessions(ctx, q.actor, "*")
	now := time.Now()
	for _, s := range sessions {
		exp, err := time.Parse(time.RFC3339, s.ExpiresAt)
		if !s.Revoked && (err != nil || exp.After(now)) {
			counts[s.User]++
		}
	}
	d := usersData{Roles: authz.RoleNames(), Racks: c.o.Racks, MFA: c.o.MFA != nil}
	mfas := c.usersMFA(ctx, q)
	for _, u := range list {
		row := userRow{UserView: u, Sessions: counts[u.Email], Self: u.Email == q.p.Email, MFA: mfas[u.Email]}
		if serr != nil {
			row.Sessions = -1
		}
		for rack, role := range u.RackRoles {
			row.RackRoleList = append(row.RackRoleList, rackRole{rack, role})
		}
		sort.Slice(row.RackRoleList, func(i, j int) bool { return row.RackRoleList[i].Rack < row.RackRoleList[j].Rack })
		d.Users = append(d.Users, row)
	}
	sort.Slice(d.Users, func(i, j int) bool { return d.Users[i].Email < d.Users[j].Email })
	c.render(q.w, q.r, q, http.StatusOK, "users", "Users", "/users", d)
}

func (c *console) createUser(q *request) {
	f := q.r.PostForm
	email, role := strings.TrimSpace(f.Get("email")), f.Get("role")
	_, err := c.o.Admin.CreateUser(q.r.Context(), q.actor, email, f.Get("name"), role)
	c.done(q, "/users", fmt.Sprintf("Added %s as %s.", email, role), err)
}

func (c *console) setUserRole(q *request) {
	email, role := q.r.PostForm.Get("email"), q.r.PostForm.Get("role")
	_, err := c.o.Admin.UpdateUser(q.r.Context(), q.actor, email, admin.UserChange{Role: &role})
	c.done(q, "/users", fmt.Sprintf("%s is now %s; their login sessions were ended.", email, role), err)
}

func (c *console) setUserStatus(q *request) {
	email := q.r.PostForm.Get("email")
	var ch admin.UserChange
	switch q.r.PostForm.Get("disabled") {
	case "1":
		ch.Disabled = new(true)
	case "0":
		ch.Disabled = new(false)
	}
	// An empty change is refused by the service, after it has authorized
	// (and audited) the caller.
	_, err := c.o.Admin.UpdateUser(q.r.Context(), q.actor, email, ch)
	disabled := ch.Disabled != nil && *ch.Disabled
	msg := "Enabled " + email + "."
	if disabled {
		msg = "Disabled " + email + "; their login sessions were ended."
	}
	c.done(q, "/users", msg, err)
}

func (c *console) setUserRackRole(q *request) {
	f := q.r.PostForm
	email, rack, role := f.Get("email"), f.Get("rack"), f.Get("role")
	var err error
	// An unknown rack is refused here only for callers who may set rack
	// roles; anyone else goes to the service, which refuses and audits.
	if !slices.Contains(c.o.Racks, rack) && c.policy.Allowed(q.p, authz.GatewayUsers, "") {
		err = &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest, Msg: fmt.Sprintf("no rack named %q", rack)}
	} else {
		err = c.o.Admin.SetRackRole(q.r.Context(), q.actor, email, rack, role)
	}
	msg := fmt.Sprintf("%s is now %s on rack %s.", email, role, rack)
	if role == "" {
		msg = fmt.Sprintf("%s now has their global role on rack %s.", email, rack)
	}
	c.done(q, "/users", msg, err)
}

func (c *console) revokeUserSessions(q *request) {
	email := q.r.PostForm.Get("email")
	n, err := c.o.Admin.RevokeUserSessions(q.r.Context(), q.actor, email)
	c.done(q, "/users", fmt.Sprintf("Ended %d login session(s) of %s.", n, email), err)
}
