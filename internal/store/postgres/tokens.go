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
	if t.Permissions == nil {
		t.Permissions = []string{}
	}
	t.CreatedAt, t.ExpiresAt = decTime(created), decTime(expires)
	t.LastUsedAt, t.RevokedAt = decTime(used), decTime(revoked)
	return t, nil
}

// CreateToken inserts t and sets its ID and CreatedAt.
func (s *Store) CreateToken(ctx context.Context, t *store.APIToken) error {
	if len(t.Hash) == 0 {
		return errors.New("postgres: create token: hash is empty")
	}
	perms := t.Permissions
	if perms == nil {
		perms = []string{}
	}
	now := store.Now()
	expires, used, revoked := store.NormalizeTime(t.ExpiresAt), store.NormalizeTime(t.LastUsedAt), store.NormalizeTime(t.RevokedAt)
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO api_tokens
		(name, prefix, hash, user_id, permissions, created_at, expires_at, last_used_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		t.Name, t.Prefix, t.Hash, encID(t.UserID), perms, now, encTime(expires), encTime(used), encTime(revoked)).Scan(&id)
	if err != nil {
		return wrap("create token", err)
	}
	t.ID, t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = id, now, expires, used, revoked
	return nil
}

// GetTokenByHash finds a token by the SHA-256 of its secret.
func (s *Store) GetTokenByHash(ctx context.Context, hash []byte) (*store.APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, selectToken+` WHERE hash = $1`, hash))
	if err != nil {
		return nil, wrap("get token by hash", err)
	}
	return &t, nil
}

// GetToken finds a token by id.
func (s *Store) GetToken(ctx context.Context, id int64) (*store.APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, selectToken+` WHERE id = $1`, id))
	if err != nil {
		return nil, wrap(fmt.Sprintf("get token %d", id), err)
	}
	return &t, nil
}

// ListTokens lists a user's tokens (every token for userID 0) by id.
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

// RevokeToken marks a token revoked (keeping the first revocation time).
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = store.Now()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, encTime(at), id)
	op := fmt.Sprintf("revoke token %d", id)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return wrap(op, pgx.ErrNoRows)
	}
	return nil
}

// TouchTokens records last-used times in one transaction, never moving a
// time backwards.
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
	slices.Sort(ids) // a fixed lock order avoids deadlocks between replicas
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, id := range ids {
			b.Queue(`UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`,
				encTime(used[id]), id)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return wrap("touch tokens", err)
}
