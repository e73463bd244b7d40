package store

import (
	"context"
	"time"
)

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
	// CreatedBy is the person who minted the token, when not its owner's
	// own doing through the CLI bootstrap (0: the system, or unknown for
	// tokens made before it was recorded). They saw the secret once.
	CreatedBy int64
}

// Tokens stores API tokens. UserID 0 means no owner; a missing owner is
// ErrNotFound and a taken hash ErrConflict. Permissions read back as a
// non-nil slice, in the order given. Lookups do not check expiry or
// revocation; that is the caller's policy.
type Tokens interface {
	// CreateToken inserts t and sets its ID and CreatedAt (now); its other
	// times are normalized to what was stored. An empty Hash is an error.
	CreateToken(ctx context.Context, t *APIToken) error
	GetTokenByHash(ctx context.Context, hash []byte) (*APIToken, error)
	GetToken(ctx context.Context, id int64) (*APIToken, error)
	// ListTokens returns the tokens owned by userID (0 = all), by ID.
	ListTokens(ctx context.Context, userID int64) ([]APIToken, error)
	// RevokeToken revokes the token at at (a zero time means now);
	// revoking again keeps the first time. A missing token is ErrNotFound.
	RevokeToken(ctx context.Context, id int64, at time.Time) error
	// TouchTokens records last-used times in one batch. A time never moves
	// backwards; unknown ids and zero times are ignored.
	TouchTokens(ctx context.Context, used map[int64]time.Time) error
}
