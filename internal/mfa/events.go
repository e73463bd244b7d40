package mfa

import (
	"context"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// Audit actions of this package. Details name the method kind and id,
// never a code, secret or assertion.
const (
	ActionEnrol          = "mfa.enrol"
	ActionRemove         = "mfa.remove"
	ActionVerify         = "mfa.verify"
	ActionLocked         = "mfa.locked"
	ActionUnlock         = "mfa.unlock"
	ActionReset          = "mfa.reset"
	ActionBackupCodes    = "mfa.backup_codes"
	ActionBackupCodeUsed = "mfa.backup_code_used"
	ActionTrustDevice    = "mfa.trusted_device"
	ActionUntrustDevice  = "mfa.trusted_device_revoked"
)

// event is an audit event of the actor doing action.
func (s *Service) event(a Actor, action string, perm authz.Permission, details map[string]any) *chain.Event {
	id := a.RequestID
	if id == "" {
		id = audit.NewRequestID()
	}
	ev := &chain.Event{
		Time: s.now(), RequestID: id, SourceIP: a.SourceIP, UserAgent: a.UserAgent, Action: action,
		Permission: string(perm), Decision: "allow", Reason: string(authz.ReasonAllowed), Status: 200,
		Details: audit.Details(details),
	}
	if p := a.Principal; p != nil {
		ev.ActorType, ev.Actor, ev.ActorID, ev.Role = string(p.Kind), p.Email, p.UserID, p.Role
	}
	return ev
}

// denied queues the record of a refusal (a failed code, a lockout).
func (s *Service) denied(a Actor, action string, reason string, status int, details map[string]any) {
	ev := s.event(a, action, "", details)
	ev.Decision, ev.Reason, ev.Status = "deny", reason, status
	s.audit.Record(ev)
}

// writeAhead durably records a change before it is made; the change is
// refused if the audit log cannot take it.
func (s *Service) writeAhead(ctx context.Context, a Actor, action string, perm authz.Permission, details map[string]any) error {
	if err := s.audit.RecordSync(ctx, s.event(a, action, perm, details)); err != nil {
		return ErrUnavailable
	}
	return nil
}
