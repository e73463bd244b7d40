package sqlstore

import (
	"context"
	"fmt"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// SetRoleBinding implements store.RoleBindings.
func (s *Store) SetRoleBinding(ctx context.Context, b store.RoleBinding) error {
	if b.Rack == "" {
		return s.errorf("set role binding: rack is empty")
	}
	op := fmt.Sprintf("set role binding %d/%s", b.UserID, b.Rack)
	if b.Role == "" {
		_, err := s.write.ExecContext(ctx, s.q(`DELETE FROM role_bindings WHERE user_id = ? AND rack = ?`), b.UserID, b.Rack)
		return s.wrap(op, err)
	}
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO role_bindings (user_id, rack, role) VALUES (?, ?, ?)
		ON CONFLICT (user_id, rack) DO UPDATE SET role = excluded.role`), b.UserID, b.Rack, b.Role)
	return s.wrap(op, err)
}

// ListRoleBindings implements store.RoleBindings.
func (s *Store) ListRoleBindings(ctx context.Context, userID int64) ([]store.RoleBinding, error) {
	bs, err := list(ctx, s, s.read, `SELECT user_id, rack, role FROM role_bindings WHERE user_id = ? ORDER BY rack`,
		[]any{userID}, func(sc scanner) (store.RoleBinding, error) {
			var b store.RoleBinding
			err := sc.Scan(&b.UserID, &b.Rack, &b.Role)
			return b, err
		})
	return bs, s.wrap("list role bindings", err)
}
