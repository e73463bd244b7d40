package authz

// Reason is a typed reason code attached to every decision; it is recorded
// in the audit log and returned to clients in refusals.
type Reason string

// Reason codes. Allow decisions carry ReasonAllowed; everything else denies.
const (
	ReasonAllowed           Reason = "allowed"
	ReasonPublic            Reason = "public_route"
	ReasonUnauthenticated   Reason = "unauthenticated"
	ReasonInvalidCredential Reason = "invalid_credentials"
	ReasonTokenExpired      Reason = "token_expired"
	ReasonTokenRevoked      Reason = "token_revoked"
	ReasonSessionExpired    Reason = "session_expired"
	ReasonSessionRevoked    Reason = "session_revoked"
	ReasonUserDisabled      Reason = "user_disabled"
	ReasonUnknownRole       Reason = "unknown_role"
	ReasonMissingPermission Reason = "missing_permission"
	ReasonTokenScope        Reason = "token_scope"
	ReasonNoRoute           Reason = "no_route"
	ReasonBadPath           Reason = "bad_path"
	ReasonUnknownRack       Reason = "unknown_rack"
	ReasonProtectedEnvKey   Reason = "protected_env_key"
	ReasonBadRequest        Reason = "bad_request"
	ReasonAuditUnavailable  Reason = "audit_unavailable"
	ReasonUpstreamError     Reason = "upstream_error"
)

// Decision is the outcome of Decide.
type Decision struct {
	Allow      bool
	Reason     Reason
	Permission Permission
	Role       string // the role the decision was made under
}
