// Package apitypes holds the JSON shapes of the gateway's HTTP API for
// people and programs (/api/v1/... and the CLI login claim): one named type
// per request or response body, shared by the server (internal/web,
// internal/admin) and the client (internal/cli/client).
//
// It is a leaf: standard library only, plain strings for roles,
// permissions and times, so the client can use it without pulling in any
// server package. The JSON tags are the wire format: every key is
// snake_case, and every time is a string in RFC 3339 in UTC as Time makes
// it. The field order is the order in which the server writes the fields.
// Change either only together with every client and the OpenAPI document
// (internal/web/openapi/openapi.yaml), which a test checks against real
// answers.
package apitypes

import "time"

// Time is how the API writes a time: encoding/json's form of a time.Time
// (RFC 3339 with as many fractional digits as needed) normalised to UTC;
// the zero time is "" (and its field is then left out where it is
// optional).
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Error is the body of every refusal (4xx, 5xx) of the API, and of the
// rack API proxy's own refusals:
//
//	{"error": "human-readable message", "reason": "machine_reason", "request_id": "..."}
//
// Reason is one of the authz reasons (e.g. "missing_permission",
// "session_expired"), or one of the Reason constants below.
type Error struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
	// RequestID is the gateway's id of the request (also in the
	// X-Request-Id header, and in the audit log when the request was
	// recorded).
	RequestID string `json:"request_id,omitempty"`
	// MFALevel is the second factor needed, with reason step_up_required
	// or mfa_enrollment_required (see HeaderMFARequired).
	MFALevel string `json:"mfa_level,omitempty"`
}

// Reasons of the API's own refusals, beside the policy's (authz.Reason).
const (
	// ReasonNotFound: no such API path, or no such object.
	ReasonNotFound = "not_found"
	// ReasonMethodNotAllowed: the path exists with other methods (listed
	// in the Allow header).
	ReasonMethodNotAllowed = "method_not_allowed"
	// ReasonBodyTooLarge: the request body is over the endpoint's limit.
	ReasonBodyTooLarge = "body_too_large"
	// ReasonUnsupportedMediaType: the body is not application/json where
	// only that is taken.
	ReasonUnsupportedMediaType = "unsupported_media_type"
	// ReasonInternal: a fault of the gateway; it was logged.
	ReasonInternal = "internal_error"
)

// Status is the body of an answer that reports only an outcome:
// {"status": "revoked"} (DELETE /api/v1/tokens/{id},
// DELETE /api/v1/sessions/{id}), {"status": "ok"}
// (PUT /api/v1/users/{email}/racks/{rack}), {"status": "pending"} (202 from
// the CLI login claim while the browser login is not done).
type Status struct {
	Status string `json:"status"`
}

// Me is GET /api/v1/me: who the caller is.
type Me struct {
	Email string `json:"email"`
	// Kind is "user" (a person's login session) or "token" (an API
	// token).
	Kind string `json:"kind"`
	Role string `json:"role"`
	// TokenName is the API token's name when Kind is "token" (never the
	// secret).
	TokenName string `json:"token_name,omitempty"`
	// Permissions are the caller's effective permissions on the default
	// rack, e.g. "app:read".
	Permissions []string `json:"permissions"`
}

// Role is one entry of GET /api/v1/roles.
type Role struct {
	Name string `json:"name"`
	// Extends names the role this one builds on, if any.
	Extends     string   `json:"extends,omitempty"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

// User is a user as shown to administrators: GET /api/v1/users lists them;
// POST /api/v1/users and PATCH /api/v1/users/{email} answer one.
type User struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	// Role is the global role.
	Role string `json:"role"`
	// RackRoles are per-rack roles, rack name → role.
	RackRoles   map[string]string `json:"rack_roles,omitempty"`
	Disabled    bool              `json:"disabled"`
	CreatedAt   string            `json:"created_at"`
	LastLoginAt string            `json:"last_login_at,omitempty"`
}

// CreateUserRequest is the body of POST /api/v1/users.
type CreateUserRequest struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// UserChange is the body of PATCH /api/v1/users/{email}: a partial update;
// nil fields are left alone.
type UserChange struct {
	Role     *string `json:"role,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
	Name     *string `json:"name,omitempty"`
}

// SetRackRoleRequest is the body of PUT /api/v1/users/{email}/racks/{rack}:
// the user's role on that rack; "" removes it.
type SetRackRoleRequest struct {
	Role string `json:"role"`
}

// RevokedSessions is the answer of DELETE /api/v1/users/{email}/sessions:
// how many sessions were ended. (The field order is the server's.)
type RevokedSessions struct {
	Sessions int64  `json:"sessions"`
	Status   string `json:"status"` // "revoked"
}

