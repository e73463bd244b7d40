package authz

import (
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
)

// Policy is the gateway's one access policy: the role data (roles.go),
// what each permission requires beyond a role (requirements.go), and the
// settings that put those requirements in force. Every decision, for
// proxied rack calls, the admin API and the console, is Policy.Decide.
// A zero Policy enforces roles and token scopes only.
type Policy struct {
	// RequireMFA makes every person enrol a second factor and prove it at
	// sign-in: until then their sessions are refused everything
	// (ReasonMFAEnrollmentRequired, or ReasonStepUpRequired at the sign-in
	// level). API tokens are never asked.
	RequireMFA bool
	// StepUp puts the step-up requirements in force for people.
	StepUp bool
	// StepUpWindow is how long a second factor counts as recent.
	StepUpWindow time.Duration
	// NeedsApproval says whether deploys to an app on a rack need a
	// person's approval; nil means none do.
	NeedsApproval func(rack, app string) bool
	// Clock tells the time when a Request does not (nil: the system clock).
	Clock clock.Clock
}

// Request is one question put to the policy.
type Request struct {
	Principal  *Principal // nil: unauthenticated
	Permission Permission
	Rack       string // "" for gateway-wide actions
	App        string // "" when the call names no app
	// Approved is set by the caller when an approval covering this very
	// call has been found; it lifts an approval requirement and nothing
	// else.
	Approved bool
	Now      time.Time // zero: the policy's clock
}

// Decide decides whether q.Principal may use q.Permission on q.Rack. Deny is
// the default; only a permission that the principal's role grants (and, for
// tokens, that the token's scope also grants) allows, and then only if the
// permission's requirements (a recent second factor for people, an
// approval for tokens) are met. The reason is typed; a refusal for want
// of a second factor carries the level needed.
func (pol *Policy) Decide(q Request) Decision {
	p := q.Principal
	d := Decision{Permission: q.Permission}
	if p == nil {
		d.Reason = ReasonUnauthenticated
		return d
	}
	if p.Disabled {
		d.Reason = ReasonUserDisabled
		return d
	}
	d.Role = p.RoleOn(q.Rack)
	perms, ok := RolePermissions(d.Role)
	if !ok {
		d.Reason = ReasonUnknownRole
		return d
	}
	i, known := permIndex[q.Permission] // one lookup serves every test below
	if !known || !perms.hasIndex(i) {
		d.Reason = ReasonMissingPermission
		return d
	}
	if p.Kind == KindToken && !p.TokenPerms.hasIndex(i) {
		d.Reason = ReasonTokenScope
		return d
	}
	req := requirementsByIndex[i]
	if human := p.Assurance.Credential.Human(); human && pol.RequireMFA {
		switch {
		case !p.Assurance.Enrolled:
			d.Reason = ReasonMFAEnrollmentRequired
			return d
		case !p.Assurance.SignedIn && !p.Assurance.MFAThisRequest:
			d.Reason, d.StepUp = ReasonStepUpRequired, max(req.StepUp, StepUpSignIn)
			if !pol.StepUp {
				d.StepUp = StepUpSignIn
			}
			return d
		}
	}
	if req.StepUp > StepUpSignIn && pol.StepUp && p.Assurance.Credential.Human() && !pol.stepUpMet(p.Assurance, req.StepUp, q.Now) {
		d.Reason, d.StepUp = ReasonStepUpRequired, req.StepUp
		return d
	}
	if req.Approval && !q.Approved && p.Kind == KindToken && pol.NeedsApproval != nil && pol.NeedsApproval(q.Rack, q.App) {
		d.Reason = ReasonApprovalRequired
		return d
	}
	d.Allow, d.Reason = true, ReasonAllowed
	return d
}

// Allowed is Decide for the yes-or-no questions of pages and filters.
func (pol *Policy) Allowed(p *Principal, perm Permission, rack string) bool {
	return pol.Decide(Request{Principal: p, Permission: perm, Rack: rack}).Allow
}

func (pol *Policy) stepUpMet(a Assurance, level StepUp, now time.Time) bool {
	if level == StepUpEveryRequest {
		return a.MFAThisRequest
	}
	if now.IsZero() {
		now = clock.Or(pol.Clock).Now()
	}
	return a.MFAThisRequest || a.recentMFA(now, pol.StepUpWindow)
}

// Effective returns the set of permissions p holds on rack by role and
// scope, for display and for checking that a new token's scope is a subset
// of its creator's rights. Requirements (step-up, approval) do not narrow
// it: they say when a permission may be used, not whether it is held.
func Effective(p *Principal, rack string) Set {
	if p == nil || p.Disabled {
		return Set{}
	}
	perms, _ := RolePermissions(p.RoleOn(rack))
	if p.Kind == KindToken {
		perms = perms.Intersect(p.TokenPerms)
	}
	return perms
}

// EffectiveAnyRack is the union of p's permissions over its global role and
// every per-rack binding: the most a token created by or for p may carry.
// Decide still checks the role on the rack a token is used against, so a
// scope wider than one rack's role grants nothing extra there.
func EffectiveAnyRack(p *Principal) Set {
	s := Effective(p, "")
	for rack := range p.RackRole {
		s = s.Union(Effective(p, rack))
	}
	return s
}
