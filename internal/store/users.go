package store

import (
	"context"
	"time"
)

// User is a person known to the gateway.
type User struct {
	ID    int64
	Email string // lower-cased, unique
	Name  string
	// Role is the user's global role (viewer, ops, deployer, admin, ...).
	// RoleBindings may override it for one rack.
	Role        string
	Disabled    bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt time.Time // zero if never
}

// Users stores the people known to the gateway. Emails are trimmed and
// lower-cased (NormalizeEmail) on create and lookup; a taken email is
// ErrConflict; a missing user (Get*, UpdateUser) is ErrNotFound.
type Users interface {
	// CreateUser inserts u and sets its ID, Email (normalized), CreatedAt
	// and UpdatedAt (now). An empty email is an error.
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id int64) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// ListUsers returns every user, ordered by ID.
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser stores Name, Role, Disabled and LastLoginAt only, sets
	// UpdatedAt (now) and refreshes Email and CreatedAt from the row.
	UpdateUser(ctx context.Context, u *User) error
}
