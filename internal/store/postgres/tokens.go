package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectToken = `SELECT id, name, prefix, hash, user_id, permissions,
	created_at, expires_at, last_used_at, revoked_at FROM api_tokens`

func scanToken(row pgx.Row) (store.APIToken, error) {
	var (
		t                               store.APIToken
		userID                          pgtype.Int8
		created, expires, used, revoked pgtype.Timestamptz
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Prefix, &t.Hash, &userID, &t.Permissions,
		&created, &expires, &used, &revoked); err != nil {
		return t, err
	}
	t.UserID = userID.Int64
	t.Permissions = nonNil(t.Permissions)
	t.CreatedAt, t.ExpiresAt = decTime(created), decTime(expires)
	t.LastUsedAt, t.RevokedAt = decTime(used), decTime(revoked)
	return t, nil
}

// CreateToken inserts t and sets t.ID and t.CreatedAt; its time fields are
// normalized to what is stored. A duplicate hash is store.ErrConflict; an
// owner (UserID) that does not exist is store.ErrNotFound. UserID 0 means
// no owner.
func (s *Store) CreateToken(ctx context.Context, t *store.APIToken) error {
	if len(t.Hash) == 0 {
		return errors.New("postgres: create token: hash is empty")
	}
	now := store.Now()
	expires := store.NormalizeTime(t.ExpiresAt)
	used := store.NormalizeTime(t.LastUsedAt)
	revoked := store.NormalizeTime(t.RevokedAt)
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO api_tokens
		(name, prefix, hash, user_id, permissions, created_at, expires_at, last_used_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		t.Name, t.Prefix, t.Hash, encID(t.UserID), nonNil(t.Permissions),
		now, encTime(expires), encTime(used), encTime(revoked),
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
	t, err := scanToken(s.pool.QueryRow(ctx, selectToken+` WHERE hash = $1`, hash))
	if err != nil {
		return nil, wrap("get token by hash", err)
	}
	return &t, nil
}

// GetToken returns the token with the given id, or store.ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id int64) (*store.APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, selectToken+` WHERE id = $1`, id))
	if err != nil {
		return nil, wrap(fmt.Sprintf("get token %d", id), err)
	}
	return &t, nil
}

// ListTokens returns the tokens owned by userID, or all tokens if userID is
// 0, ordered by id.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]store.APIToken, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if userID == 0 {
		rows, err = s.pool.Query(ctx, selectToken+` ORDER BY id`)
	} else {
		rows, err = s.pool.Query(ctx, selectToken+` WHERE user_id = $1 ORDER BY id`, userID)
	}
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.APIToken, error) { return scanToken(r) })
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	return nonNil(ts), nil
}

// RevokeToken marks the token revoked at at (now if at is zero). Revoking a
// revoked token keeps the original time. A missing token is
// store.ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = store.Now()
	}
	op := fmt.Sprintf("revoke token %d", id)
	tag, err := s.pool.Exec(ctx,
		`UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, encTime(at), id)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return wrap(op, pgx.ErrNoRows)
	}
	return nil
}

// TouchTokens sets last-used times in one transaction. A time never moves
// backwards; unknown ids and zero times are ignored. The rows are locked
// in id order first, so concurrent calls cannot deadlock.
func (s *Store) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	ids := make([]int64, 0, len(used))
	for id, at := range used {
		if !at.IsZero() {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	times := make([]time.Time, len(ids))
	for i, id := range ids {
		times[i] = store.NormalizeTime(used[id])
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM api_tokens WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE api_tokens AS t SET last_used_at = u.at
			FROM unnest($1::bigint[], $2::timestamptz[]) AS u (id, at)
			WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`, ids, times)
		return err
	})
	return wrap("touch tokens", err)
}
