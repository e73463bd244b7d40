package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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

// insertAuditRows returns an INSERT of n rows with RETURNING id.
func insertAuditRows(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(auditq.Columns)), ", ") + ")"
	return "INSERT INTO audit_events (" + auditq.ColumnList + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + " RETURNING id"
}

// AppendAudit inserts events in order in one transaction and, once it has
// committed, sets each event's ID and normalizes its Time (a zero Time
// becomes the current time). IDs are strictly increasing across calls
// because the single write connection serializes commits.
func (s *Store) AppendAudit(ctx context.Context, events []*store.AuditEvent) error {
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
	ids := make([]int64, 0, len(events))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The write lock is held (BEGIN IMMEDIATE), so the head cannot move
		// under us, in this process or another sharing the file.
		var (
			headSeq  int64
			headHash []byte
		)
		err := tx.QueryRowContext(ctx, selectHead).Scan(&headSeq, &headHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for i, e := range events {
			e.Time = times[i]
		}
		chain.Link(headSeq, headHash, events)
		// Multi-row INSERTs: one statement per chunk costs far less than
		// one per event, which matters because every proxied call is
		// audited. Rowids within the transaction increase in VALUES order,
		// so the returned ids, sorted, belong to the events in order.
		start := 0
		for i, k := range plan {
			end := start + auditChunks[k]
			prepared := stmts[i]
			args := make([]any, 0, (end-start)*len(auditq.Columns))
			for i := start; i < end; i++ {
				vals := auditq.Values(events[i], encTime)
				vals[0] = encTime(times[i])
				args = append(args, vals...)
			}
			rows, err := tx.StmtContext(ctx, prepared).QueryContext(ctx, args...)
			if err != nil {
				return err
			}
			chunk := make([]int64, 0, end-start)
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				chunk = append(chunk, id)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if len(chunk) != end-start {
				return fmt.Errorf("inserted %d audit rows, want %d", len(chunk), end-start)
			}
			slices.Sort(chunk)
			ids = append(ids, chunk...)
			start = end
		}
		return nil
	})
	if err != nil {
		return wrap("append audit", err)
	}
	for i, e := range events {
		e.ID, e.Time = ids[i], times[i]
	}
	return nil
}

// ListAudit returns the events matching f, newest (highest ID) first; see
// store.AuditFilter and store.AuditLimit.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	q, args := auditq.List(f, func(int) string { return "?" }, encTime)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	defer rows.Close()
	events := make([]store.AuditEvent, 0, min(store.AuditLimit(f.Limit), 128))
	for rows.Next() {
		var (
			e  store.AuditEvent
			at sql.NullInt64
		)
		if err := rows.Scan(auditq.ScanTargets(&e, &at)...); err != nil {
			return nil, wrap("list audit", err)
		}
		e.Time = decTime(at)
		events = append(events, e)
	}
	return events, wrap("list audit", rows.Err())
}
