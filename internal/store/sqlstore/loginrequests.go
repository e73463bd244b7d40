package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// loginRetention is how long after expiry a login request is kept, for
// the error a late callback gets.
const loginRetention = time.Hour

// CreateLoginRequest implements store.LoginRequests.
func (s *Store) CreateLoginRequest(ctx context.Context, r *store.LoginRequest) error {
	now := s.now()
	r.CreatedAt, r.ExpiresAt = now, store.NormalizeTime(r.ExpiresAt)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM login_requests WHERE expires_at < ?`),
			s.t(now.Add(-loginRetention))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO login_requests (id_hash, browser_hash, nonce, verifier, return_to,
			cli_challenge, cli_name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.IDHash, r.BrowserHash, r.Nonce, r.Verifier, r.ReturnTo, r.CLIChallenge, r.CLIName, s.t(now), s.t(r.ExpiresAt))
		return err
	})
	return s.wrap("create login request", err)
}

// GetLoginRequest implements store.LoginRequests. Like the once-only
// updates it reads through the write pool (with SQLite, the one write
// connection), so a login's reads queue with its writes.
func (s *Store) GetLoginRequest(ctx context.Context, idHash []byte) (*store.LoginRequest, error) {
	var (
		r    store.LoginRequest
		user sql.NullInt64
	)
	err := s.write.QueryRowContext(ctx, s.q(`SELECT id_hash, browser_hash, nonce, verifier, return_to, cli_challenge, cli_name,
		created_at, expires_at, user_id, completed_at, consumed_at, mfa_method, mfa_at FROM login_requests WHERE id_hash = ?`), idHash).Scan(
		&r.IDHash, &r.BrowserHash, &r.Nonce, &r.Verifier, &r.ReturnTo, &r.CLIChallenge, &r.CLIName,
		s.td(&r.CreatedAt), s.td(&r.ExpiresAt), &user, s.td(&r.CompletedAt), s.td(&r.ConsumedAt),
		&r.SecondFactor.Method, s.td(&r.SecondFactor.At))
	if err != nil {
		return nil, s.wrap("get login request", err)
	}
	r.UserID = user.Int64
	return &r, nil
}

// CompleteLoginRequest implements store.LoginRequests.
func (s *Store) CompleteLoginRequest(ctx context.Context, idHash []byte, userID int64, mfa store.SecondFactor, at time.Time) error {
	return s.onceLogin(ctx, "complete login request", idHash, `UPDATE login_requests SET user_id = ?, completed_at = ?,
		mfa_method = ?, mfa_at = ? WHERE id_hash = ? AND completed_at IS NULL AND consumed_at IS NULL`,
		userID, s.t(s.orNow(at)), mfa.Method, s.t(mfa.At), idHash)
}

// ConsumeLoginRequest implements store.LoginRequests.
func (s *Store) ConsumeLoginRequest(ctx context.Context, idHash []byte, at time.Time) error {
	return s.onceLogin(ctx, "consume login request", idHash, `UPDATE login_requests SET consumed_at = ?
		WHERE id_hash = ? AND consumed_at IS NULL`, s.t(s.orNow(at)), idHash)
}

// onceLogin runs a once-only update of the request idHash: no row changed
// is ErrConflict if the request exists, else ErrNotFound.
func (s *Store) onceLogin(ctx context.Context, op string, idHash []byte, update string, args ...any) error {
	res, err := s.write.ExecContext(ctx, s.q(update), args...)
	if err != nil {
		return s.wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return s.wrap(op, err)
	}
	var one int
	if err := s.write.QueryRowContext(ctx, s.q(`SELECT 1 FROM login_requests WHERE id_hash = ?`), idHash).Scan(&one); err != nil {
		return s.wrap(op, err)
	}
	return s.wrap(op, store.ErrConflict)
}
