package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// ListAudit implements store.AuditReader. The dialect's index, if any,
// serves the filters it knows; the plain query, newest first, the rest.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]chain.Event, error) {
	if s.audit.Index != nil {
		events, ok, err := s.audit.Index.List(ctx, s.read, f, s.queryAudit)
		if err != nil {
			return nil, s.wrap("list audit", err)
		}
		if ok {
			return nonNil(events), nil
		}
	}
	if s.audit.Index == nil {
		var (
			empty bool
			err   error
		)
		if f, empty, err = s.boundByTime(ctx, f); err != nil {
			return nil, s.wrap("list audit", err)
		} else if empty {
			return []chain.Event{}, nil
		}
	}
	q, args := auditList(f, s.d.EncodeTime)
	events, err := s.queryAudit(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list audit", err)
	}
	return nonNil(events), nil
}

// boundByTime gives a listing with a time range that ends well before the
// newest event an upper id bound (f.BeforeID): one past the newest event
// matching f. Without it, PostgreSQL walks the primary key down from the
// newest event and filters on occurred_at, expecting matches to be spread
// evenly, and reads every event after the range first (10M events: 1-3 s
// for one day in the middle of the log; bench/results/audit-10m.txt). The
// bound costs a read of the events in the range (the index of occurred_at),
// so it is taken only when the range is shorter than the time after it, in
// event times. empty reports that no event matches.
func (s *Store) boundByTime(ctx context.Context, f store.AuditFilter) (_ store.AuditFilter, empty bool, _ error) {
	if f.Since.IsZero() || f.Until.IsZero() || !f.Until.After(f.Since) {
		return f, false, nil
	}
	var newest time.Time
	err := s.read.QueryRowContext(ctx, "SELECT occurred_at FROM audit_events ORDER BY id DESC LIMIT 1").Scan(s.td(&newest))
	if errors.Is(err, sql.ErrNoRows) {
		return f, true, nil
	}
	if err != nil {
		return f, false, err
	}
	if newest.Sub(f.Until) <= f.Until.Sub(f.Since) {
		return f, false, nil
	}
	bound := f
	bound.BeforeID, bound.Limit = 0, 0
	where, args := AuditWhere(bound, s.d.EncodeTime)
	// MATERIALIZED keeps MAX(id) from becoming a walk down the primary key.
	var top sql.NullInt64
	if err := s.read.QueryRowContext(ctx, s.q("WITH r AS MATERIALIZED (SELECT id FROM audit_events WHERE "+
		strings.Join(where, " AND ")+") SELECT MAX(id) FROM r"), args...).Scan(&top); err != nil {
		return f, false, err
	}
	if !top.Valid {
		return f, true, nil
	}
	if f.BeforeID <= 0 || top.Int64+1 < f.BeforeID {
		f.BeforeID = top.Int64 + 1
	}
	return f, false, nil
}

// queryAudit runs q, a SELECT of AuditSelectList, on the read pool and
// scans its events. It is the AuditQuery given to the dialect's index.
func (s *Store) queryAudit(ctx context.Context, q string, args ...any) ([]chain.Event, error) {
	rows, err := s.read.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		events []chain.Event
		e      chain.Event
	)
	// Every target is overwritten by each Scan (bytes are copied), so one
	// set serves all rows.
	targets := s.auditTargets(&e)
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, rows.Err()
}

// AuditHead implements store.AuditReader.
func (s *Store) AuditHead(ctx context.Context) (int64, []byte, error) {
	var (
		seq  int64
		hash []byte
	)
	err := s.read.QueryRowContext(ctx, s.q(selectHead)).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	return seq, hash, s.wrap("audit head", err)
}

// ScanAudit implements store.AuditReader. IDs are given under the append
// lock, so id order is append order (and Seq order). From a seq after the
// first, the scan starts at that event's id (found by the unique index on
// seq), not at the start of the table.
func (s *Store) ScanAudit(ctx context.Context, fromSeq int64, fn func(*chain.Event) error) error {
	q, args := "SELECT "+AuditSelectList+" FROM "+s.audit.ScanFrom+" WHERE seq IS NOT NULL AND seq >= ?", []any{fromSeq}
	if fromSeq > 1 {
		// NULL when no event has such a seq: then no row matches.
		q, args = q+" AND id >= (SELECT id FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT 1)", append(args, fromSeq)
	}
	return s.scanAudit(ctx, q+" ORDER BY id", args, fn)
}

// scanAudit runs q, a SELECT of AuditSelectList, and calls fn with each
// event (one reused event).
func (s *Store) scanAudit(ctx context.Context, q string, args []any, fn func(*chain.Event) error) error {
	rows, err := s.read.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return s.wrap("scan audit", err)
	}
	defer rows.Close()
	var e chain.Event
	targets := s.auditTargets(&e)
	for rows.Next() {
		e.Hash = nil
		if err := rows.Scan(targets...); err != nil {
			return s.wrap("scan audit", err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return s.wrap("scan audit", rows.Err())
}

// nonNil returns events, or an empty slice if it is nil.
func nonNil(events []chain.Event) []chain.Event {
	if events == nil {
		return []chain.Event{}
	}
	return events
}

var _ store.AuditSeeker = (*Store)(nil)

// AuditSeqFloor implements store.AuditSeeker: the seq of the first chained
// event in [since, until), or, for a dialect that keeps an AuditIDRanger
// instead of an index on occurred_at, of the first chained event at or
// after the first id that range can hold. With no event in the range, one
// past the head.
func (s *Store) AuditSeqFloor(ctx context.Context, since, until time.Time) (int64, error) {
	if since.IsZero() {
		return 0, nil
	}
	if until.IsZero() {
		until = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var seq sql.NullInt64
	if r, ok := s.audit.Index.(AuditIDRanger); ok {
		first, _, found, err := r.IDRange(ctx, s.read, since, until)
		if err != nil {
			return 0, s.wrap("audit seq floor", err)
		}
		if found {
			err = s.read.QueryRowContext(ctx, s.q("SELECT seq FROM audit_events WHERE id >= ? AND seq IS NOT NULL ORDER BY id LIMIT 1"), first).Scan(&seq)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return 0, s.wrap("audit seq floor", err)
			}
		}
	} else {
		// MATERIALIZED keeps the planner on the index of occurred_at: as
		// MIN(seq) alone it may walk seq upwards, expecting an early
		// match that only comes near the range.
		err := s.read.QueryRowContext(ctx, s.q(`WITH r AS MATERIALIZED (SELECT seq FROM audit_events
			WHERE seq IS NOT NULL AND occurred_at >= ? AND occurred_at < ?) SELECT MIN(seq) FROM r`),
			s.d.EncodeTime(CeilMicro(since)), s.d.EncodeTime(CeilMicro(until))).Scan(&seq)
		if err != nil {
			return 0, s.wrap("audit seq floor", err)
		}
	}
	if seq.Valid {
		return seq.Int64, nil
	}
	head, _, err := s.AuditHead(ctx)
	return head + 1, err
}