// Session is a login session as shown to its owner and to admins
// (GET /api/v1/sessions).
type Session struct {
	ID   int64  `json:"id"`
	User string `json:"user"`
	// Kind is "web" or "cli".
	Kind string `json:"kind"`
	// Name is a CLI session's name (the saved rack name).
	Name       string `json:"name,omitempty"`
	UserAgent  string `json:"user_agent,omitempty"`
	SourceIP   string `json:"source_ip,omitempty"`
	CreatedAt  string `json:"created_at"`
	LastSeenAt string `json:"last_seen_at"`
	ExpiresAt  string `json:"expires_at"`
	Revoked    bool   `json:"revoked"`
	// Current marks the session making this request.
	Current bool `json:"current,omitempty"`
}

// Token is an API token as listed (GET /api/v1/tokens); never the secret.
type Token struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	Owner  string `json:"owner"`
	// Permissions is the scope; ["*"] means "follows the owner's role".
	Permissions []string `json:"permissions"`
	CreatedAt   string   `json:"created_at"`
	ExpiresAt   string   `json:"expires_at,omitempty"`
	LastUsedAt  string   `json:"last_used_at,omitempty"`
	Revoked     bool     `json:"revoked"`
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name string `json:"name"`
	// Owner is the user the token acts as; default the caller. Creating a
	// token for someone else needs gateway:tokens.
	Owner string `json:"owner,omitempty"`
	// Permissions is the token's scope; empty means whatever the owner's
	// role grants (admin.TokenRequest states the rules).
	Permissions []string `json:"permissions,omitempty"`
	// ExpiresIn is a duration like "720h"; empty means no expiry.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// CreatedToken is the answer of POST /api/v1/tokens: the secret, shown
// only this once, and the token as listed.
type CreatedToken struct {
	Token  string `json:"token"`
	Detail Token  `json:"detail"`
}

// ClaimRequest is the body of POST /api/v1/cli/login/claim: the CLI proves
// it started the browser login by sending the PKCE verifier of its
// challenge.
type ClaimRequest struct {
	Request  string `json:"request"`
	Verifier string `json:"verifier"`
}

// ClaimResponse is the 200 answer of POST /api/v1/cli/login/claim: the CLI
// session. (Until the browser login is done the answer is 202 with a
// Status "pending"; refusals are an Error.)
type ClaimResponse struct {
	Token     string `json:"token"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	ExpiresAt string `json:"expires_at"` // RFC 3339
}

// The second-factor contract. A call that needs a second factor the
// caller has not proved (recently enough) is refused with
//
//	403 Forbidden
//	Rack-Gateway-Mfa-Required: <level>
//	{"error": "...", "reason": "step_up_required", "mfa_level": "<level>"}
//
// where level is "sign-in" (the session has not passed its sign-in
// second factor), "recent" (one within the step-up window) or
// "every-request" (one with this very request); a person who has no
// second factor yet gets reason "mfa_enrollment_required" and level
// "enrol". A client retries the same call once with the person's code in
// Rack-Gateway-Mfa-Code (a TOTP code, YubiKey OTP or backup code); a
// good code also starts the step-up window. A wrong code is refused with
// 401 and reason "mfa_failed" (or 403 "mfa_locked" after too many).
const (
	HeaderMFARequired = "Rack-Gateway-Mfa-Required"
	HeaderMFACode     = "Rack-Gateway-Mfa-Code"
	MFALevelEnrol     = "enrol"
)

// MFAVerifyRequest is POST /api/v1/mfa/verify: a code, to start the
// session's step-up window ahead of a session of work.
type MFAVerifyRequest struct {
	Code string `json:"code"`
}

// MFAVerified is the answer to a good code.
type MFAVerified struct {
	Method string `json:"method"`
	// WindowSeconds is how long the step-up window now lasts.
	WindowSeconds int64 `json:"window_seconds"`
}

// MFAMethod is one enrolled second factor (GET /api/v1/mfa).
type MFAMethod struct {
	ID         int64  `json:"id"`
	Kind       string `json:"kind"` // totp, webauthn, yubikey
	Name       string `json:"name"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at,omitempty"`
}

// MFAStatus is GET /api/v1/mfa: the caller's second factors and window.
type MFAStatus struct {
	Methods     []MFAMethod `json:"methods"`
	BackupCodes int         `json:"backup_codes"` // unused ones
	Locked      bool        `json:"locked"`
	Offered     []string    `json:"offered"`
	// WindowSeconds is what is left of the step-up window (0: none).
	WindowSeconds int64 `json:"window_seconds"`
	// SignedIn says whether this session passed its sign-in second factor.
	SignedIn bool `json:"signed_in"`
	// Required says whether the gateway requires a second factor of
	// people.
	Required bool `json:"required"`
}

