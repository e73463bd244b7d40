package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/auditq"
)

// selectHead is the newest chained event, or, when pruning left no events,
// the newest checkpoint's head, so the chain continues from it.
const selectHead = `SELECT seq, hash FROM (
	SELECT seq, hash FROM (SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1)
	UNION ALL
	SELECT seq, head_hash FROM (SELECT seq, head_hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1)
) ORDER BY seq DESC LIMIT 1`

// AuditHead returns the newest chained event's sequence number and hash.
func (s *Store) AuditHead(ctx context.Context) (int64, []byte, error) {
	var (
		seq  int64
		hash []byte
	)
	err := s.read.QueryRowContext(ctx, selectHead).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	return seq, hash, wrap("audit head", err)
}

// ScanAudit streams chained events with Seq >= fromSeq in ID order. NOT
// INDEXED makes SQLite walk the table in rowid order instead of sorting a
// seq-index range, which matters for a million-event verification.
func (s *Store) ScanAudit(ctx context.Context, fromSeq int64, fn func(*chain.Event) error) error {
	rows, err := s.read.QueryContext(ctx, "SELECT "+auditq.SelectList+
		" FROM audit_events NOT INDEXED WHERE seq IS NOT NULL AND seq >= ? ORDER BY id", fromSeq)
	if err != nil {
		return wrap("scan audit", err)
	}
	defer rows.Close()
	var (
		e  chain.Event
		at sql.NullInt64
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

func scanCheckpoint(sc interface{ Scan(...any) error }) (*store.Checkpoint, error) {
	var (
		c           store.Checkpoint
		created, an sql.NullInt64
	)
	if err := sc.Scan(&c.Seq, &c.Statement, &c.Signature, &created, &an); err != nil {
		return nil, err
	}
	c.CreatedAt, c.AnchoredAt = decTime(created), decTime(an)
	return &c, nil
}

// AddCheckpoint makes and stores the next checkpoint under the write lock.
func (s *Store) AddCheckpoint(ctx context.Context, make func(prev *store.Checkpoint, headSeq int64, headHash []byte) (*store.Checkpoint, error)) (*store.Checkpoint, error) {
	var out *store.Checkpoint
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		prev, err := scanCheckpoint(tx.QueryRowContext(ctx,
			`SELECT `+checkpointCols+` FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`))
		if errors.Is(err, sql.ErrNoRows) {
			prev, err = nil, nil
		}
		if err != nil {
			return err
		}
		var (
			headSeq  int64
			headHash []byte
		)
		if err := tx.QueryRowContext(ctx, selectHead).Scan(&headSeq, &headHash); err != nil && !errors.Is(err, sql.ErrNoRows) {
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, statement, signature, created_at, head_hash) VALUES (?, ?, ?, ?, ?)`,
			c.Seq, c.Statement, c.Signature, encTime(c.CreatedAt), headHash); err != nil {
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
	rows, err := s.read.QueryContext(ctx, `SELECT `+checkpointCols+` FROM audit_checkpoints WHERE seq >= ? ORDER BY seq`, fromSeq)
	if err != nil {
		return nil, wrap("list checkpoints", err)
	}
	defer rows.Close()
	out := []store.Checkpoint{}
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, wrap("list checkpoints", err)
		}
		out = append(out, *c)
	}
	return out, wrap("list checkpoints", rows.Err())
}

// MarkAnchored sets the checkpoint's anchored time if it is not set yet.
func (s *Store) MarkAnchored(ctx context.Context, seq int64, at time.Time) error {
	at = store.NormalizeTime(at)
	if at.IsZero() {
		at = store.Now()
	}
	res, err := s.write.ExecContext(ctx, `UPDATE audit_checkpoints SET anchored_at = ? WHERE seq = ? AND anchored_at IS NULL`, encTime(at), seq)
	if err != nil {
		return wrap("mark anchored", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		if err := s.write.QueryRowContext(ctx, `SELECT 1 FROM audit_checkpoints WHERE seq = ?`, seq).Scan(&one); err != nil {
			return wrap("mark anchored", err)
		}
	}
	return nil
}

// PruneAudit deletes events up to an anchored checkpoint. The append-only
// triggers are dropped and recreated inside the same transaction, so no
// other writer ever sees the table unguarded.
func (s *Store) PruneAudit(ctx context.Context, throughSeq int64) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var an sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT anchored_at FROM audit_checkpoints WHERE seq = ?`, throughSeq).Scan(&an); err != nil {
			return err
		}
		if !an.Valid {
			return fmt.Errorf("checkpoint at seq %d is not anchored yet", throughSeq)
		}
		stmts := []string{
			`DROP TRIGGER audit_events_no_delete`,
			`DROP TRIGGER audit_checkpoints_no_delete`,
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE seq IS NOT NULL AND seq <= ?`, throughSeq)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_checkpoints WHERE seq < ?`, throughSeq); err != nil {
			return err
		}
		for _, q := range []string{
			`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END`,
			`CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'rack-gateway: audit checkpoints are append-only'); END`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	return n, wrap("prune audit", err)
}
