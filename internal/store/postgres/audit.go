package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/auditq"
)

// auditLockKey is the pg_advisory_xact_lock key that serializes AppendAudit
// ("rgw-audi").
const auditLockKey int64 = 0x7267772d61756469

func placeholder(n int) string { return "$" + strconv.Itoa(n) }

var insertAudit = auditq.Insert(placeholder)

// AppendAudit inserts events in order in one transaction and, once it has
// committed, sets each event's ID and normalizes its Time (a zero Time
// becomes the current time). The inserts are sent as one pipelined batch.
//
// The transaction takes an advisory lock first, so appends commit one at a
// time and IDs are strictly increasing in commit order; without it a reader
// paging with BeforeID could miss an event whose lower ID committed late.
func (s *Store) AppendAudit(ctx context.Context, events []*chain.Event) error {
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
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			headSeq  int64
			headHash []byte
		)
		b := &pgx.Batch{}
		b.Queue(`SELECT pg_advisory_xact_lock($1)`, auditLockKey)
		b.Queue(selectHead).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&headSeq, &headHash)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		for i, e := range events {
			e.Time = times[i]
		}
		chain.Link(headSeq, headHash, events)
		b = &pgx.Batch{}
		for i, e := range events {
			args := auditq.Values(e, encTime)
			args[0] = times[i]
			b.Queue(insertAudit, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&ids[i]) })
		}
		return tx.SendBatch(ctx, b).Close()
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
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]chain.Event, error) {
	q, args := auditq.List(f, placeholder, encTime)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chain.Event, error) {
		var (
			e  chain.Event
			at pgtype.Timestamptz
		)
		err := r.Scan(auditq.ScanTargets(&e, &at)...)
		e.Time = decTime(at)
		return e, err
	})
	if err != nil {
		return nil, wrap("list audit", err)
	}
	return nonNil(events), nil
}
