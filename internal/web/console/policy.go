package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

type policyRow struct {
	Permission string
	Roles      []bool // granted, per role in policyData.Roles order
	StepUp     string // what a person must prove beyond the role ("" none)
	Approval   bool
}

type policyData struct {
	Roles    []string
	MyRole   string
	Rows     []policyRow
	Required bool   // people must enrol and sign in with a second factor
	StepUp   bool   // step-up requirements are in force
	Window   string // the step-up window
	// Approvals lists the deploy approval rules, in order, when the
	// console has the approval service.
	Approvals   []approvalRule
	ApprovalsOn bool
	// Levels lists, per step-up level beyond the sign-in, the permissions
	// that need it (the "second factor" column, read the other way).
	Levels []stepUpLevel
}

// stepUpLevel is one step-up requirement and the permissions under it.
type stepUpLevel struct {
	Level string
	Perms []string
}

// approvalRule is an approval.Rule as the policy page shows it.
type approvalRule struct {
	Rack, App  string
	Needed     int
	Approvers  string
	RequestTTL string
	Window     string
}

// policyPage shows the role × permission matrix and what each permission
// needs beyond the role, from the policy's own data (authz.Roles, All,
// RequirementOf): what every decision is made from.
func (c *console) policyPage(q *request) {
	d := policyData{MyRole: q.p.Role, Required: c.policy.RequireMFA, StepUp: c.policy.StepUp,
		Window: duration(c.policy.StepUpWindow)}
	if c.o.MFA != nil {
		d.Required, d.Window = c.o.MFA.Required(), duration(c.o.MFA.Window())
	}
	roles := authz.Roles()
	sets := make([]authz.Set, len(roles))
	for i, r := range roles {
		d.Roles = append(d.Roles, r.Name)
		sets[i], _ = authz.RolePermissions(r.Name)
	}
	for _, p := range authz.All() {
		req := authz.RequirementOf(p)
		row := policyRow{Permission: string(p), StepUp: req.StepUp.Describe(), Approval: req.Approval}
		if !d.StepUp || req.StepUp < authz.StepUpSignIn {
			row.StepUp = "" // only the sign-in's, when required
			if d.Required {
				row.StepUp = authz.StepUpSignIn.Describe()
			}
		}
		for _, s := range sets {
			row.Roles = append(row.Roles, s.Has(p))
		}
		d.Rows = append(d.Rows, row)
		if d.StepUp && req.StepUp > authz.StepUpSignIn {
			level := req.StepUp.Describe()
			i := slices.IndexFunc(d.Levels, func(l stepUpLevel) bool { return l.Level == level })
			if i < 0 {
				d.Levels, i = append(d.Levels, stepUpLevel{Level: level}), len(d.Levels)
			}
			d.Levels[i].Perms = append(d.Levels[i].Perms, string(p))
		}
	}
	if c.o.Approvals != nil {
		d.ApprovalsOn = true
		for _, r := range c.o.Approvals.Rules() {
			who := strings.Join(append(append([]string{}, r.ApproverRoles...), r.ApproverUsers...), ", ")
			if who == "" {
				who = "admin"
			}
			d.Approvals = append(d.Approvals, approvalRule{Rack: orAny(r.Rack), App: orAny(r.App), Needed: r.Needed,
				Approvers: who, RequestTTL: duration(r.RequestTTL), Window: duration(r.Window)})
		}
	}
	c.render(q.w, q.r, q, http.StatusOK, "policy", "Access policy", "/policy", d)
}

// orAny shows an empty pattern as the "*" it means.
func orAny(pattern string) string {
	if pattern == "" {
		return "*"
	}
	return pattern
}

// duration says a configured duration for people: "10 minutes".
func duration(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "1 minute"
	case d%time.Hour == 0 && d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d%time.Minute == 0 && d > 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}
