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
	ReasonCrossOrigin       Reason = "cross_origin" // a request from another site's page
	ReasonRateLimited       Reason = "rate_limited" // too many failed requests from one address
	ReasonAuditUnavailable  Reason = "audit_unavailable"
	ReasonAuthUnavailable   Reason = "auth_unavailable"  // credentials could not be checked (store outage)
	ReasonStoreUnavailable  Reason = "store_unavailable" // the gateway's database failed an operation
	// ReasonStepUpRequired: the role grants the permission, but it needs a
	// fresher second factor (Decision.StepUp says how fresh).
	ReasonStepUpRequired Reason = "step_up_required"
	// ReasonMFAEnrollmentRequired: the person has no second factor yet and
	// the policy requires one: the session may only enrol (and sign out).
	ReasonMFAEnrollmentRequired Reason = "mfa_enrollment_required"
	// ReasonMFAFailed: a second factor was sent and did not prove (wrong,
	// replayed, or not the person's).
	ReasonMFAFailed Reason = "mfa_failed"
	// ReasonMFALocked: repeated failures locked the person's second
	// factor until an admin unlocks it.
	ReasonMFALocked Reason = "mfa_locked"
	// ReasonApprovalRequired: the token's scope grants the permission, but
	// this deploy needs a person's approval first.
	ReasonApprovalRequired Reason = "approval_required"
	// ReasonScopeTooWide: a new API token would hold permissions its
	// creator or owner lacks.
	ReasonScopeTooWide  Reason = "scope_too_wide"
	ReasonUpstreamError Reason = "upstream_error"
	// ReasonRackCredentials: the rack refused the gateway's own rack
	// password (a gateway misconfiguration, not the caller's fault).
	ReasonRackCredentials Reason = "rack_credentials_rejected"
)

// Decision is the outcome of Policy.Decide.
type Decision struct {
	Allow      bool
	Reason     Reason
	Permission Permission
	Role       string // the role the decision was made under
	// StepUp is the second-factor level needed, with ReasonStepUpRequired.
	StepUp StepUp
}
