package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectCheckpoint = `SELECT seq, statement, signature, created_at, anchored_at FROM audit_checkpoints`

func (s *Store) scanCheckpoint(sc scanner) (store.Checkpoint, error) {
	var c store.Checkpoint
	err := sc.Scan(&c.Seq, &c.Statement, &c.Signature, s.td(&c.CreatedAt), s.td(&c.AnchoredAt))
	return c, err
}

// AddCheckpoint implements store.Checkpoints. It holds LockAudit, so it
// sees a head no append is moving and no other process checkpoints at the
// same time.
func (s *Store) AddCheckpoint(ctx context.Context, make func(prev *store.Checkpoint, headSeq int64, headHash []byte) (*store.Checkpoint, error)) (*store.Checkpoint, error) {
	var out *store.Checkpoint
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.d.Lock(ctx, tx, LockAudit); err != nil {
			return err
		}
		var prev *store.Checkpoint
		switch c, err := s.scanCheckpoint(tx.QueryRowContext(ctx, s.q(selectCheckpoint+` ORDER BY seq DESC LIMIT 1`))); {
		case err == nil:
			prev = &c
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var (
			headSeq  int64
			headHash []byte
		)
		if err := tx.QueryRowContext(ctx, s.q(selectHead)).Scan(&headSeq, &headHash); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c, err := make(prev, headSeq, headHash)
		if err != nil || c == nil {
			return err
		}
		c.CreatedAt = s.orNow(c.CreatedAt)
		if c.Seq != headSeq {
			return fmt.Errorf("checkpoint at seq %d but the head is %d", c.Seq, headSeq)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit_checkpoints (seq, statement, signature, created_at, head_hash)
			VALUES (?, ?, ?, ?, ?)`), c.Seq, c.Statement, c.Signature, s.t(c.CreatedAt), headHash); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, s.wrap("add checkpoint", err)
	}
	return out, nil
}

// ListCheckpoints implements store.Checkpoints.
func (s *Store) ListCheckpoints(ctx context.Context, fromSeq int64) ([]store.Checkpoint, error) {
	cs, err := list(ctx, s, s.read, selectCheckpoint+` WHERE seq >= ? ORDER BY seq`, []any{fromSeq}, s.scanCheckpoint)
	return cs, s.wrap("list checkpoints", err)
}

// MarkAnchored implements store.Checkpoints.
func (s *Store) MarkAnchored(ctx context.Context, seq int64, at time.Time) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE audit_checkpoints SET anchored_at = ? WHERE seq = ? AND anchored_at IS NULL`),
		s.t(s.orNow(at)), seq)
	if err = mustAffect(res, err); errors.Is(err, sql.ErrNoRows) {
		// Already anchored is fine; only a missing checkpoint is not.
		var one int
		err = s.write.QueryRowContext(ctx, s.q(`SELECT 1 FROM audit_checkpoints WHERE seq = ?`), seq).Scan(&one)
	}
	return s.wrap("mark anchored", err)
}

// PruneAudit implements store.AuditPruner. The append-only triggers are
// suspended only inside its transaction (AuditSQL.TriggersOff/On), so no
// other writer ever sees the tables unguarded.
func (s *Store) PruneAudit(ctx context.Context, throughSeq int64) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.d.Lock(ctx, tx, LockAudit); err != nil {
			return err
		}
		var anchored time.Time
		if err := tx.QueryRowContext(ctx, s.q(`SELECT anchored_at FROM audit_checkpoints WHERE seq = ?`), throughSeq).
			Scan(s.td(&anchored)); err != nil {
			return err
		}
		if anchored.IsZero() {
			return fmt.Errorf("checkpoint at seq %d is not anchored yet", throughSeq)
		}
		if err := execAll(ctx, tx, s.audit.TriggersOff); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM audit_events WHERE seq IS NOT NULL AND seq <= ?`), throughSeq)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM audit_checkpoints WHERE seq < ?`), throughSeq); err != nil {
			return err
		}
		return execAll(ctx, tx, s.audit.TriggersOn)
	})
	return n, s.wrap("prune audit", err)
}

// execAll runs statements in tx, in order.
func execAll(ctx context.Context, tx *sql.Tx, statements []string) error {
	for _, q := range statements {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
