package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// SetRoleBinding creates or replaces the binding of b.UserID on b.Rack, or
// deletes it when b.Role is empty (deleting a missing binding is not an
// error). Binding a user that does not exist is store.ErrNotFound.
func (s *Store) SetRoleBinding(ctx context.Context, b store.RoleBinding) error {
	if b.Rack == "" {
		return errors.New("postgres: set role binding: rack is empty")
	}
	op := fmt.Sprintf("set role binding %d/%s", b.UserID, b.Rack)
	if b.Role == "" {
		_, err := s.pool.Exec(ctx, `DELETE FROM role_bindings WHERE user_id = $1 AND rack = $2`, b.UserID, b.Rack)
		return wrap(op, err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO role_bindings (user_id, rack, role) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, rack) DO UPDATE SET role = excluded.role`, b.UserID, b.Rack, b.Role)
	return wrap(op, err)
}

// ListRoleBindings returns the user's bindings ordered by rack (empty, not
// an error, for an unknown user).
func (s *Store) ListRoleBindings(ctx context.Context, userID int64) ([]store.RoleBinding, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT user_id, rack, role FROM role_bindings WHERE user_id = $1 ORDER BY rack`, userID)
	if err != nil {
		return nil, wrap("list role bindings", err)
	}
	bs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.RoleBinding, error) {
		var b store.RoleBinding
		err := r.Scan(&b.UserID, &b.Rack, &b.Role)
		return b, err
	})
	if err != nil {
		return nil, wrap("list role bindings", err)
	}
	return nonNil(bs), nil
}
