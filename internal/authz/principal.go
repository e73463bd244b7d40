package authz

// Kind tells how a principal authenticated.
type Kind string

// Principal kinds.
const (
	KindUser  Kind = "user"
	KindToken Kind = "token"
)

// Principal is an authenticated caller as the policy sees it. authn builds it
// from a credential; Decide reads only this.
type Principal struct {
	Kind     Kind
	UserID   int64
	Email    string
	Role     string            // the user's (or token owner's) global role
	RackRole map[string]string // per-rack role bindings, overriding Role
	Disabled bool              // the user (or token owner) is disabled

	// SessionID is set when a person authenticated with a login session
	// (web or CLI) rather than an API token.
	SessionID   int64
	SessionKind string

	TokenID   int64
	TokenName string
	// TokenPerms is the token's scope; a token never exceeds its owner's
	// current role, so the effective set is TokenPerms ∩ role permissions.
	TokenPerms Set

	// Assurance is how the principal proved who it is.
	Assurance Assurance
}

// RoleOn returns the principal's role on the named rack.
func (p *Principal) RoleOn(rack string) string {
	if r, ok := p.RackRole[rack]; ok {
		return r
	}
	return p.Role
}

// ActorName is the name recorded in audit events and sent to the rack as
// X-Convox-Actor.
func (p *Principal) ActorName() string {
	if p == nil {
		return "anonymous"
	}
	if p.Kind == KindToken {
		return p.Email + " (token " + p.TokenName + ")"
	}
	return p.Email
}
