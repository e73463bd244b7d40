package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectToken = `SELECT id, name, prefix, hash, user_id, permissions,
	created_at, expires_at, last_used_at, revoked_at FROM api_tokens`

func scanToken(sc scanner) (store.APIToken, error) {
	var (
		t                               store.APIToken
		userID                          sql.NullInt64
		perms                           string
		created, expires, used, revoked sql.NullInt64
	)
	if err := sc.Scan(&t.ID, &t.Name, &t.Prefix, &t.Hash, &userID, &perms,
		&created, &expires, &used, &revoked); err != nil {
		return t, err
	}
	t.UserID = userID.Int64
	if err := json.Unmarshal([]byte(perms), &t.Permissions); err != nil {
		return t, fmt.Errorf("token %d: decode permissions: %w", t.ID, err)
	}
	if t.Permissions == nil {
		t.Permissions = []string{}
	}
	t.CreatedAt, t.ExpiresAt = decTime(created), decTime(expires)
	t.LastUsedAt, t.RevokedAt = decTime(used), decTime(revoked)
	return t, nil
}

// encPermissions encodes permissions as a JSON array ("[]" for nil).
func encPermissions(p []string) (string, error) {
	if p == nil {
		p = []string{}
	}
	b, err := json.Marshal(p)
	return string(b), err
}

// CreateToken inserts t and sets t.ID and t.CreatedAt; its time fields are
// normalized to what is stored. A duplicate hash is store.ErrConflict; an
// owner (UserID) that does not exist is store.ErrNotFound. UserID 0 means
// no owner.
func (s *Store) CreateToken(ctx context.Context, t *store.APIToken) error {
	if len(t.Hash) == 0 {
		return errors.New("sqlite: create token: hash is empty")
	}
	perms, err := encPermissions(t.Permissions)
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	now := store.Now()
	expires := store.NormalizeTime(t.ExpiresAt)
	used := store.NormalizeTime(t.LastUsedAt)
	revoked := store.NormalizeTime(t.RevokedAt)
	var id int64
	err = s.write.QueryRowContext(ctx, `INSERT INTO api_tokens
		(name, prefix, hash, user_id, permissions, created_at, expires_at, last_used_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		t.Name, t.Prefix, t.Hash, encID(t.UserID), perms,
		encTime(now), encTime(expires), encTime(used), encTime(revoked),
	).Scan(&id)
	if err != nil {
		return wrap("create token", err)
	}
	t.ID, t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = id, now, expires, used, revoked
	return nil
}

// GetTokenByHash returns the token with the given hash, or
// store.ErrNotFound. It does not check expiry or revocation.
func (s *Store) GetTokenByHash(ctx context.Context, hash []byte) (*store.APIToken, error) {
	st, err := s.tokenByHash.get(ctx)
	if err != nil {
		return nil, wrap("get token by hash", err)
	}
	t, err := scanToken(st.QueryRowContext(ctx, hash))
	if err != nil {
		return nil, wrap("get token by hash", err)
	}
	return &t, nil
}

// GetToken returns the token with the given id, or store.ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id int64) (*store.APIToken, error) {
	t, err := scanToken(s.read.QueryRowContext(ctx, selectToken+` WHERE id = ?`, id))
	if err != nil {
		return nil, wrap(fmt.Sprintf("get token %d", id), err)
	}
	return &t, nil
}

// ListTokens returns the tokens owned by userID, or all tokens if userID is
// 0, ordered by id.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]store.APIToken, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if userID == 0 {
		rows, err = s.read.QueryContext(ctx, selectToken+` ORDER BY id`)
	} else {
		rows, err = s.read.QueryContext(ctx, selectToken+` WHERE user_id = ? ORDER BY id`, userID)
	}
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	defer rows.Close()
	ts := []store.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, wrap("list tokens", err)
		}
		ts = append(ts, t)
	}
	return ts, wrap("list tokens", rows.Err())
}

// RevokeToken marks the token revoked at at (now if at is zero). Revoking a
// revoked token keeps the original time. A missing token is
// store.ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = store.Now()
	}
	res, err := s.write.ExecContext(ctx,
		`UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, encTime(at), id)
	op := fmt.Sprintf("revoke token %d", id)
	if err != nil {
		return wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(op, err)
	} else if n == 0 {
		return wrap(op, sql.ErrNoRows)
	}
	return nil
}

// TouchTokens sets last-used times in one transaction. A time never moves
// backwards; unknown ids and zero times are ignored.
func (s *Store) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(used))
	for id, at := range used {
		if !at.IsZero() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE api_tokens SET last_used_at = ?1
			WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, id := range ids {
			if _, err := st.ExecContext(ctx, encTime(used[id]), id); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("touch tokens", err)
}
