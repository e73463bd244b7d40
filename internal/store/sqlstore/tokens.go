package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectToken = `SELECT id, name, prefix, hash, user_id, permissions,
	created_at, expires_at, last_used_at, revoked_at, created_by FROM api_tokens`

// tokenRow is everything a token row scans into, allocated at once:
// GetTokenByHash is the authentication hot path.
type tokenRow struct {
	t         store.APIToken
	userID    sql.NullInt64
	createdBy sql.NullInt64
	perms     permsDest
	times     [4]timeDest
	targets   [11]any
}

// scanToken scans one token row.
func (s *Store) scanToken(sc scanner) (*store.APIToken, error) {
	r := &tokenRow{}
	t := &r.t
	r.perms = permsDest{s.d, &t.Permissions}
	for i, dst := range [...]*time.Time{&t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt} {
		r.times[i] = timeDest{s.d, dst}
	}
	r.targets = [...]any{&t.ID, &t.Name, &t.Prefix, &t.Hash, &r.userID, &r.perms,
		&r.times[0], &r.times[1], &r.times[2], &r.times[3], &r.createdBy}
	err := sc.Scan(r.targets[:]...)
	t.UserID, t.CreatedBy = r.userID.Int64, r.createdBy.Int64
	return t, err
}

// CreateToken implements store.Tokens.
func (s *Store) CreateToken(ctx context.Context, t *store.APIToken) error {
	if len(t.Hash) == 0 {
		return s.errorf("create token: hash is empty")
	}
	perms, err := s.d.EncodePermissions(t.Permissions)
	if err != nil {
		return s.errorf("create token: %w", err)
	}
	now := s.now()
	expires := store.NormalizeTime(t.ExpiresAt)
	used := store.NormalizeTime(t.LastUsedAt)
	revoked := store.NormalizeTime(t.RevokedAt)
	var id int64
	err = s.write.QueryRowContext(ctx, s.q(`INSERT INTO api_tokens
		(name, prefix, hash, user_id, permissions, created_at, expires_at, last_used_at, revoked_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		t.Name, t.Prefix, t.Hash, nullID(t.UserID), perms, s.t(now), s.t(expires), s.t(used), s.t(revoked), nullID(t.CreatedBy),
	).Scan(&id)
	if err != nil {
		return s.wrap("create token", err)
	}
	t.ID, t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = id, now, expires, used, revoked
	return nil
}

// GetTokenByHash implements store.Tokens. It is the authentication hot
// path, so its statement stays prepared.
func (s *Store) GetTokenByHash(ctx context.Context, hash []byte) (*store.APIToken, error) {
	st, err := s.tokenByHash.get(ctx)
	if err != nil {
		return nil, s.wrap("get token by hash", err)
	}
	t, err := s.scanToken(st.QueryRowContext(ctx, hash))
	if err != nil {
		return nil, s.wrap("get token by hash", err)
	}
	return t, nil
}

// GetToken implements store.Tokens.
func (s *Store) GetToken(ctx context.Context, id int64) (*store.APIToken, error) {
	t, err := s.scanToken(s.read.QueryRowContext(ctx, s.q(selectToken+` WHERE id = ?`), id))
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("get token %d", id), err)
	}
	return t, nil
}

// ListTokens implements store.Tokens.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]store.APIToken, error) {
	q, args := selectToken+` ORDER BY id`, []any(nil)
	if userID != 0 {
		q, args = selectToken+` WHERE user_id = ? ORDER BY id`, []any{userID}
	}
	ts, err := list(ctx, s, s.read, q, args, func(sc scanner) (store.APIToken, error) {
		t, err := s.scanToken(sc)
		return *t, err
	})
	return ts, s.wrap("list tokens", err)
}

// RevokeToken implements store.Tokens.
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`),
		s.t(s.orNow(at)), id)
	return s.wrap(fmt.Sprintf("revoke token %d", id), mustAffect(res, err))
}

// TouchTokens implements store.Tokens. The rows are updated in id order,
// so concurrent calls lock them in the same order and cannot deadlock.
func (s *Store) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	return s.wrap("touch tokens", s.touch(ctx, used,
		`UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`))
}

// touch runs update (parameters: time, id, time) for each id with a
// non-zero time, in id order, in one transaction.
func (s *Store) touch(ctx context.Context, times map[int64]time.Time, update string) error {
	ids := make([]int64, 0, len(times))
	for id, at := range times {
		if !at.IsZero() {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.q(update))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, id := range ids {
			at := s.t(times[id])
			if _, err := st.ExecContext(ctx, at, id, at); err != nil {
				return err
			}
		}
		return nil
	})
}

// mustAffect turns an update that changed no row into sql.ErrNoRows.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sql.ErrNoRows
	}
	return nil
}
