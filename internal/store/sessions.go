package store

import (
	"context"
	"time"
)

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
	// MFAMethod and MFAAt are the second factor this session last proved
	// and when (zero: none yet). A CLI session starts with the proof of
	// the browser sign-in that created it.
	MFAMethod string
	MFAAt     time.Time
}

// Sessions stores login sessions. A taken hash is ErrConflict, a missing
// user or session ErrNotFound. Lookups do not check expiry or revocation.
type Sessions interface {
	// CreateSession inserts s and sets its ID, CreatedAt and LastSeenAt
	// (now). Hash and ExpiresAt are required; MFAMethod and MFAAt are
	// stored as given.
	CreateSession(ctx context.Context, s *Session) error
	GetSessionByHash(ctx context.Context, hash []byte) (*Session, error)
	// ListSessions lists a user's sessions (0 = everyone's), newest
	// (highest ID) first.
	ListSessions(ctx context.Context, userID int64) ([]Session, error)
	// TouchSessions records last-seen times in one batch. A time never
	// moves backwards; unknown ids and zero times are ignored.
	TouchSessions(ctx context.Context, seen map[int64]time.Time) error
	// RevokeSession revokes one session at at (a zero time means now);
	// revoking again keeps the first time.
	RevokeSession(ctx context.Context, id int64, at time.Time) error
	// RevokeUserSessions revokes every active session of a user at at (a
	// zero time means now) and returns how many.
	RevokeUserSessions(ctx context.Context, userID int64, at time.Time) (int64, error)
}
