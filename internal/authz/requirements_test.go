package authz

import (
	"testing"
	"time"
)

// Every permission named in the requirement data exists, and no permission
// a viewer holds needs a second factor or an approval (reads stay free),
// except minting a credential: managing one's own second factors and
// creating an API token.
func TestRequirementsData(t *testing.T) {
	viewer, _ := RolePermissions(RoleViewer)
	for p, r := range requirements {
		if !p.Valid() {
			t.Errorf("requirement for unknown permission %s", p)
		}
		if viewer.Has(p) && p != MFASelf && p != TokenCreate && (r.StepUp != StepUpNone || r.Approval) {
			t.Errorf("viewer permission %s has a requirement %+v", p, r)
		}
	}
	for _, p := range []Permission{AppDelete, RackUpdate, RackJWTToken} {
		if RequirementOf(p).StepUp != StepUpEveryRequest {
			t.Errorf("%s must need a second factor on every request", p)
		}
	}
	// Every user, role, token and MFA administration action.
	for _, p := range []Permission{TokenCreate, GatewayUsers, GatewayTokens, MFASelf} {
		if RequirementOf(p).StepUp < StepUpRecent {
			t.Errorf("%s must need a recent second factor", p)
		}
	}
}

// The step-up matrix, generated from the data: for every role × permission
// × assurance of a person, Decide allows exactly when the role grants the
// permission and the second factor is fresh enough for its requirement; a
// second factor never grants what the role lacks.
func TestDecideStepUpMatrix(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	pol := &Policy{StepUp: true, StepUpWindow: 10 * time.Minute}
	assurances := []struct {
		name   string
		a      Assurance
		recent bool // satisfies StepUpRecent
		every  bool // satisfies StepUpEveryRequest
	}{
		{"no mfa", Assurance{Credential: CredentialWebSession}, false, false},
		{"mfa 2m ago", Assurance{Credential: CredentialCLISession, MFAMethod: "totp", MFAAt: now.Add(-2 * time.Minute)}, true, false},
		{"mfa at the window's edge", Assurance{Credential: CredentialWebSession, MFAAt: now.Add(-10 * time.Minute)}, true, false},
		{"mfa 11m ago", Assurance{Credential: CredentialWebSession, MFAAt: now.Add(-11 * time.Minute)}, false, false},
		{"mfa from the future", Assurance{Credential: CredentialWebSession, MFAAt: now.Add(time.Minute)}, false, false},
		{"mfa on this request", Assurance{Credential: CredentialWebSession, MFAAt: now, MFAThisRequest: true}, true, true},
	}
	for _, r := range roles {
		for _, as := range assurances {
			p := &Principal{Kind: KindUser, Role: r.Name, Assurance: as.a}
			for _, perm := range all {
				d := pol.Decide(Request{Principal: p, Permission: perm, Rack: "prod", Now: now})
				grants := expected(r.Name, perm)
				var met bool
				switch RequirementOf(perm).StepUp {
				case StepUpNone:
					met = true
				case StepUpSignIn:
					met = true // RequireMFA is off here
				case StepUpRecent:
					met = as.recent
				case StepUpEveryRequest:
					met = as.every
				}
				switch {
				case !grants:
					if d.Allow || d.Reason != ReasonMissingPermission {
						t.Errorf("%s/%s/%s: %v %s, want missing_permission", r.Name, as.name, perm, d.Allow, d.Reason)
					}
				case !met:
					if d.Allow || d.Reason != ReasonStepUpRequired || d.StepUp != RequirementOf(perm).StepUp {
						t.Errorf("%s/%s/%s: %v %s %v, want step_up_required", r.Name, as.name, perm, d.Allow, d.Reason, d.StepUp)
					}
				default:
					if !d.Allow || d.Reason != ReasonAllowed {
						t.Errorf("%s/%s/%s: %v %s, want allowed", r.Name, as.name, perm, d.Allow, d.Reason)
					}
				}
			}
		}
	}
}

