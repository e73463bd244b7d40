package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectUser = `SELECT id, email, name, role, disabled, created_at, updated_at, last_login_at FROM users`

func scanUser(row pgx.Row) (store.User, error) {
	var (
		u                    store.User
		created, updated, ll pgtype.Timestamptz
	)
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Disabled, &created, &updated, &ll)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = decTime(created), decTime(updated), decTime(ll)
	return u, err
}

// CreateUser inserts u with its email lower-cased and sets ID and times.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	email := store.NormalizeEmail(u.Email)
	if email == "" {
		return errors.New("postgres: create user: email is empty")
	}
	now := store.Now()
	lastLogin := store.NormalizeTime(u.LastLoginAt)
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO users (email, name, role, disabled, created_at, updated_at, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		email, u.Name, u.Role, u.Disabled, now, now, encTime(lastLogin)).Scan(&id)
	if err != nil {
		return wrap("create user", err)
	}
	u.ID, u.Email, u.CreatedAt, u.UpdatedAt, u.LastLoginAt = id, email, now, now, lastLogin
	return nil
}

// GetUser returns the user with the id, or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id int64) (*store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, selectUser+` WHERE id = $1`, id))
	if err != nil {
		return nil, wrap(fmt.Sprintf("get user %d", id), err)
	}
	return &u, nil
}

// GetUserByEmail looks a user up by (case-insensitive) email.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, selectUser+` WHERE email = $1`, store.NormalizeEmail(email)))
	if err != nil {
		return nil, wrap("get user by email", err)
	}
	return &u, nil
}

// ListUsers returns every user ordered by id.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, selectUser+` ORDER BY id`)
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	users := []store.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		users = append(users, u)
	}
	return users, wrap("list users", rows.Err())
}

// UpdateUser stores u's name, role, disabled flag and last login.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	now := store.Now()
	lastLogin := store.NormalizeTime(u.LastLoginAt)
	var (
		email   string
		created pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, `UPDATE users SET name = $1, role = $2, disabled = $3, last_login_at = $4, updated_at = $5
		WHERE id = $6 RETURNING email, created_at`,
		u.Name, u.Role, u.Disabled, encTime(lastLogin), now, u.ID).Scan(&email, &created)
	if err != nil {
		return wrap(fmt.Sprintf("update user %d", u.ID), err)
	}
	u.Email, u.CreatedAt, u.UpdatedAt, u.LastLoginAt = email, decTime(created), now, lastLogin
	return nil
}

// SetRoleBinding upserts a per-rack role; an empty Role deletes it.
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

// ListRoleBindings returns a user's bindings ordered by rack.
func (s *Store) ListRoleBindings(ctx context.Context, userID int64) ([]store.RoleBinding, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id, rack, role FROM role_bindings WHERE user_id = $1 ORDER BY rack`, userID)
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

// GetSetting returns the value stored under key, or store.ErrNotFound.
func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	if err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return "", wrap("get setting "+key, err)
	}
	return v, nil
}

// SetSetting stores value under key.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return wrap("set setting "+key, err)
}
