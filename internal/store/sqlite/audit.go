package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/auditq"
)

var insertAudit = auditq.Insert(func(int) string { return "?" })

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
	ids := make([]int64, len(events))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, insertAudit)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, e := range events {
			args := auditq.Values(e, encTime)
			args[0] = encTime(times[i])
			if err := st.QueryRowContext(ctx, args...).Scan(&ids[i]); err != nil {
				return err
			}
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
