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

// CreateUser inserts u with its email normalized (store.NormalizeEmail) and
// sets u.ID, u.Email, u.CreatedAt and u.UpdatedAt. A taken email is
// store.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	email := store.NormalizeEmail(u.Email)
	if email == "" {
		return errors.New("postgres: create user: email is empty")
	}
	now := store.Now()
	lastLogin := store.NormalizeTime(u.LastLoginAt)
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO users
		(email, name, role, disabled, created_at, updated_at, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id`,
		email, u.Name, u.Role, u.Disabled, now, encTime(lastLogin),
	).Scan(&id)
	if err != nil {
		return wrap("create user", err)
	}
	u.ID, u.Email, u.CreatedAt, u.UpdatedAt, u.LastLoginAt = id, email, now, now, lastLogin
	return nil
}

// GetUser returns the user with the given id, or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id int64) (*store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, selectUser+` WHERE id = $1`, id))
	if err != nil {
		return nil, wrap(fmt.Sprintf("get user %d", id), err)
	}
	return &u, nil
}

// GetUserByEmail returns the user with the given email, compared after
// normalization, or store.ErrNotFound.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, selectUser+` WHERE email = $1`, store.NormalizeEmail(email)))
	if err != nil {
		return nil, wrap("get user by email", err)
	}
	return &u, nil
}

// ListUsers returns all users ordered by id.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, selectUser+` ORDER BY id`)
	if err != nil {
		return nil, wrap("list users", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.User, error) { return scanUser(r) })
	if err != nil {
		return nil, wrap("list users", err)
	}
	return nonNil(users), nil
}

// UpdateUser stores u's Name, Role, Disabled and LastLoginAt, sets
// u.UpdatedAt and refreshes u.Email and u.CreatedAt from the row. The email
// cannot be changed. A missing user is store.ErrNotFound.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	now := store.Now()
	lastLogin := store.NormalizeTime(u.LastLoginAt)
	var (
		email   string
		created pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, `UPDATE users
		SET name = $1, role = $2, disabled = $3, last_login_at = $4, updated_at = $5
		WHERE id = $6 RETURNING email, created_at`,
		u.Name, u.Role, u.Disabled, encTime(lastLogin), now, u.ID,
	).Scan(&email, &created)
	if err != nil {
		return wrap(fmt.Sprintf("update user %d", u.ID), err)
	}
	u.Email, u.CreatedAt, u.UpdatedAt, u.LastLoginAt = email, decTime(created), now, lastLogin
	return nil
}

// nonNil returns s, or an empty slice if s is nil, so that lists are never
// nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