// API tokens are never asked for a second factor; step-up off (the zero
// Policy) asks nobody.
func TestStepUpOnlyForPeopleAndWhenInForce(t *testing.T) {
	tok := &Principal{Kind: KindToken, Role: RoleAdmin, TokenPerms: Universe(), Assurance: Assurance{Credential: CredentialAPIToken}}
	on := &Policy{StepUp: true, StepUpWindow: time.Minute}
	for _, perm := range all {
		if d := on.Decide(Request{Principal: tok, Permission: perm}); !d.Allow {
			t.Errorf("token %s: %s", perm, d.Reason)
		}
	}
	person := &Principal{Kind: KindUser, Role: RoleAdmin, Assurance: Assurance{Credential: CredentialWebSession}}
	for _, perm := range all {
		if d := (&Policy{}).Decide(Request{Principal: person, Permission: perm}); !d.Allow {
			t.Errorf("zero policy, person %s: %s", perm, d.Reason)
		}
	}
	// Without Request.Now the policy's clock decides what is recent.
	f := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pol := &Policy{StepUp: true, StepUpWindow: time.Minute, Clock: fixedClock(f)}
	person.Assurance.MFAAt = f.Add(-30 * time.Second)
	if !pol.Allowed(person, ProcessExec, "") {
		t.Error("a second factor 30s ago is not recent under a 1m window")
	}
	person.Assurance.MFAAt = f.Add(-2 * time.Minute)
	if pol.Allowed(person, ProcessExec, "") {
		t.Error("a second factor 2m ago counted as recent under a 1m window")
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// Approvals gate only tokens, only the deploy permissions, only where the
// policy says so, and an approval lifts nothing else.
func TestDecideApproval(t *testing.T) {
	pol := &Policy{NeedsApproval: func(rack, app string) bool { return rack == "prod" && app == "web" }}
	tok := &Principal{Kind: KindToken, Role: RoleDeployer, TokenPerms: Universe(), Assurance: Assurance{Credential: CredentialAPIToken}}
	person := &Principal{Kind: KindUser, Role: RoleDeployer, Assurance: Assurance{Credential: CredentialWebSession}}
	for _, perm := range all {
		need := RequirementOf(perm).Approval
		d := pol.Decide(Request{Principal: tok, Permission: perm, Rack: "prod", App: "web"})
		switch {
		case !expected(RoleDeployer, perm):
			if d.Allow {
				t.Errorf("%s allowed beyond the role", perm)
			}
		case need:
			if d.Allow || d.Reason != ReasonApprovalRequired {
				t.Errorf("token %s on prod/web: %v %s, want approval_required", perm, d.Allow, d.Reason)
			}
			if d := pol.Decide(Request{Principal: tok, Permission: perm, Rack: "prod", App: "web", Approved: true}); !d.Allow {
				t.Errorf("approved token %s: %s", perm, d.Reason)
			}
		default:
			if !d.Allow {
				t.Errorf("token %s: %s", perm, d.Reason)
			}
		}
		if need && expected(RoleDeployer, perm) {
			if d := pol.Decide(Request{Principal: tok, Permission: perm, Rack: "prod", App: "api"}); !d.Allow {
				t.Errorf("token %s on an app without a policy: %s", perm, d.Reason)
			}
			if d := pol.Decide(Request{Principal: person, Permission: perm, Rack: "prod", App: "web"}); !d.Allow {
				t.Errorf("person %s: %s (approvals gate CI tokens)", perm, d.Reason)
			}
		}
	}
	// An approval never lifts a missing permission.
	viewerTok := &Principal{Kind: KindToken, Role: RoleViewer, TokenPerms: Universe()}
	if d := pol.Decide(Request{Principal: viewerTok, Permission: BuildCreate, Rack: "prod", App: "web", Approved: true}); d.Allow || d.Reason != ReasonMissingPermission {
		t.Errorf("approved viewer token: %v %s", d.Allow, d.Reason)
	}
}

// With RequireMFA, a person's session is refused everything until they
// enrol and pass the sign-in second factor, whatever their role; tokens are
// never asked; a trusted browser passes sign-in but never step-up.
func TestDecideRequireMFA(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	pol := &Policy{RequireMFA: true, StepUp: true, StepUpWindow: 10 * time.Minute}
	web := CredentialWebSession
	cases := []struct {
		name   string
		a      Assurance
		kind   Kind
		perm   Permission
		reason Reason
		level  StepUp
	}{
		{"not enrolled, a read", Assurance{Credential: web}, KindUser, AppRead, ReasonMFAEnrollmentRequired, StepUpNone},
		{"not enrolled, whoami", Assurance{Credential: CredentialCLISession}, KindUser, GatewaySummary, ReasonMFAEnrollmentRequired, StepUpNone},
		{"not enrolled, lacking the role", Assurance{Credential: web}, KindUser, AppDelete, ReasonMissingPermission, StepUpNone},
		{"enrolled, not signed in", Assurance{Credential: web, Enrolled: true}, KindUser, AppRead, ReasonStepUpRequired, StepUpSignIn},
		{"enrolled, not signed in, a per-request action", Assurance{Credential: web, Enrolled: true}, KindUser, RackUpdate, ReasonStepUpRequired, StepUpEveryRequest},
		{"a code with this very request signs in", Assurance{Credential: web, Enrolled: true, MFAThisRequest: true, MFAAt: now}, KindUser, AppRead, ReasonAllowed, StepUpNone},
		{"signed in", Assurance{Credential: web, Enrolled: true, SignedIn: true, MFAAt: now.Add(-time.Hour)}, KindUser, AppRead, ReasonAllowed, StepUpNone},
		{"signed in long ago, exec", Assurance{Credential: web, Enrolled: true, SignedIn: true, MFAAt: now.Add(-time.Hour)}, KindUser, ProcessExec, ReasonStepUpRequired, StepUpRecent},
		{"trusted browser, a read", Assurance{Credential: web, Enrolled: true, SignedIn: true}, KindUser, AppRead, ReasonAllowed, StepUpNone},
		{"trusted browser, exec", Assurance{Credential: web, Enrolled: true, SignedIn: true}, KindUser, ProcessExec, ReasonStepUpRequired, StepUpRecent},
		{"recent, exec", Assurance{Credential: web, Enrolled: true, SignedIn: true, MFAAt: now.Add(-time.Minute)}, KindUser, ProcessExec, ReasonAllowed, StepUpNone},
		{"recent, own second factors", Assurance{Credential: web, Enrolled: true, SignedIn: true, MFAAt: now.Add(-time.Minute)}, KindUser, MFASelf, ReasonAllowed, StepUpNone},
		{"a token is never asked", Assurance{Credential: CredentialAPIToken}, KindToken, RackUpdate, ReasonAllowed, StepUpNone},
	}
	for _, c := range cases {
		p := &Principal{Kind: c.kind, Role: RoleAdmin, Assurance: c.a}
		if c.name == "not enrolled, lacking the role" {
			p.Role = RoleViewer
		}
		if c.kind == KindToken {
			p.TokenPerms = Universe()
		}
		d := pol.Decide(Request{Principal: p, Permission: c.perm, Now: now})
		if d.Reason != c.reason || d.StepUp != c.level || d.Allow != (c.reason == ReasonAllowed) {
			t.Errorf("%s: %v %s %s, want %s %s", c.name, d.Allow, d.Reason, d.StepUp, c.reason, c.level)
		}
	}
}
