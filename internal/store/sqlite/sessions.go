package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectSession = `SELECT id, hash, user_id, kind, name, user_agent, source_ip,
	created_at, last_seen_at, expires_at, revoked_at FROM sessions`

func scanSession(sc scanner) (store.Session, error) {
	var (
		s                         store.Session
		created, seen, exp, revkd sql.NullInt64
	)
	err := sc.Scan(&s.ID, &s.Hash, &s.UserID, &s.Kind, &s.Name, &s.UserAgent, &s.SourceIP, &created, &seen, &exp, &revkd)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.RevokedAt = decTime(created), decTime(seen), decTime(exp), decTime(revkd)
	return s, err
}

// CreateSession inserts s and sets its ID, CreatedAt and LastSeenAt.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	if len(ss.Hash) == 0 || ss.ExpiresAt.IsZero() {
		return errors.New("sqlite: create session: hash and expiry are required")
	}
	now := store.Now()
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = now, now, store.NormalizeTime(ss.ExpiresAt)
	err := s.write.QueryRowContext(ctx, `INSERT INTO sessions (hash, user_id, kind, name, user_agent, source_ip,
		created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ss.Hash, ss.UserID, ss.Kind, ss.Name, ss.UserAgent, ss.SourceIP, encTime(now), encTime(now), encTime(ss.ExpiresAt)).Scan(&ss.ID)
	return wrap("create session", err)
}

// GetSessionByHash returns the session with this token hash.
func (s *Store) GetSessionByHash(ctx context.Context, hash []byte) (*store.Session, error) {
	ss, err := scanSession(s.read.QueryRowContext(ctx, selectSession+` WHERE hash = ?`, hash))
	if err != nil {
		return nil, wrap("get session", err)
	}
	return &ss, nil
}

// ListSessions lists a user's sessions (0: everyone's), newest first.
func (s *Store) ListSessions(ctx context.Context, userID int64) ([]store.Session, error) {
	q, args := selectSession+` ORDER BY id DESC`, []any{}
	if userID != 0 {
		q, args = selectSession+` WHERE user_id = ? ORDER BY id DESC`, []any{userID}
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	defer rows.Close()
	out := []store.Session{}
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, wrap("list sessions", err)
		}
		out = append(out, ss)
	}
	return out, wrap("list sessions", rows.Err())
}

// TouchSessions records last-seen times, never moving one backwards.
func (s *Store) TouchSessions(ctx context.Context, seen map[int64]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ?1 WHERE id = ?2 AND last_seen_at < ?1`,
				encTime(store.NormalizeTime(seen[id])), id); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("touch sessions", err)
}

// RevokeSession revokes one session; revoking again keeps the first time.
func (s *Store) RevokeSession(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = store.Now()
	}
	res, err := s.write.ExecContext(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, encTime(store.NormalizeTime(at)), id)
	if err != nil {
		return wrap("revoke session", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return wrap("revoke session", sql.ErrNoRows)
	}
	return nil
}

// RevokeUserSessions revokes every active session of a user.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, at time.Time) (int64, error) {
	if at.IsZero() {
		at = store.Now()
	}
	res, err := s.write.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, encTime(store.NormalizeTime(at)), userID)
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

const selectLogin = `SELECT id_hash, browser_hash, nonce, verifier, return_to, cli_challenge, cli_name,
	created_at, expires_at, user_id, completed_at, consumed_at FROM login_requests`

// CreateLoginRequest stores a login in progress and drops expired ones.
func (s *Store) CreateLoginRequest(ctx context.Context, r *store.LoginRequest) error {
	now := store.Now()
	r.CreatedAt, r.ExpiresAt = now, store.NormalizeTime(r.ExpiresAt)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_requests WHERE expires_at < ?`, encTime(now.Add(-time.Hour))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO login_requests (id_hash, browser_hash, nonce, verifier, return_to,
			cli_challenge, cli_name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.IDHash, r.BrowserHash, r.Nonce, r.Verifier, r.ReturnTo, r.CLIChallenge, r.CLIName, encTime(now), encTime(r.ExpiresAt))
		return err
	})
	return wrap("create login request", err)
}

// GetLoginRequest returns the login request with this id hash.
func (s *Store) GetLoginRequest(ctx context.Context, idHash []byte) (*store.LoginRequest, error) {
	var (
		r                                  store.LoginRequest
		created, exp, user, done, consumed sql.NullInt64
	)
	err := s.write.QueryRowContext(ctx, selectLogin+` WHERE id_hash = ?`, idHash).Scan(&r.IDHash, &r.BrowserHash, &r.Nonce,
		&r.Verifier, &r.ReturnTo, &r.CLIChallenge, &r.CLIName, &created, &exp, &user, &done, &consumed)
	if err != nil {
		return nil, wrap("get login request", err)
	}
	r.CreatedAt, r.ExpiresAt, r.UserID = decTime(created), decTime(exp), user.Int64
	r.CompletedAt, r.ConsumedAt = decTime(done), decTime(consumed)
	return &r, nil
}

// CompleteLoginRequest records who logged in, once.
func (s *Store) CompleteLoginRequest(ctx context.Context, idHash []byte, userID int64, at time.Time) error {
	return s.onceLogin(ctx, "complete login request", `UPDATE login_requests SET user_id = ?, completed_at = ?
		WHERE id_hash = ? AND completed_at IS NULL AND consumed_at IS NULL`, userID, encTime(store.NormalizeTime(at)), idHash)
}

// ConsumeLoginRequest marks the request used, once.
func (s *Store) ConsumeLoginRequest(ctx context.Context, idHash []byte, at time.Time) error {
	return s.onceLogin(ctx, "consume login request", `UPDATE login_requests SET consumed_at = ?
		WHERE id_hash = ? AND consumed_at IS NULL`, encTime(store.NormalizeTime(at)), idHash)
}

func (s *Store) onceLogin(ctx context.Context, op, q string, args ...any) error {
	res, err := s.write.ExecContext(ctx, q, args...)
	if err != nil {
		return wrap(op, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var one int
	if err := s.write.QueryRowContext(ctx, `SELECT 1 FROM login_requests WHERE id_hash = ?`, args[len(args)-1]).Scan(&one); err != nil {
		return wrap(op, err)
	}
	return wrap(op, store.ErrConflict)
}
