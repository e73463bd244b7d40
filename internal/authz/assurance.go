package authz

import "time"

// Credential is the kind of credential a principal presented.
type Credential string

// Credential kinds.
const (
	CredentialWebSession Credential = "web-session" // the console's cookie
	CredentialCLISession Credential = "cli-session" // rack-gateway login
	CredentialAPIToken   Credential = "api-token"   // CI and scripts
)

// Human reports whether the credential belongs to a person at a keyboard:
// only people are asked for a second factor; API tokens are gated by their
// scope (and by deploy approvals) instead.
func (c Credential) Human() bool { return c == CredentialWebSession || c == CredentialCLISession }

// Assurance is how strongly a principal has proved who it is: the kind of
// credential it presented, and how and when it last proved a second factor.
// authn fills it in; the policy reads it.
type Assurance struct {
	Credential Credential
	// Enrolled is set when the person has at least one second factor.
	Enrolled bool
	// SignedIn is set when this session passed the sign-in second factor:
	// by proving one, or from a trusted browser (which never counts as a
	// proof for step-up: MFAAt stays zero).
	SignedIn bool
	// MFAMethod names the second factor last proved in this session
	// ("totp", "webauthn", ...; "" if none).
	MFAMethod string
	// MFAAt is when that was (zero: never in this session).
	MFAAt time.Time
	// MFAThisRequest is set when a second factor came with this very
	// request, which the most dangerous actions require.
	MFAThisRequest bool
}

// WithProof is a after a second factor (method) came with the request at
// at: it counts for this very request, as the sign-in factor and as
// recent.
func (a Assurance) WithProof(method string, at time.Time) Assurance {
	a.MFAThisRequest, a.SignedIn, a.MFAMethod, a.MFAAt = true, true, method, at
	return a
}

// recentMFA reports whether a second factor was proved within window
// before now.
func (a Assurance) recentMFA(now time.Time, window time.Duration) bool {
	return !a.MFAAt.IsZero() && !a.MFAAt.After(now) && now.Sub(a.MFAAt) <= window
}
