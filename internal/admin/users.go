package admin

import (
	"context"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// UserView is a user as shown to administrators.
type UserView = apitypes.User

func view(u *store.User) UserView {
	v := UserView{Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled,
		CreatedAt: ts(u.CreatedAt), LastLoginAt: ts(u.LastLoginAt)}
	return v
}

// ListUsers lists every user.
func (s *Service) ListUsers(ctx context.Context, a Actor) ([]UserView, error) {
	if err := s.authorize(ctx, a, authz.GatewayUsers, "user.list"); err != nil {
		return nil, err
	}
	s.recordRead(a, "user.list", authz.GatewayUsers)
	us, err := s.Store.ListUsers(ctx)
	if err != nil {
		return nil, storeErr(err, "users")
	}
	out := make([]UserView, 0, len(us))
	for i := range us {
		v := view(&us[i])
		bindings, err := s.Store.ListRoleBindings(ctx, us[i].ID)
		if err != nil {
			return nil, storeErr(err, "role bindings")
		}
		for _, b := range bindings {
			if v.RackRoles == nil {
				v.RackRoles = make(map[string]string, len(bindings))
			}
			v.RackRoles[b.Rack] = b.Role
		}
		out = append(out, v)
	}
	return out, nil
}

// CreateUser adds a user with a role.
func (s *Service) CreateUser(ctx context.Context, a Actor, email, name, role string) (*UserView, error) {
	if err := s.authorize(ctx, a, authz.GatewayUsers, "user.create"); err != nil {
		return nil, err
	}
	email, err := normalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := authz.ValidRole(role); err != nil {
		return nil, invalid("%v", err)
	}
	name = strings.TrimSpace(name)
	if len(name) > 200 {
		return nil, invalid("name is too long")
	}
	ev := s.event(a, "user.create", authz.GatewayUsers)
	ev.Resource = email
	ch, err := s.writeAhead(ctx, ev, map[string]any{"after": map[string]any{"email": email, "name": name, "role": role}})
	if err != nil {
		return nil, err
	}
	u := &store.User{Email: email, Name: name, Role: role}
	if err := ch.finish(storeErr(s.Store.CreateUser(ctx, u), "user "+email)); err != nil {
		return nil, err
	}
	v := view(u)
	return &v, nil
}

// UserChange is a partial update; nil fields are left alone.
type UserChange = apitypes.UserChange

// UpdateUser changes a user's role, name or status. Changing one's own role
// or disabling oneself is refused so an admin cannot lock everyone out.
func (s *Service) UpdateUser(ctx context.Context, a Actor, email string, ch UserChange) (*UserView, error) {
	if err := s.authorize(ctx, a, authz.GatewayUsers, "user.update"); err != nil {
		return nil, err
	}
	email, err := normalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if ch.Role == nil && ch.Disabled == nil && ch.Name == nil {
		return nil, invalid("nothing to change: give role, disabled or name")
	}
	if ch.Role != nil {
		if err := authz.ValidRole(*ch.Role); err != nil {
			return nil, invalid("%v", err)
		}
	}
	u, err := s.Store.GetUserByEmail(ctx, email)
	if err != nil {
		return nil, storeErr(err, "user "+email)
	}
	if a.Principal != nil && a.Principal.UserID == u.ID && (ch.Role != nil && *ch.Role != u.Role || ch.Disabled != nil && *ch.Disabled) {
		return nil, invalid("you cannot change your own role or disable yourself; ask another admin")
	}
	before := view(u)
	if ch.Role != nil {
		u.Role = *ch.Role
	}
	if ch.Disabled != nil {
		u.Disabled = *ch.Disabled
	}
	if ch.Name != nil {
		u.Name = strings.TrimSpace(*ch.Name)
	}
	after := view(u)
	ev := s.event(a, "user.update", authz.GatewayUsers)
	ev.Resource = email
	change, err := s.writeAhead(ctx, ev, map[string]any{"before": before, "after": after})
	if err != nil {
		return nil, err
	}
	if err := change.finish(storeErr(s.Store.UpdateUser(ctx, u), "user "+email)); err != nil {
		return nil, err
	}
	if before.Role != after.Role || after.Disabled && !before.Disabled {
		// A role change or disabling ends the user's login sessions: they
		// log in again and get a session that reflects the change.
		s.revokeAllSessions(ctx, a, u.ID, email, "role or status changed")
	}
	s.changed()
	if before.Role != after.Role {
		s.tell(ctx, "user.role_changed", email, [2]string{"Role", before.Role + " → " + after.Role}, [2]string{"Changed by", actorName(a)})
	}
	return &after, nil
}

// SetRackRole binds a user to a role on one rack ("" removes the binding).
func (s *Service) SetRackRole(ctx context.Context, a Actor, email, rack, role string) error {
	if err := s.authorize(ctx, a, authz.GatewayUsers, "user.rack-role"); err != nil {
		return err
	}
	email, err := normalizeEmail(email)
	if err != nil {
		return err
	}
	if role != "" {
		if err := authz.ValidRole(role); err != nil {
			return invalid("%v", err)
		}
	}
	u, err := s.Store.GetUserByEmail(ctx, email)
	if err != nil {
		return storeErr(err, "user "+email)
	}
	bindings, err := s.Store.ListRoleBindings(ctx, u.ID)
	if err != nil {
		return storeErr(err, "role bindings")
	}
	before := ""
	for _, b := range bindings {
		if b.Rack == rack {
			before = b.Role
		}
	}
	ev := s.event(a, "user.rack-role", authz.GatewayUsers)
	ev.Resource, ev.Rack = email, rack
	ch, err := s.writeAhead(ctx, ev, map[string]any{"rack": rack, "role": role,
		"before": map[string]any{"role": before}, "after": map[string]any{"role": role}})
	if err != nil {
		return err
	}
	if err := ch.finish(storeErr(s.Store.SetRoleBinding(ctx, store.RoleBinding{UserID: u.ID, Rack: rack, Role: role}), "role binding")); err != nil {
		return err
	}
	if before != role {
		s.revokeAllSessions(ctx, a, u.ID, email, "rack role changed")
		s.tell(ctx, "user.role_changed", email, [2]string{"Rack", rack}, [2]string{"Role", orNone(before) + " → " + orNone(role)},
			[2]string{"Changed by", actorName(a)})
	}
	s.changed()
	return nil
}

func orNone(role string) string {
	if role == "" {
		return "(none)"
	}
	return role
}
