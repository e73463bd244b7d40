package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// AppendAudit implements store.AuditAppender. Every proxied call is
// audited, so this is the hot path: the batch is written with a few
// prepared multi-row INSERTs (AuditSQL.Chunks) in one transaction that
// holds LockAudit, which also makes ids increase in commit order (without
// it a reader paging with BeforeID could miss an event whose lower id
// committed late).
func (s *Store) AppendAudit(ctx context.Context, events []*chain.Event) error {
	if len(events) == 0 {
		return nil
	}
	now := s.now()
	times := make([]time.Time, len(events))
	for i, e := range events {
		if e == nil {
			return s.errorf("append audit: nil event")
		}
		times[i] = store.NormalizeTime(e.Time)
		if times[i].IsZero() {
			times[i] = now
		}
	}
	// Prepare before the transaction: SQLite's write pool has one
	// connection, which the transaction will hold.
	plan := s.chunkPlan(len(events))
	stmts := make([]*sql.Stmt, len(plan))
	for i, k := range plan {
		st, err := s.auditInserts[k].get(ctx)
		if err != nil {
			return s.wrap("append audit", err)
		}
		stmts[i] = st
	}
	tail, err := s.auditTail.get(ctx)
	if err != nil {
		return s.wrap("append audit", err)
	}
	writes := make([]*sql.Stmt, len(s.indexWrites))
	for i, l := range s.indexWrites {
		if writes[i], err = l.get(ctx); err != nil {
			return s.wrap("append audit", err)
		}
	}
	ids := make([]int64, len(events))
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.d.Lock(ctx, tx, LockAudit); err != nil {
			return err
		}
		// The lock is held, so neither the head nor the last id can move
		// under us, in this process or another sharing the database.
		var (
			lastID   int64
			headSeq  sql.NullInt64
			headHash []byte
		)
		if err := tx.StmtContext(ctx, tail).QueryRowContext(ctx).Scan(&lastID, &headSeq, &headHash); err != nil {
			return err
		}
		for i, e := range events {
			e.Time = times[i]
		}
		chain.Link(headSeq.Int64, headHash, events)
		if err := s.insertAudit(ctx, tx, events, plan, stmts, lastID, ids); err != nil {
			return err
		}
		bound := make([]*sql.Stmt, len(writes))
		for i, st := range writes {
			bound[i] = tx.StmtContext(ctx, st)
		}
		return s.blocks.Add(ctx, bound, events, ids)
	})
	if err != nil {
		return s.wrap("append audit", err)
	}
	for i, e := range events {
		e.ID, e.Time = ids[i], times[i]
	}
	return nil
}

// chunkPlan returns the chunks (indexes into AuditSQL.Chunks) that write n
// rows: as many of the largest as fit, then the next size, and so on; with
// InsertArrays, the one statement that writes them all.
func (s *Store) chunkPlan(n int) []int {
	if s.audit.InsertArrays != "" {
		return []int{0}
	}
	var plan []int
	for k, size := range s.audit.Chunks {
		for ; n >= size; n -= size {
			plan = append(plan, k)
		}
	}
	return plan
}

// insertAudit writes the linked events in the planned chunks and fills
// ids: numbered from lastID when the store numbers the rows, else read
// back and matched by seq.
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, events []*chain.Event, plan []int, stmts []*sql.Stmt, lastID int64, ids []int64) error {
	if s.audit.InsertArrays != "" {
		return readIDs(ctx, tx.StmtContext(ctx, stmts[0]), auditArrays(events), events[0].Seq, ids)
	}
	explicit := s.audit.LastID != ""
	width := len(auditColumns)
	if explicit {
		width++
	}
	firstSeq := events[0].Seq
	start := 0
	for i, k := range plan {
		end := start + s.audit.Chunks[k]
		args := make([]any, 0, (end-start)*width)
		for j := start; j < end; j++ {
			if explicit {
				ids[j] = lastID + int64(j) + 1
				args = append(args, ids[j])
			}
			args = s.appendAuditValues(args, events[j])
		}
		st := tx.StmtContext(ctx, stmts[i])
		if explicit {
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return err
			}
		} else if err := readIDs(ctx, st, args, firstSeq, ids); err != nil {
			return err
		}
		start = end
	}
	if !explicit {
		for _, id := range ids {
			if id == 0 {
				return s.errorf("append audit: an inserted row returned no id")
			}
		}
	}
	return nil
}

// auditArrays returns the events' values as one array per column of
// auditColumns, for AuditSQL.InsertArrays. Times are as stored already.
func auditArrays(events []*chain.Event) []any {
	n := len(events)
	var (
		at                                                           = make([]time.Time, n)
		requestID, rack, actorType, actor                            = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		role, sourceIP, userAgent, method, path, route               = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		action, app, resource, permission, decision, reason, details = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		actorID, tokenID, status, durationUS, seq                    = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		hash                                                         = make([][]byte, n)
	)
	for i, e := range events {
		at[i], requestID[i], rack[i], actorType[i], actor[i] = e.Time, e.RequestID, e.Rack, e.ActorType, e.Actor
		actorID[i], tokenID[i], role[i], sourceIP[i], userAgent[i] = e.ActorID, e.TokenID, e.Role, e.SourceIP, e.UserAgent
		method[i], path[i], route[i], action[i], app[i] = e.Method, e.Path, e.Route, e.Action, e.App
		resource[i], permission[i], decision[i], reason[i] = e.Resource, e.Permission, e.Decision, e.Reason
		status[i], durationUS[i], details[i], seq[i], hash[i] = int64(e.Status), e.DurationUS, e.Details, e.Seq, e.Hash
	}
	// The order of auditColumns.
	return []any{at, requestID, rack, actorType, actor, actorID,
		tokenID, role, sourceIP, userAgent, method, path, route,
		action, app, resource, permission, decision, reason, status,
		durationUS, details, seq, hash}
}

// readIDs runs an INSERT ... RETURNING id, seq and stores each id at its
// event's index, seq - firstSeq: RETURNING does not promise row order.
func readIDs(ctx context.Context, st *sql.Stmt, args []any, firstSeq int64, ids []int64) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return err
		}
		if i := seq - firstSeq; i >= 0 && i < int64(len(ids)) {
			ids[i] = id
		}
	}
	return rows.Err()
}
