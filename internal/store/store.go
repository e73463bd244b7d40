// Package store is the gateway's persistence layer: users, per-rack role
// bindings, API tokens, sessions and login requests, settings, and the
// hash-chained audit log with its checkpoints.
//
// Each consumer depends on the small interface it needs (Users, Tokens,
// AuditAppender, ...); Store composes them all. One implementation over
// database/sql (package sqlstore) serves both backends, SQLite (package
// sqlite, the default) and PostgreSQL (package postgres); each backend keeps
// its own versioned migrations and what truly differs between the databases
// (its Dialect), and both pass the same conformance suite (storetest).
package store

import (
	"context"
	"errors"
	"io"
)

// Errors returned by every backend. Callers test them with errors.Is.
var (
	// ErrNotFound means the requested row does not exist, or a row
	// refers to one that does not (e.g. a token of a missing user).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique constraint (e.g. a user's email) was
	// violated, or a once-only change was already made.
	ErrConflict = errors.New("store: conflict")
)

// Store is everything a backend implements. All methods are safe for
// concurrent use. The storetest package checks this contract, which holds
// for every method of the small interfaces Store is made of:
//
//   - Times are stored in UTC with microsecond precision (NormalizeTime) and
//     read back in UTC; a zero time.Time is stored as NULL and reads back as
//     zero. Create and update methods normalize the times in the struct
//     they are given to what was stored. "Now" is the store's clock
//     (Options.Clock), never the caller's.
//   - A missing row is ErrNotFound, and so is a reference to a missing
//     user; a taken unique value (email, token or session hash, login id)
//     is ErrConflict.
//   - List methods return empty, not nil, slices.
//   - A cancelled context fails the call and leaves the store usable.
type Store interface {
	Users
	RoleBindings
	Tokens
	Sessions
	LoginRequests
	MFA
	DeployRequests
	Jobs
	Settings
	AuditAppender
	AuditReader
	AuditStats
	Checkpoints
	AuditPruner
	Migrator
	Pinger
	// Close releases the database; it may be called more than once.
	io.Closer
}

// Migrator applies a backend's schema migrations.
type Migrator interface {
	// Migrate applies pending versioned migrations, each once, even when
	// several processes migrate one database at the same time.
	Migrate(ctx context.Context) error
}

// Pinger checks the database, for readiness probes.
type Pinger interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}
