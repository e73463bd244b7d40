package sqlstore

import (
	"context"
	"database/sql"
	"errors"

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
	q, args := auditList(f, s.d.EncodeTime)
	events, err := s.queryAudit(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list audit", err)
	}
	return nonNil(events), nil
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
// lock, so id order is append order.
func (s *Store) ScanAudit(ctx context.Context, fromSeq int64, fn func(*chain.Event) error) error {
	rows, err := s.read.QueryContext(ctx, s.q("SELECT "+AuditSelectList+" FROM "+s.audit.ScanFrom+
		" WHERE seq IS NOT NULL AND seq >= ? ORDER BY id"), fromSeq)
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
