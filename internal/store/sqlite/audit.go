package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/auditq"
)

// auditChunks are the row counts of the prepared multi-row INSERTs; a
// batch is written as the fewest chunks of these sizes. A few fixed sizes
// let each statement be parsed once, and the largest keeps a statement far
// below SQLite's limit of 32766 bound variables.
var auditChunks = [...]int{128, 32, 8, 1}

// insertAuditRows returns an INSERT of n rows with explicit ids.
//
// The ids are assigned by AppendAudit under the write lock instead of read
// back with RETURNING (which collects the rows in a temporary table), since
// every proxied call is audited. OR ROLLBACK: a failed row rolls back the
// whole transaction, which AppendAudit would do anyway.
func insertAuditRows(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(auditq.Columns)+1), ", ") + ")"
	return "INSERT OR ROLLBACK INTO audit_events (id, " + auditq.ColumnList + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// selectHeadAndLastID reads, in one prepared statement once per append, the
// largest id ever given to an audit row (AUTOINCREMENT remembers it in
// sqlite_sequence even after a prune) and the chain head (selectHead; NULLs
// when there is none).
const selectHeadAndLastID = `SELECT MAX(
	COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0),
	COALESCE((SELECT MAX(id) FROM audit_events), 0)), head.seq, head.hash
FROM (SELECT 1) LEFT JOIN (` + selectHead + `) AS head ON 1`

// AppendAudit inserts events in order in one transaction and, once it has
// committed, sets each event's ID and normalizes its Time (a zero Time
// becomes the current time). IDs are strictly increasing across calls
// because the single write connection serializes commits.
func (s *Store) AppendAudit(ctx context.Context, events []*chain.Event) error {
	if len(events) == 0 {
		return nil
	}
	now := store.Now()
	times := make([]time.Time, len(events))
	for i, e := range events {
		if e == nil {
			return errors.New("sqlite: append audit: nil event")
		}
		times[i] = store.NormalizeTime(e.Time)
		if times[i].IsZero() {
			times[i] = now
		}
	}
	// Plan the chunks and prepare their statements before the transaction:
	// the write pool has one connection, which the transaction will hold.
	var plan []int // indexes into auditChunks
	for left := len(events); left > 0; {
		k := 0
		for auditChunks[k] > left {
			k++
		}
		plan = append(plan, k)
		left -= auditChunks[k]
	}
	stmts := make([]*sql.Stmt, len(plan))
	for i, k := range plan {
		st, err := s.auditInserts[k].get(ctx)
		if err != nil {
			return wrap("append audit", err)
		}
		stmts[i] = st
	}
	head, err := s.auditHead.get(ctx)
	if err != nil {
		return wrap("append audit", err)
	}
	var lastID int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// The write lock is held (BEGIN IMMEDIATE), so the head and the
		// last id cannot move under us, in this process or another sharing
		// the file.
		var (
			headSeq  sql.NullInt64
			headHash []byte
		)
		if err := tx.StmtContext(ctx, head).QueryRowContext(ctx).Scan(&lastID, &headSeq, &headHash); err != nil {
			return err
		}
		for i, e := range events {
			e.Time = times[i]
		}
		chain.Link(headSeq.Int64, headHash, events)
		// Multi-row INSERTs: one statement per chunk costs far less than
		// one per event.
		enc := make([]int64, len(events))
		start := 0
		for i, k := range plan {
			end := start + auditChunks[k]
			args := make([]any, 0, (end-start)*(len(auditq.Columns)+1))
			for j := start; j < end; j++ {
				enc[j] = times[j].UnixMicro() // the stored time, for the blocks
				args = append(args, lastID+int64(j)+1)
				args = append(args, auditq.Values(events[j], encTime)...)
			}
			if _, err := tx.StmtContext(ctx, stmts[i]).ExecContext(ctx, args...); err != nil {
				return err
			}
			start = end
		}
		return writeBlocks(ctx, tx, events, enc, lastID+1)
	})
	if err != nil {
		return wrap("append audit", err)
	}
	for i, e := range events {
		e.ID, e.Time = lastID+int64(i)+1, times[i]
	}
	return nil
}

// ListAudit returns the events matching f, newest (highest ID) first; see
// store.AuditFilter and store.AuditLimit. Filters on actor, app, action
// and time read only the blocks that can match (auditblocks.go); others
// walk the log newest first.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]chain.Event, error) {
	if c := newBlockCursor(s.read, f); c != nil {
		events, err := s.listByBlocks(ctx, f, c)
		return events, wrap("list audit", err)
	}
	q, args := auditq.List(f, func(int) string { return "?" }, encTime)
	events, err := s.queryAudit(ctx, q, args...)
	if events == nil {
		events = []chain.Event{}
	}
	return events, wrap("list audit", err)
}