// MFABrowser is the answer to POST /api/v1/mfa/browser: a request to
// prove a second factor in a browser (a passkey, which a terminal cannot
// use). The person opens Path on the gateway in a browser signed in as
// them; the CLI polls GET /api/v1/mfa/browser/{id} and, once Done, sends
// "browser:<id>" as its code (HeaderMFACode), once.
type MFABrowser struct {
	ID   string `json:"id"`
	Path string `json:"path"`
	Done bool   `json:"done"`
}

// DeployRequestInput is the body of POST /api/v1/deploy-approvals: a CI
// token asks people to approve deploying Commit of App on Rack.
type DeployRequestInput struct {
	Rack    string `json:"rack"`
	App     string `json:"app"`
	Commit  string `json:"commit"` // the full 40-hex SHA
	Branch  string `json:"branch,omitempty"`
	PRURL   string `json:"pr_url,omitempty"`
	Message string `json:"message,omitempty"`
	CIURL   string `json:"ci_url,omitempty"`
}

// DeployDecision is the body of POST /api/v1/deploy-approvals/{id}/approve
// and .../reject.
type DeployDecision struct {
	Comment string `json:"comment,omitempty"`
}

// DeployApproval is one person's approval of a request.
type DeployApproval struct {
	Email   string `json:"email"`
	Comment string `json:"comment,omitempty"`
	// At is when the person approved (named created_at on the wire, as
	// every creation time is).
	At string `json:"created_at"`
}

// DeployRequest is a deploy approval request as the API shows it. Status
// is pending, approved, rejected, expired or deployed, as of now.
type DeployRequest struct {
	ID           int64            `json:"id"`
	Rack         string           `json:"rack"`
	App          string           `json:"app"`
	Commit       string           `json:"commit"`
	Branch       string           `json:"branch,omitempty"`
	PRURL        string           `json:"pr_url,omitempty"`
	Message      string           `json:"message,omitempty"`
	CIURL        string           `json:"ci_url,omitempty"`
	Requester    string           `json:"requester"`
	TokenID      int64            `json:"token_id"`
	Status       string           `json:"status"`
	Needed       int              `json:"approvals_needed"`
	Approvals    []DeployApproval `json:"approvals"`
	CreatedAt    string           `json:"created_at"`
	ExpiresAt    string           `json:"expires_at"`
	ApprovedAt   string           `json:"approved_at,omitempty"`
	WindowEndsAt string           `json:"window_ends_at,omitempty"`
	RejectedBy   string           `json:"rejected_by,omitempty"`
	Comment      string           `json:"comment,omitempty"`
	ObjectKey    string           `json:"object_key,omitempty"`
	BuildID      string           `json:"build_id,omitempty"`
	ReleaseID    string           `json:"release_id,omitempty"`
	DeployedAt   string           `json:"deployed_at,omitempty"`
	// URL is the request's page in the console, where people approve it.
	URL string `json:"url"`
}

// AuditEvent is one event of the audit log as GET /api/v1/audit lists it
// (newest first): the fields and names of the verifiable JSONL export's
// event lines (internal/audit/export), without its line "type" and
// "schema".
type AuditEvent struct {
	ID  int64 `json:"id"`
	Seq int64 `json:"seq"`
	// Hash is the event's chain hash, hex.
	Hash      string `json:"hash"`
	Time      string `json:"time"`
	RequestID string `json:"request_id"`
	Rack      string `json:"rack"`
	// ActorType is "user", "token", "anonymous" or "system".
	ActorType string `json:"actor_type"`
	Actor     string `json:"actor"`
	ActorID   int64  `json:"actor_id"`
	TokenID   int64  `json:"token_id"`
	Role      string `json:"role"`
	SourceIP  string `json:"source_ip"`
	UserAgent string `json:"user_agent"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Route     string `json:"route"`
	Action    string `json:"action"`
	App       string `json:"app"`
	Resource  string `json:"resource"`
	// Permission is the permission the action needed.
	Permission string `json:"permission"`
	// Decision is "allow" or "deny"; Reason the policy's reason code.
	Decision   string `json:"decision"`
	Reason     string `json:"reason"`
	Status     int    `json:"status"`
	DurationUS int64  `json:"duration_us"`
	// Details is the stored JSON object text, verbatim (as hashed), or "".
	Details string `json:"details"`
}
