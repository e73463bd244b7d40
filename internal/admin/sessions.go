package admin

import (
	"context"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// SessionView is a login session as shown to its owner and to admins.
type SessionView = apitypes.Session

func (s *Service) sessionView(ss *store.Session, email string, a Actor) SessionView {
	return SessionView{ID: ss.ID, User: email, Kind: ss.Kind, Name: ss.Name, UserAgent: ss.UserAgent, SourceIP: ss.SourceIP,
		CreatedAt: ts(ss.CreatedAt), LastSeenAt: ts(ss.LastSeenAt), ExpiresAt: ts(ss.ExpiresAt), Revoked: !ss.RevokedAt.IsZero(),
		Current: a.Principal != nil && a.Principal.SessionID == ss.ID}
}

// ListSessions lists login sessions: the caller's own (email ""), one
// user's, or everyone's (email "*"); others' need gateway:users.
func (s *Service) ListSessions(ctx context.Context, a Actor, email string) ([]SessionView, error) {
	var userID int64
	own := email == "" || a.Principal != nil && email == a.Principal.Email
	switch {
	case own:
		if err := s.authorize(ctx, a, authz.GatewaySummary, "session.list"); err != nil {
			return nil, err
		}
		if a.Principal == nil {
			return nil, invalid("give a user")
		}
		userID = a.Principal.UserID
	default:
		if err := s.authorize(ctx, a, authz.GatewayUsers, "session.list"); err != nil {
			return nil, err
		}
		if email != "*" {
			e, err := normalizeEmail(email)
			if err != nil {
				return nil, err
			}
			u, err := s.Store.GetUserByEmail(ctx, e)
			if err != nil {
				return nil, storeErr(err, "user "+e)
			}
			userID = u.ID
		}
		s.recordRead(a, "session.list", authz.GatewayUsers)
	}
	list, err := s.Store.ListSessions(ctx, userID)
	if err != nil {
		return nil, storeErr(err, "sessions")
	}
	emails := map[int64]string{}
	out := make([]SessionView, 0, len(list))
	for i := range list {
		id := list[i].UserID
		if _, ok := emails[id]; !ok {
			if u, err := s.Store.GetUser(ctx, id); err == nil {
				emails[id] = u.Email
			}
		}
		out = append(out, s.sessionView(&list[i], emails[id], a))
	}
	return out, nil
}

// RevokeSession ends one login session: one's own, or anyone's with
// gateway:users.
func (s *Service) RevokeSession(ctx context.Context, a Actor, id int64) error {
	if a.Principal == nil && a.System == "" {
		return &Error{Kind: KindForbidden, Reason: authz.ReasonUnauthenticated, Msg: "authentication required"}
	}
	var target *store.Session
	all, err := s.Store.ListSessions(ctx, 0)
	if err != nil {
		return storeErr(err, "sessions")
	}
	for i := range all {
		if all[i].ID == id {
			target = &all[i]
		}
	}
	// Someone else's session is ended only with gateway:users. Without it,
	// another's session and an unknown id get the same answer, so session
	// ids cannot be probed; the refusal is audited all the same.
	perm := authz.GatewaySummary
	if target == nil || a.Principal == nil || a.Principal.UserID != target.UserID {
		perm = authz.GatewayUsers
	}
	if err := s.authorize(ctx, a, perm, "session.revoke"); err != nil {
		if target == nil || perm == authz.GatewayUsers {
			return storeErr(store.ErrNotFound, "session")
		}
		return err
	}
	if target == nil {
		return storeErr(store.ErrNotFound, "session")
	}
	ev := s.event(a, "session.revoke", perm)
	u, _ := s.Store.GetUser(ctx, target.UserID)
	if u != nil {
		ev.Resource = u.Email
	}
	ch, err := s.writeAhead(ctx, ev, map[string]any{"session_id": id, "kind": target.Kind})
	if err != nil {
		return err
	}
	if err := ch.finish(storeErr(s.Store.RevokeSession(ctx, id, s.now()), "session")); err != nil {
		return err
	}
	s.changed()
	return nil
}

// RevokeUserSessions ends every login session of a user (admin).
func (s *Service) RevokeUserSessions(ctx context.Context, a Actor, email string) (int64, error) {
	if err := s.authorize(ctx, a, authz.GatewayUsers, "session.revoke-all"); err != nil {
		return 0, err
	}
	email, err := normalizeEmail(email)
	if err != nil {
		return 0, err
	}
	u, err := s.Store.GetUserByEmail(ctx, email)
	if err != nil {
		return 0, storeErr(err, "user "+email)
	}
	ev := s.event(a, "session.revoke-all", authz.GatewayUsers)
	ev.Resource = email
	ch, err := s.writeAhead(ctx, ev, map[string]any{"reason": "admin request"})
	if err != nil {
		return 0, err
	}
	n, err := s.Store.RevokeUserSessions(ctx, u.ID, s.now())
	ch.details["revoked"] = n
	if err := ch.finish(storeErr(err, "sessions")); err != nil {
		return 0, err
	}
	s.changed()
	return n, nil
}

// revokeAllSessions follows a role or status change: the user's sessions
// end and their trusted browsers are forgotten (the next sign-in asks for
// a second factor). Failures are logged in the audit log rather than
// undoing the change.
func (s *Service) revokeAllSessions(ctx context.Context, a Actor, userID int64, email, why string) {
	n, err := s.Store.RevokeUserSessions(ctx, userID, s.now())
	var devices int64
	if err == nil {
		devices, err = s.Store.RevokeUserTrustedDevices(ctx, userID)
	}
	ev := s.event(a, "session.revoke-all", authz.GatewayUsers)
	ev.Resource = email
	d := map[string]any{"reason": why, "revoked": n, "trusted_browsers_revoked": devices}
	if err != nil {
		ev.Decision, ev.Reason = "deny", "store_error"
		d["error"] = "could not revoke sessions"
	}
	ev.Details = audit.Details(d)
	s.Audit.Record(ev)
}
