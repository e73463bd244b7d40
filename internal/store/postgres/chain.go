package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/auditq"
)

// selectHead is the newest chained event, or, when pruning left no events,
// the newest checkpoint's head, so the chain continues from it.
const selectHead = `SELECT seq, hash FROM (
	(SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1)
	UNION ALL
	(SELECT seq, head_hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1)
) AS h ORDER BY seq DESC LIMIT 1`

// AuditHead returns the newest chained event's sequence number and hash.
func (s *Store) AuditHead(ctx context.Context) (int64, []byte, error) {
	var (
		seq  int64
		hash []byte
	)
	err := s.pool.QueryRow(ctx, selectHead).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	return seq, hash, wrap("audit head", err)
}

// ScanAudit streams chained events with Seq >= fromSeq in ID order. IDs are
// allocated under the append lock, so ID order is append order.
func (s *Store) ScanAudit(ctx context.Context, fromSeq int64, fn func(*chain.Event) error) error {
	rows, err := s.pool.Query(ctx, "SELECT "+auditq.SelectList+
		" FROM audit_events WHERE seq IS NOT NULL AND seq >= $1 ORDER BY id", fromSeq)
	if err != nil {
		return wrap("scan audit", err)
	}
	defer rows.Close()
	var (
		e  chain.Event
		at pgtype.Timestamptz
	)
	targets := auditq.ScanTargets(&e, &at)
	for rows.Next() {
		e.Hash = nil
		if err := rows.Scan(targets...); err != nil {
			return wrap("scan audit", err)
		}
		e.Time = decTime(at)
		if err := fn(&e); err != nil {
			return err
		}
	}
	return wrap("scan audit", rows.Err())
}

const checkpointCols = `seq, statement, signature, created_at, anchored_at`

func scanCheckpoint(row pgx.Row) (*store.Checkpoint, error) {
	var (
		c           store.Checkpoint
		created, an pgtype.Timestamptz
	)
	if err := row.Scan(&c.Seq, &c.Statement, &c.Signature, &created, &an); err != nil {
		return nil, err
	}
	c.CreatedAt, c.AnchoredAt = decTime(created), decTime(an)
	return &c, nil
}

// AddCheckpoint makes and stores the next checkpoint under the append lock,
// so it sees a head no append is moving and no other replica checkpoints at
// the same time.
func (s *Store) AddCheckpoint(ctx context.Context, make func(prev *store.Checkpoint, headSeq int64, headHash []byte) (*store.Checkpoint, error)) (*store.Checkpoint, error) {
	var out *store.Checkpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
			return err
		}
		prev, err := scanCheckpoint(tx.QueryRow(ctx, `SELECT `+checkpointCols+` FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`))
		if errors.Is(err, pgx.ErrNoRows) {
			prev, err = nil, nil
		}
		if err != nil {
			return err
		}
		var (
			headSeq  int64
			headHash []byte
		)
		if err := tx.QueryRow(ctx, selectHead).Scan(&headSeq, &headHash); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		c, err := make(prev, headSeq, headHash)
		if err != nil || c == nil {
			return err
		}
		c.CreatedAt = store.NormalizeTime(c.CreatedAt)
		if c.CreatedAt.IsZero() {
			c.CreatedAt = store.Now()
		}
		if c.Seq != headSeq {
			return fmt.Errorf("checkpoint at seq %d but the head is %d", c.Seq, headSeq)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (seq, statement, signature, created_at, head_hash) VALUES ($1, $2, $3, $4, $5)`,
			c.Seq, c.Statement, c.Signature, c.CreatedAt, headHash); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, wrap("add checkpoint", err)
	}
	return out, nil
}

// ListCheckpoints returns checkpoints with Seq >= fromSeq, oldest first.
func (s *Store) ListCheckpoints(ctx context.Context, fromSeq int64) ([]store.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+checkpointCols+` FROM audit_checkpoints WHERE seq >= $1 ORDER BY seq`, fromSeq)
	if err != nil {
		return nil, wrap("list checkpoints", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Checkpoint, error) {
		c, err := scanCheckpoint(r)
		if err != nil {
			return store.Checkpoint{}, err
		}
		return *c, nil
	})
	if err != nil {
		return nil, wrap("list checkpoints", err)
	}
	return nonNil(out), nil
}

// MarkAnchored sets the checkpoint's anchored time if it is not set yet.
func (s *Store) MarkAnchored(ctx context.Context, seq int64, at time.Time) error {
	at = store.NormalizeTime(at)
	if at.IsZero() {
		at = store.Now()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE audit_checkpoints SET anchored_at = $1 WHERE seq = $2 AND anchored_at IS NULL`, at, seq)
	if err != nil {
		return wrap("mark anchored", err)
	}
	if tag.RowsAffected() == 0 {
		var one int
		if err := s.pool.QueryRow(ctx, `SELECT 1 FROM audit_checkpoints WHERE seq = $1`, seq).Scan(&one); err != nil {
			return wrap("mark anchored", err)
		}
	}
	return nil
}

// PruneAudit deletes events up to an anchored checkpoint. It needs the
// table owner (ALTER TABLE ... DISABLE TRIGGER), which the gateway's runtime
// role is not; run it with the owner's DSN. The triggers are disabled only
// inside this transaction.
func (s *Store) PruneAudit(ctx context.Context, throughSeq int64) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
			return err
		}
		var an pgtype.Timestamptz
		if err := tx.QueryRow(ctx, `SELECT anchored_at FROM audit_checkpoints WHERE seq = $1`, throughSeq).Scan(&an); err != nil {
			return err
		}
		if !an.Valid {
			return fmt.Errorf("checkpoint at seq %d is not anchored yet", throughSeq)
		}
		for _, q := range []string{
			`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`,
			`ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_no_delete`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM audit_events WHERE seq IS NOT NULL AND seq <= $1`, throughSeq)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `DELETE FROM audit_checkpoints WHERE seq < $1`, throughSeq); err != nil {
			return err
		}
		for _, q := range []string{
			`ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`,
			`ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_no_delete`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	return n, wrap("prune audit", err)
}
