package sqlstore

import (
	"context"
	"fmt"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectUser = `SELECT id, email, name, role, disabled, created_at, updated_at, last_login_at FROM users`

func (s *Store) scanUser(sc scanner) (store.User, error) {
	var u store.User
	err := sc.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Disabled,
		s.td(&u.CreatedAt), s.td(&u.UpdatedAt), s.td(&u.LastLoginAt))
	return u, err
}

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	email := store.NormalizeEmail(u.Email)
	if email == "" {
		return s.errorf("create user: email is empty")
	}
	now := s.now()
	lastLogin := store.NormalizeTime(u.LastLoginAt)
	var id int64
	err := s.write.QueryRowContext(ctx, s.q(`INSERT INTO users
		(email, name, role, disabled, created_at, updated_at, last_login_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		email, u.Name, u.Role, s.d.EncodeBool(u.Disabled), s.t(now), s.t(now), s.t(lastLogin),
	).Scan(&id)
	if err != nil {
		return s.wrap("create user", err)
	}
	u.ID, u.Email, u.CreatedAt, u.UpdatedAt, u.LastLoginAt = id, email, now, now, lastLogin
	return nil
}

// GetUser implements store.Users.
func (s *Store) GetUser(ctx context.Context, id int64) (*store.User, error) {
	u, err := s.scanUser(s.read.QueryRowContext(ctx, s.q(selectUser+` WHERE id = ?`), id))
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("get user %d", id), err)
	}
	return &u, nil
}

// GetUserByEmail implements store.Users.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	u, err := s.scanUser(s.read.QueryRowContext(ctx, s.q(selectUser+` WHERE email = ?`), store.NormalizeEmail(email)))
	if err != nil {
		return nil, s.wrap("get user by email", err)
	}
	return &u, nil
}

// ListUsers implements store.Users.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	users, err := list(ctx, s, s.read, selectUser+` ORDER BY id`, nil, s.scanUser)
	return users, s.wrap("list users", err)
}

// UpdateUser implements store.Users.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	now := s.now()
	lastLogin := store.NormalizeTime(u.LastLoginAt)
	var (
		email   string
		created = u.CreatedAt
	)
	err := s.write.QueryRowContext(ctx, s.q(`UPDATE users
		SET name = ?, role = ?, disabled = ?, last_login_at = ?, updated_at = ?
		WHERE id = ? RETURNING email, created_at`),
		u.Name, u.Role, s.d.EncodeBool(u.Disabled), s.t(lastLogin), s.t(now), u.ID,
	).Scan(&email, s.td(&created))
	if err != nil {
		return s.wrap(fmt.Sprintf("update user %d", u.ID), err)
	}
	u.Email, u.CreatedAt, u.UpdatedAt, u.LastLoginAt = email, created, now, lastLogin
	return nil
}
