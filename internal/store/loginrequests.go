package store

import (
	"context"
	"time"
)

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
	// SecondFactor is what the browser step proved (a CLI login), carried
	// to the session the claim creates; zero if none.
	SecondFactor SecondFactor
}

// SecondFactor is a proof of a second factor: its method and when.
type SecondFactor struct {
	Method string
	At     time.Time
}

// LoginRequests stores logins in progress. Times given as at mean now when
// zero, so a request can never be completed or consumed "at no time".
type LoginRequests interface {
	// CreateLoginRequest stores r and sets its CreatedAt (now). It also
	// deletes requests that expired more than an hour ago. A taken IDHash
	// is ErrConflict.
	CreateLoginRequest(ctx context.Context, r *LoginRequest) error
	GetLoginRequest(ctx context.Context, idHash []byte) (*LoginRequest, error)
	// CompleteLoginRequest records the user, and the second factor the
	// browser proved (zero: none), once; ErrConflict if it was already
	// completed or consumed, ErrNotFound if absent.
	CompleteLoginRequest(ctx context.Context, idHash []byte, userID int64, mfa SecondFactor, at time.Time) error
	// ConsumeLoginRequest marks it used, once; ErrConflict if it already
	// was, ErrNotFound if absent.
	ConsumeLoginRequest(ctx context.Context, idHash []byte, at time.Time) error
}
