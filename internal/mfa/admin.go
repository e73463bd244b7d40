package mfa

import (
	"context"
	"errors"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// target finds the user an admin acts on, after the policy allows the
// actor to administer users (which needs a recent second factor).
func (s *Service) target(ctx context.Context, a Actor, email string) (*store.User, error) {
	if err := s.authorize(a, authz.GatewayUsers); err != nil {
		return nil, err
	}
	u, err := s.st.GetUserByEmail(ctx, strings.TrimSpace(email))
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Invalid{Msg: "no such user"}
	} else if err != nil {
		return nil, s.unavailable("read a user", err)
	}
	return u, nil
}

// UserStatus is an admin's view of another user's MFA state.
func (s *Service) UserStatus(ctx context.Context, a Actor, email string) (*Status, error) {
	u, err := s.target(ctx, a, email)
	if err != nil {
		return nil, err
	}
	return s.status(ctx, u.ID)
}

// Summary is one user's second factors as an admin's overview lists them.
type Summary struct {
	Kinds  []string // the kinds of the enrolled methods, oldest first
	Locked bool
}

// Overview returns every user's Summary by email, in three reads however
// many users there are (the users page lists everyone). Every user has an
// entry; one with no method has no Kinds.
func (s *Service) Overview(ctx context.Context, a Actor) (map[string]Summary, error) {
	if err := s.authorize(a, authz.GatewayUsers); err != nil {
		return nil, err
	}
	users, err := s.st.ListUsers(ctx)
	if err != nil {
		return nil, s.unavailable("list users", err)
	}
	ms, err := s.st.ListMFAMethods(ctx, 0)
	if err != nil {
		return nil, s.unavailable("list methods", err)
	}
	locked, err := s.st.ListLockedMFAAccounts(ctx)
	if err != nil {
		return nil, s.unavailable("list lockouts", err)
	}
	byID := make(map[int64]Summary)
	for _, m := range ms {
		sum := byID[m.UserID]
		sum.Kinds = append(sum.Kinds, m.Kind)
		byID[m.UserID] = sum
	}
	for _, acct := range locked {
		sum := byID[acct.UserID]
		sum.Locked = true
		byID[acct.UserID] = sum
	}
	out := make(map[string]Summary, len(users))
	for _, u := range users {
		out[u.Email] = byID[u.ID]
	}
	return out, nil
}

// Unlock lets a user locked out by failed attempts try again.
func (s *Service) Unlock(ctx context.Context, a Actor, email string) error {
	u, err := s.target(ctx, a, email)
	if err != nil {
		return err
	}
	if err := s.writeAhead(ctx, a, ActionUnlock, authz.GatewayUsers, map[string]any{"user": u.Email}); err != nil {
		return err
	}
	if err := s.st.UnlockMFA(ctx, u.ID); err != nil {
		return s.unavailable("unlock", err)
	}
	return nil
}

// Reset removes every second factor, backup code and trusted browser of a
// user who lost their device, and ends their sessions: they sign in again
// and enrol anew. An admin may not reset themselves (another admin must).
func (s *Service) Reset(ctx context.Context, a Actor, email string) error {
	u, err := s.target(ctx, a, email)
	if err != nil {
		return err
	}
	if a.Principal != nil && u.ID == a.Principal.UserID {
		return &Invalid{Msg: "you cannot reset your own second factors; another admin must"}
	}
	if err := s.writeAhead(ctx, a, ActionReset, authz.GatewayUsers, map[string]any{"user": u.Email}); err != nil {
		return err
	}
	if err := s.st.ResetUserMFA(ctx, u.ID); err != nil {
		return s.unavailable("reset", err)
	}
	if _, err := s.st.RevokeUserSessions(ctx, u.ID, s.now()); err != nil {
		return s.unavailable("end sessions", err)
	}
	s.changed()
	by := ""
	if a.Principal != nil {
		by = a.Principal.Email
	}
	s.tell(ctx, "mfa.method_removed", u.Email, [2]string{"Method", "all (reset by an admin)"}, [2]string{"Removed by", by})
	return nil
}
