package store

import "context"

// RoleBinding binds a user to a role on one named rack, overriding the
// user's global role there.
type RoleBinding struct {
	UserID int64
	Rack   string
	Role   string
}

// RoleBindings stores per-rack role overrides.
type RoleBindings interface {
	// SetRoleBinding creates or replaces the binding of b.UserID on b.Rack,
	// or deletes it when b.Role is empty (deleting a missing binding is not
	// an error). An empty Rack is an error; a missing user is ErrNotFound.
	SetRoleBinding(ctx context.Context, b RoleBinding) error
	// ListRoleBindings returns the user's bindings ordered by rack (empty
	// for an unknown user).
	ListRoleBindings(ctx context.Context, userID int64) ([]RoleBinding, error)
}
