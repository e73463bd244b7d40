package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// SetRoleBinding creates or replaces the binding of b.UserID on b.Rack, or
// deletes it when b.Role is empty (deleting a missing binding is not an
// error). Binding a user that does not exist is store.ErrNotFound.
func (s *Store) SetRoleBinding(ctx context.Context, b store.RoleBinding) error {
	if b.Rack == "" {
		return errors.New("sqlite: set role binding: rack is empty")
	}
	op := fmt.Sprintf("set role binding %d/%s", b.UserID, b.Rack)
	if b.Role == "" {
		_, err := s.write.ExecContext(ctx, `DELETE FROM role_bindings WHERE user_id = ? AND rack = ?`, b.UserID, b.Rack)
		return wrap(op, err)
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO role_bindings (user_id, rack, role) VALUES (?, ?, ?)
		ON CONFLICT (user_id, rack) DO UPDATE SET role = excluded.role`, b.UserID, b.Rack, b.Role)
	return wrap(op, err)
}

// ListRoleBindings returns the user's bindings ordered by rack (empty, not
// an error, for an unknown user).
func (s *Store) ListRoleBindings(ctx context.Context, userID int64) ([]store.RoleBinding, error) {
	rows, err := s.read.QueryContext(ctx,
		`SELECT user_id, rack, role FROM role_bindings WHERE user_id = ? ORDER BY rack`, userID)
	if err != nil {
		return nil, wrap("list role bindings", err)
	}
	defer rows.Close()
	bs := []store.RoleBinding{}
	for rows.Next() {
		var b store.RoleBinding
		if err := rows.Scan(&b.UserID, &b.Rack, &b.Role); err != nil {
			return nil, wrap("list role bindings", err)
		}
		bs = append(bs, b)
	}
	return bs, wrap("list role bindings", rows.Err())
}
