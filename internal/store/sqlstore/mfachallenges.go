package sqlstore

import (
	"context"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const mfaChallengeColumns = `hash, session_id, purpose, state, created_at, expires_at, done_at`

func (s *Store) scanMFAChallenge(sc scanner) (*store.MFAChallenge, error) {
	var c store.MFAChallenge
	err := sc.Scan(&c.Hash, &c.SessionID, &c.Purpose, &c.State, s.td(&c.CreatedAt), s.td(&c.ExpiresAt), s.td(&c.DoneAt))
	return &c, err
}

// PutMFAChallenge implements store.MFAChallenges.
func (s *Store) PutMFAChallenge(ctx context.Context, c *store.MFAChallenge) error {
	if len(c.Hash) == 0 || c.ExpiresAt.IsZero() || c.State == nil {
		return s.errorf("put mfa challenge: hash, state and expiry are required")
	}
	now := s.now()
	c.ExpiresAt = store.NormalizeTime(c.ExpiresAt)
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO mfa_challenges (hash, session_id, purpose, state, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`), c.Hash, c.SessionID, c.Purpose, c.State, s.t(now), s.t(c.ExpiresAt))
	if err != nil {
		return s.wrap("put mfa challenge", err)
	}
	c.CreatedAt, c.DoneAt = now, time.Time{}
	return nil
}

// TakeMFAChallenge implements store.MFAChallenges. The DELETE decides: of
// two racing takes, one deletes the row and the other finds none.
func (s *Store) TakeMFAChallenge(ctx context.Context, hash []byte, sessionID int64, purpose string) (*store.MFAChallenge, error) {
	c, err := s.scanMFAChallenge(s.write.QueryRowContext(ctx, s.q(`DELETE FROM mfa_challenges
		WHERE hash = ? AND session_id = ? AND purpose = ? AND expires_at > ? RETURNING `+mfaChallengeColumns),
		hash, sessionID, purpose, s.t(s.now())))
	if err != nil {
		return nil, s.wrap("take mfa challenge", err)
	}
	return c, nil
}

// PeekMFAChallenge implements store.MFAChallenges.
func (s *Store) PeekMFAChallenge(ctx context.Context, hash []byte) (*store.MFAChallenge, error) {
	c, err := s.scanMFAChallenge(s.write.QueryRowContext(ctx, s.q(`SELECT `+mfaChallengeColumns+` FROM mfa_challenges
		WHERE hash = ? AND expires_at > ?`), hash, s.t(s.now())))
	if err != nil {
		return nil, s.wrap("peek mfa challenge", err)
	}
	return c, nil
}

// CompleteMFAChallenge implements store.MFAChallenges.
func (s *Store) CompleteMFAChallenge(ctx context.Context, hash []byte) error {
	now := s.t(s.now())
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE mfa_challenges SET done_at = ?
		WHERE hash = ? AND done_at IS NULL AND expires_at > ?`), now, hash, now)
	return s.wrap("complete mfa challenge", mustAffect(res, err))
}

// DeleteExpiredMFAChallenges implements store.MFAChallenges.
func (s *Store) DeleteExpiredMFAChallenges(ctx context.Context) (int64, error) {
	res, err := s.write.ExecContext(ctx, s.q(`DELETE FROM mfa_challenges WHERE expires_at <= ?`), s.t(s.now()))
	if err != nil {
		return 0, s.wrap("delete expired mfa challenges", err)
	}
	n, err := res.RowsAffected()
	return n, s.wrap("delete expired mfa challenges", err)
}
