package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/auditq"
)

func placeholder(n int) string { return "$" + strconv.Itoa(n) }

var insertAudit = auditq.Insert(placeholder)

// AppendAudit inserts events in order in one transaction and sets their IDs.
func (s *Store) AppendAudit(ctx context.Context, events []*store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	now := store.Now()
	times := make([]time.Time, len(events))
	for i, e := range events {
		if e == nil {
			return errors.New("postgres: append audit: nil event")
		}
		times[i] = store.NormalizeTime(e.Time)
		if times[i].IsZero() {
			times[i] = now
		}
	}
	ids := make([]int64, len(events))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i, e := range events {
			args := auditq.Values(e, encTime)
			args[0] = times[i]
			b.Queue(insertAudit, args...)
		}
		br := tx.SendBatch(ctx, b)
		for i := range events {
			if err := br.QueryRow().Scan(&ids[i]); err != nil {
				_ = br.Close()
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		return wrap("append audit", err)
	}
	for i, e := range events {
		e.ID, e.Time = ids[i], times[i]
	}
	return nil
}

// ListAudit returns events matching f, newest first.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	q, args := auditq.List(f, placeholder, func(t time.Time) any { return t })
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	defer rows.Close()
	events := make([]store.AuditEvent, 0, min(store.AuditLimit(f.Limit), 128))
	for rows.Next() {
		var (
			e  store.AuditEvent
			at pgtype.Timestamptz
		)
		if err := rows.Scan(auditq.ScanTargets(&e, &at)...); err != nil {
			return nil, wrap("list audit", err)
		}
		e.Time = decTime(at)
		events = append(events, e)
	}
	return events, wrap("list audit", rows.Err())
}
