// Package store is the gateway's persistence layer: users, per-rack role
// bindings, API tokens, audit events and settings. One interface, two
// backends (SQLite via modernc.org/sqlite, the default; PostgreSQL via pgx),
// each with versioned migrations and the same conformance suite.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// Errors returned by every backend. Callers test them with errors.Is.
var (
	// ErrNotFound means the requested row does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique constraint (e.g. a user's email) was violated.
	ErrConflict = errors.New("store: conflict")
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

// RoleBinding binds a user to a role on one named rack, overriding the
// user's global role there.
type RoleBinding struct {
	UserID int64
	Rack   string
	Role   string
}

// APIToken is a bearer credential for CI and scripts. Only the SHA-256 hash
// of the secret is stored; the secret is shown once at creation.
type APIToken struct {
	ID          int64
	Name        string
	Prefix      string // first characters of the token, safe to display
	Hash        []byte // SHA-256 of the whole token, unique
	UserID      int64  // the owner (creator); the token never exceeds the owner's rights
	Permissions []string
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero = never
	LastUsedAt  time.Time // zero = never
	RevokedAt   time.Time // zero = active
}

// Session is a logged-in person: a web session (cookie) or a CLI session
// (the password in RACK_URL). Only the SHA-256 of the token is stored.
type Session struct {
	ID         int64
	Hash       []byte // SHA-256 of the session token, unique
	UserID     int64
	Kind       string // "web" or "cli"
	Name       string // CLI: the name the user gave the gateway; web: ""
	UserAgent  string
	SourceIP   string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute end of life
	RevokedAt  time.Time // zero = active
}

// LoginRequest is one login in progress: the browser flow's OIDC state,
// bound to the browser by a cookie, and for a CLI login the PKCE challenge
// the CLI must answer to claim the session. Looked up by the SHA-256 of its
// random id; single use.
type LoginRequest struct {
	IDHash       []byte
	BrowserHash  []byte // SHA-256 of the login cookie set in the browser
	Nonce        string
	Verifier     string // the gateway's own PKCE verifier towards the IdP
	ReturnTo     string
	CLIChallenge string // S256 challenge from the CLI; "" for a web login
	CLIName      string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UserID       int64     // set when the browser completes the login
	CompletedAt  time.Time // zero until then
	ConsumedAt   time.Time // when the state (web) or the CLI claim used it
}

// Checkpoint is a signed statement of the audit chain's head (package
// audit/checkpoint makes and checks them). The store keeps them in order and
// records when each reached the WORM anchor store.
type Checkpoint struct {
	Seq        int64  // the last event it covers
	Statement  string // the signed text, which names Seq and the head hash
	Signature  []byte // Ed25519 over Statement
	CreatedAt  time.Time
	AnchoredAt time.Time // zero until anchored
}

// AuditFilter selects audit events. Zero fields do not filter.
type AuditFilter struct {
	Actor    string
	App      string
	Action   string
	Decision string
	Rack     string
	Since    time.Time
	Until    time.Time
	BeforeID int64 // for paging: events with ID < BeforeID
	Limit    int   // default 100, newest first
}

// Store is implemented by the SQLite and PostgreSQL backends. All methods are
// safe for concurrent use. The storetest package checks this contract:
//
//   - Times are stored in UTC with microsecond precision (NormalizeTime) and
//     read back in UTC; a zero time.Time is stored as NULL and reads back as
//     zero. Create and update methods normalize the times in the struct
//     they are given to what was stored.
//   - Emails are trimmed and lower-cased (NormalizeEmail) on create and
//     lookup; a taken email or token hash is ErrConflict.
//   - A missing row (Get*, UpdateUser, RevokeToken) is ErrNotFound, and so
//     is a reference to a missing user (SetRoleBinding, CreateToken).
//   - UpdateUser changes Name, Role, Disabled and LastLoginAt only.
//   - APIToken.UserID 0 means no owner. Permissions read back as a non-nil
//     slice. RevokeToken with a zero time revokes now; revoking again keeps
//     the first time. TouchTokens never moves a last-used time backwards
//     and ignores unknown ids.
//   - AppendAudit sets a zero Time to now and assigns IDs only after the
//     batch has committed; IDs increase in commit order. ListAudit returns
//     the newest (highest ID) first, at most AuditLimit(f.Limit) events.
//   - AppendAudit also links the events into the hash chain (package
//     audit/chain): it sets Seq to the next gapless sequence numbers and
//     Hash, reading the head inside the same serialized transaction, so
//     several processes appending to one database form one chain.
//   - The audit tables are append-only: the backends refuse UPDATE and
//     DELETE with triggers; only PruneAudit removes events.
//   - List methods return empty, not nil, slices; Close may be called more
//     than once.
type Store interface {
	// Migrate applies pending versioned migrations.
	Migrate(ctx context.Context) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error

	CreateUser(ctx context.Context, u *User) error // sets ID, CreatedAt, UpdatedAt
	GetUser(ctx context.Context, id int64) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	ListUsers(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, u *User) error // name, role, disabled, last login

	SetRoleBinding(ctx context.Context, b RoleBinding) error // upsert; empty Role deletes
	ListRoleBindings(ctx context.Context, userID int64) ([]RoleBinding, error)

	CreateToken(ctx context.Context, t *APIToken) error // sets ID, CreatedAt
	GetTokenByHash(ctx context.Context, hash []byte) (*APIToken, error)
	GetToken(ctx context.Context, id int64) (*APIToken, error)
	ListTokens(ctx context.Context, userID int64) ([]APIToken, error) // userID 0 = all
	RevokeToken(ctx context.Context, id int64, at time.Time) error
	// TouchTokens records last-used times in one batch.
	TouchTokens(ctx context.Context, used map[int64]time.Time) error

	// AppendAudit durably inserts events in order and sets their IDs.
	AppendAudit(ctx context.Context, events []*chain.Event) error
	ListAudit(ctx context.Context, f AuditFilter) ([]chain.Event, error)
	// AuditHead returns the newest chained event's Seq and Hash; 0 and nil
	// for an empty chain.
	AuditHead(ctx context.Context) (seq int64, hash []byte, err error)
	// ScanAudit calls fn for every chained event with Seq >= fromSeq, in
	// storage (ID) order, which is the order they were appended. The event
	// passed to fn is reused; fn must copy what it keeps.
	ScanAudit(ctx context.Context, fromSeq int64, fn func(*chain.Event) error) error
	// AddCheckpoint makes the next checkpoint, serialized with appends and
	// other AddCheckpoint calls in every process: it calls make with the
	// newest checkpoint (nil if none) and the chain head, and stores what
	// make returns. make returns nil to store nothing (e.g. no new events).
	AddCheckpoint(ctx context.Context, make func(prev *Checkpoint, headSeq int64, headHash []byte) (*Checkpoint, error)) (*Checkpoint, error)
	// ListCheckpoints returns checkpoints with Seq >= fromSeq, oldest first.
	ListCheckpoints(ctx context.Context, fromSeq int64) ([]Checkpoint, error)
	// MarkAnchored records that the checkpoint at seq is anchored; once.
	MarkAnchored(ctx context.Context, seq int64, at time.Time) error
	// PruneAudit deletes chained events with Seq <= throughSeq and older
	// checkpoints, keeping the checkpoint at throughSeq, which must exist
	// and be anchored. It returns the number of events deleted.
	PruneAudit(ctx context.Context, throughSeq int64) (int64, error)

	CreateSession(ctx context.Context, s *Session) error // sets ID, CreatedAt, LastSeenAt
	GetSessionByHash(ctx context.Context, hash []byte) (*Session, error)
	ListSessions(ctx context.Context, userID int64) ([]Session, error) // userID 0 = all, newest first
	// TouchSessions records last-seen times in one batch (never backwards).
	TouchSessions(ctx context.Context, seen map[int64]time.Time) error
	// RevokeSession revokes one session (keeping the first revocation time).
	RevokeSession(ctx context.Context, id int64, at time.Time) error
	// RevokeUserSessions revokes every active session of a user and returns
	// how many.
	RevokeUserSessions(ctx context.Context, userID int64, at time.Time) (int64, error)

	CreateLoginRequest(ctx context.Context, r *LoginRequest) error
	GetLoginRequest(ctx context.Context, idHash []byte) (*LoginRequest, error)
	// CompleteLoginRequest records the user once; ErrConflict if it was
	// already completed or consumed.
	CompleteLoginRequest(ctx context.Context, idHash []byte, userID int64, at time.Time) error
	// ConsumeLoginRequest marks it used, once; ErrConflict if it already
	// was, ErrNotFound if absent.
	ConsumeLoginRequest(ctx context.Context, idHash []byte, at time.Time) error

	GetSetting(ctx context.Context, key string) (string, error) // ErrNotFound if unset
	SetSetting(ctx context.Context, key, value string) error
}
