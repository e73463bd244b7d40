package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectSession = `SELECT id, hash, user_id, kind, name, user_agent, source_ip,
	created_at, last_seen_at, expires_at, revoked_at FROM sessions`

func scanSession(row pgx.Row) (store.Session, error) {
	var (
		s                         store.Session
		created, seen, exp, revkd pgtype.Timestamptz
	)
	err := row.Scan(&s.ID, &s.Hash, &s.UserID, &s.Kind, &s.Name, &s.UserAgent, &s.SourceIP, &created, &seen, &exp, &revkd)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.RevokedAt = decTime(created), decTime(seen), decTime(exp), decTime(revkd)
	return s, err
}

// CreateSession inserts s and sets its ID, CreatedAt and LastSeenAt.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	if len(ss.Hash) == 0 || ss.ExpiresAt.IsZero() {
		return errors.New("postgres: create session: hash and expiry are required")
	}
	now := store.Now()
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = now, now, store.NormalizeTime(ss.ExpiresAt)
	err := s.pool.QueryRow(ctx, `INSERT INTO sessions (hash, user_id, kind, name, user_agent, source_ip,
		created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING id`,
		ss.Hash, ss.UserID, ss.Kind, ss.Name, ss.UserAgent, ss.SourceIP, now, ss.ExpiresAt).Scan(&ss.ID)
	return wrap("create session", err)
}

// GetSessionByHash returns the session with this token hash.
func (s *Store) GetSessionByHash(ctx context.Context, hash []byte) (*store.Session, error) {
	ss, err := scanSession(s.pool.QueryRow(ctx, selectSession+` WHERE hash = $1`, hash))
	if err != nil {
		return nil, wrap("get session", err)
	}
	return &ss, nil
}

// ListSessions lists a user's sessions (0: everyone's), newest first.
func (s *Store) ListSessions(ctx context.Context, userID int64) ([]store.Session, error) {
	rows, err := s.pool.Query(ctx, selectSession+` WHERE $1 = 0 OR user_id = $1 ORDER BY id DESC`, userID)
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	return nonNil(out), nil
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
	times := make([]time.Time, len(ids))
	for i, id := range ids {
		times[i] = store.NormalizeTime(seen[id])
	}
	_, err := s.pool.Exec(ctx, `UPDATE sessions AS t SET last_seen_at = u.at
		FROM unnest($1::bigint[], $2::timestamptz[]) AS u (id, at)
		WHERE t.id = u.id AND t.last_seen_at < u.at`, ids, times)
	return wrap("touch sessions", err)
}

// RevokeSession revokes one session; revoking again keeps the first time.
func (s *Store) RevokeSession(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = store.Now()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, store.NormalizeTime(at), id)
	if err != nil {
		return wrap("revoke session", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("revoke session", pgx.ErrNoRows)
	}
	return nil
}

// RevokeUserSessions revokes every active session of a user.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, at time.Time) (int64, error) {
	if at.IsZero() {
		at = store.Now()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`, store.NormalizeTime(at), userID)
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	return tag.RowsAffected(), nil
}

// CreateLoginRequest stores a login in progress and drops expired ones.
func (s *Store) CreateLoginRequest(ctx context.Context, r *store.LoginRequest) error {
	now := store.Now()
	r.CreatedAt, r.ExpiresAt = now, store.NormalizeTime(r.ExpiresAt)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM login_requests WHERE expires_at < $1`, now.Add(-time.Hour)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO login_requests (id_hash, browser_hash, nonce, verifier, return_to,
			cli_challenge, cli_name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.IDHash, r.BrowserHash, r.Nonce, r.Verifier, r.ReturnTo, r.CLIChallenge, r.CLIName, now, r.ExpiresAt)
		return err
	})
	return wrap("create login request", err)
}

// GetLoginRequest returns the login request with this id hash.
func (s *Store) GetLoginRequest(ctx context.Context, idHash []byte) (*store.LoginRequest, error) {
	var (
		r                            store.LoginRequest
		created, exp, done, consumed pgtype.Timestamptz
		user                         pgtype.Int8
	)
	err := s.pool.QueryRow(ctx, `SELECT id_hash, browser_hash, nonce, verifier, return_to, cli_challenge, cli_name,
		created_at, expires_at, user_id, completed_at, consumed_at FROM login_requests WHERE id_hash = $1`, idHash).Scan(
		&r.IDHash, &r.BrowserHash, &r.Nonce, &r.Verifier, &r.ReturnTo, &r.CLIChallenge, &r.CLIName,
		&created, &exp, &user, &done, &consumed)
	if err != nil {
		return nil, wrap("get login request", err)
	}
	r.CreatedAt, r.ExpiresAt, r.UserID = decTime(created), decTime(exp), user.Int64
	r.CompletedAt, r.ConsumedAt = decTime(done), decTime(consumed)
	return &r, nil
}

// CompleteLoginRequest records who logged in, once.
func (s *Store) CompleteLoginRequest(ctx context.Context, idHash []byte, userID int64, at time.Time) error {
	return s.onceLogin(ctx, "complete login request", idHash, `UPDATE login_requests SET user_id = $1, completed_at = $2
		WHERE id_hash = $3 AND completed_at IS NULL AND consumed_at IS NULL`, userID, store.NormalizeTime(at), idHash)
}

// ConsumeLoginRequest marks the request used, once.
func (s *Store) ConsumeLoginRequest(ctx context.Context, idHash []byte, at time.Time) error {
	return s.onceLogin(ctx, "consume login request", idHash, `UPDATE login_requests SET consumed_at = $1
		WHERE id_hash = $2 AND consumed_at IS NULL`, store.NormalizeTime(at), idHash)
}

func (s *Store) onceLogin(ctx context.Context, op string, idHash []byte, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM login_requests WHERE id_hash = $1`, idHash).Scan(&one); err != nil {
		return wrap(op, err)
	}
	return wrap(op, store.ErrConflict)
}
