package sqlstore

import (
	"context"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectSession = `SELECT id, hash, user_id, kind, name, user_agent, source_ip,
	created_at, last_seen_at, expires_at, revoked_at, mfa_method, mfa_at FROM sessions`

func (s *Store) scanSession(sc scanner) (store.Session, error) {
	var ss store.Session
	err := sc.Scan(&ss.ID, &ss.Hash, &ss.UserID, &ss.Kind, &ss.Name, &ss.UserAgent, &ss.SourceIP,
		s.td(&ss.CreatedAt), s.td(&ss.LastSeenAt), s.td(&ss.ExpiresAt), s.td(&ss.RevokedAt),
		&ss.MFAMethod, s.td(&ss.MFAAt))
	return ss, err
}

// CreateSession implements store.Sessions.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	if len(ss.Hash) == 0 || ss.ExpiresAt.IsZero() {
		return s.errorf("create session: hash and expiry are required")
	}
	now := s.now()
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = now, now, store.NormalizeTime(ss.ExpiresAt)
	ss.MFAAt = store.NormalizeTime(ss.MFAAt)
	err := s.write.QueryRowContext(ctx, s.q(`INSERT INTO sessions (hash, user_id, kind, name, user_agent, source_ip,
		created_at, last_seen_at, expires_at, mfa_method, mfa_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		ss.Hash, ss.UserID, ss.Kind, ss.Name, ss.UserAgent, ss.SourceIP, s.t(now), s.t(now), s.t(ss.ExpiresAt),
		ss.MFAMethod, s.t(ss.MFAAt),
	).Scan(&ss.ID)
	return s.wrap("create session", err)
}

// GetSessionByHash implements store.Sessions.
func (s *Store) GetSessionByHash(ctx context.Context, hash []byte) (*store.Session, error) {
	ss, err := s.scanSession(s.read.QueryRowContext(ctx, s.q(selectSession+` WHERE hash = ?`), hash))
	if err != nil {
		return nil, s.wrap("get session", err)
	}
	return &ss, nil
}

// ListSessions implements store.Sessions.
func (s *Store) ListSessions(ctx context.Context, userID int64) ([]store.Session, error) {
	q, args := selectSession+` ORDER BY id DESC`, []any(nil)
	if userID != 0 {
		q, args = selectSession+` WHERE user_id = ? ORDER BY id DESC`, []any{userID}
	}
	out, err := list(ctx, s, s.read, q, args, s.scanSession)
	return out, s.wrap("list sessions", err)
}

// TouchSessions implements store.Sessions.
func (s *Store) TouchSessions(ctx context.Context, seen map[int64]time.Time) error {
	return s.wrap("touch sessions", s.touch(ctx, seen,
		`UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?`))
}

// RevokeSession implements store.Sessions.
func (s *Store) RevokeSession(ctx context.Context, id int64, at time.Time) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`),
		s.t(s.orNow(at)), id)
	return s.wrap("revoke session", mustAffect(res, err))
}

// RevokeUserSessions implements store.Sessions.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, at time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`),
		s.t(s.orNow(at)), userID)
	if err != nil {
		return 0, s.wrap("revoke user sessions", err)
	}
	n, err := res.RowsAffected()
	return n, s.wrap("revoke user sessions", err)
}

// SetSessionMFA implements store.MFA.
func (s *Store) SetSessionMFA(ctx context.Context, sessionID int64, method string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE sessions SET mfa_method = ?, mfa_at = ? WHERE id = ?`),
		method, s.t(s.orNow(at)), sessionID)
	return s.wrap("set session mfa", mustAffect(res, err))
}
