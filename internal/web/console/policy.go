package console

import (
	"fmt"
	"net/http"
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
	}
	c.render(q.w, q.r, q, http.StatusOK, "policy", "Access policy", "/policy", d)
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
