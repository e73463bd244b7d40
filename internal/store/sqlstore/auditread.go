package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// ListAudit implements store.AuditReader. The block index serves the
// filters it knows; the plain query, newest first, the rest.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]chain.Event, error) {
	events, ok, err := s.blocks.List(ctx, s.read, f, s.queryAudit)
	if err != nil {
		return nil, s.wrap("list audit", err)
	}
	if ok {
		return nonNil(events), nil
	}
	q, args := auditList(f, s.d.EncodeTime)
	if events, err = s.queryAudit(ctx, q, args...); err != nil {
		return nil, s.wrap("list audit", err)
	}
	return nonNil(events), nil
}

// queryAudit runs q, a SELECT of AuditSelectList, on the read pool and
// scans its events. It is the AuditQuery given to the block index.
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
// seq), not at the start of the table. It reads scanPage events per query:
// a caller that stops early (an export of one day) then leaves at most a
// page unread, where one query over the rest of the log had the driver
// read and discard every later event (18 s for a day early in a 10M-event
// PostgreSQL log).
func (s *Store) ScanAudit(ctx context.Context, fromSeq int64, fn func(*chain.Event) error) error {
	var fromID int64
	if fromSeq > 1 {
		err := s.read.QueryRowContext(ctx, s.q("SELECT id FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT 1"), fromSeq).Scan(&fromID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return s.wrap("scan audit", err)
		}
	}
	q := "SELECT " + AuditSelectList + " FROM " + s.audit.ScanFrom +
		" WHERE seq IS NOT NULL AND seq >= ? AND id >= ? ORDER BY id LIMIT ?"
	for {
		n, last := 0, fromID
		err := s.scanAudit(ctx, q, []any{fromSeq, fromID, scanPage}, func(e *chain.Event) error {
			n, last = n+1, e.ID
			return fn(e)
		})
		if err != nil || n < scanPage {
			return err
		}
		fromID = last + 1
	}
}

// scanPage is how many events a query of ScanAudit reads.
const scanPage = 5000

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
// event at or after the first id the time blocks give [since, until) (an
// event a little before since may come first; none in the range is
// skipped). With no event in the range, one past the head.
func (s *Store) AuditSeqFloor(ctx context.Context, since, until time.Time) (int64, error) {
	if since.IsZero() {
		return 0, nil
	}
	if until.IsZero() {
		until = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var seq sql.NullInt64
	first, _, found, err := s.blocks.IDRange(ctx, s.read, since, until)
	if err != nil {
		return 0, s.wrap("audit seq floor", err)
	}
	if found {
		err = s.read.QueryRowContext(ctx, s.q("SELECT seq FROM audit_events WHERE id >= ? AND seq IS NOT NULL ORDER BY id LIMIT 1"), first).Scan(&seq)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, s.wrap("audit seq floor", err)
		}
	}
	if seq.Valid {
		return seq.Int64, nil
	}
	head, _, err := s.AuditHead(ctx)
	return head + 1, err
}
