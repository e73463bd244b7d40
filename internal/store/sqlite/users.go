package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectUser = `SELECT id, email, name, role, disabled, created_at, updated_at, last_login_at FROM users`

func scanUser(sc scanner) (store.User, error) {
	var (
		u                    store.User
		created, updated, ll sql.NullInt64
	)
	err := sc.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Disabled, &created, &updated, &ll)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = decTime(created), decTime(updated), decTime(ll)
	return u, err
}

// CreateUser inserts u with its email normalized (store.NormalizeEmail) and
// sets u.ID, u.Email, u.CreatedAt and u.UpdatedAt. A taken email is
// store.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	email := store.NormalizeEmail(u.Email)
	if email == "" {
		return errors.New("sqlite: create user: email is empty")
	}
	now := store.Now()
	lastLogin := store.NormalizeTime(u.LastLoginAt)
	var id int64
	err := s.write.QueryRowContext(ctx, `INSERT INTO users
		(email, name, role, disabled, created_at, updated_at, last_login_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		email, u.Name, u.Role, encBool(u.Disabled), encTime(now), encTime(now), encTime(lastLogin),
	).Scan(&id)
	if err != nil {
		return wrap("create user", err)
	}
	u.ID, u.Email, u.CreatedAt, u.UpdatedAt, u.LastLoginAt = id, email, now, now, lastLogin
	return nil
}

// GetUser returns the user with the given id, or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id int64) (*store.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, selectUser+` WHERE id = ?`, id))
	if err != nil {
		return nil, wrap(fmt.Sprintf("get user %d", id), err)
	}
	return &u, nil
}

// GetUserByEmail returns the user with the given email, compared after
// normalization, or store.ErrNotFound.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, selectUser+` WHERE email = ?`, store.NormalizeEmail(email)))
	if err != nil {
		return nil, wrap("get user by email", err)
	}
	return &u, nil
}

// ListUsers returns all users ordered by id.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.read.QueryContext(ctx, selectUser+` ORDER BY id`)
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

// UpdateUser stores u's Name, Role, Disabled and LastLoginAt, sets
// u.UpdatedAt and refreshes u.Email and u.CreatedAt from the row. The email
// cannot be changed. A missing user is store.ErrNotFound.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	now := store.Now()
	lastLogin := store.NormalizeTime(u.LastLoginAt)
	var (
		email   string
		created sql.NullInt64
	)
	err := s.write.QueryRowContext(ctx, `UPDATE users
		SET name = ?, role = ?, disabled = ?, last_login_at = ?, updated_at = ?
		WHERE id = ? RETURNING email, created_at`,
		u.Name, u.Role, encBool(u.Disabled), encTime(lastLogin), encTime(now), u.ID,
	).Scan(&email, &created)
	if err != nil {
		return wrap(fmt.Sprintf("update user %d", u.ID), err)
	}
	u.Email, u.CreatedAt, u.UpdatedAt, u.LastLoginAt = email, decTime(created), now, lastLogin
	return nil
}
