package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// AuditEvent implements store.AuditStats (the unique index on seq).
func (s *Store) AuditEvent(ctx context.Context, seq int64) (chain.Event, error) {
	var e chain.Event
	err := s.read.QueryRowContext(ctx, s.q("SELECT "+AuditSelectList+" FROM audit_events WHERE seq = ?"), seq).
		Scan(s.auditTargets(&e)...)
	if errors.Is(err, sql.ErrNoRows) {
		return chain.Event{}, store.ErrNotFound
	}
	return e, s.wrap("audit event", err)
}

// AuditActivity implements store.AuditStats: two GROUP BY queries over the
// filtered range, which the database aggregates; only a day per row and
// top rows come back. The range is bounded by ids first (the time blocks).
func (s *Store) AuditActivity(ctx context.Context, f store.AuditFilter, by string, top int) (store.AuditActivity, error) {
	var out store.AuditActivity
	switch {
	case by != store.ByActor && by != store.ByAction:
		return out, fmt.Errorf("audit activity: breakdown %q: want %q or %q", by, store.ByActor, store.ByAction)
	case f.Since.IsZero() || f.Until.IsZero() || !f.Until.After(f.Since):
		return out, errors.New("audit activity: a range with a start and a later end is required")
	case f.Until.Sub(f.Since) > store.MaxActivityDays*24*time.Hour:
		return out, fmt.Errorf("audit activity: at most %d days", store.MaxActivityDays)
	case s.audit.Day == "":
		return out, errors.New("audit activity: the dialect has no day expression")
	}
	f.BeforeID, f.Limit = 0, 0
	where, args := AuditWhere(f, s.d.EncodeTime)
	// The time blocks bound the range by ids: there is no index of
	// occurred_at.
	first, last, found, err := s.blocks.IDRange(ctx, s.read, f.Since, f.Until)
	if err != nil {
		return out, s.wrap("audit activity", err)
	}
	if !found {
		return out, nil
	}
	where, args = append(where, "id BETWEEN ? AND ?"), append(args, first, last)
	cond := strings.Join(where, " AND ")
	const denials = "SUM(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END)"
	rows, err := s.read.QueryContext(ctx, s.q("SELECT "+s.audit.Day+" AS day, COUNT(*), "+denials+
		" FROM audit_events WHERE "+cond+" GROUP BY day ORDER BY day"), args...)
	if err != nil {
		return out, s.wrap("audit activity", err)
	}
	for rows.Next() {
		var (
			day int64
			d   store.AuditDay
		)
		if err := rows.Scan(&day, &d.Events, &d.Denials); err != nil {
			rows.Close()
			return out, s.wrap("audit activity", err)
		}
		d.Day = time.Unix(day*86400, 0).UTC()
		out.Days = append(out.Days, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, s.wrap("audit activity", err)
	}
	if top <= 0 {
		return out, nil
	}
	// by is one of two column names (checked above), never input.
	rows, err = s.read.QueryContext(ctx, s.q("SELECT "+by+", COUNT(*) AS n, "+denials+
		" FROM audit_events WHERE "+cond+" GROUP BY "+by+" ORDER BY n DESC, "+by+" LIMIT ?"), append(args, top)...)
	if err != nil {
		return out, s.wrap("audit activity", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c store.AuditCount
		if err := rows.Scan(&c.Key, &c.Events, &c.Denials); err != nil {
			return out, s.wrap("audit activity", err)
		}
		out.Top = append(out.Top, c)
	}
	return out, s.wrap("audit activity", rows.Err())
}

// CoveringCheckpoint implements store.AuditStats (the primary key on seq).
func (s *Store) CoveringCheckpoint(ctx context.Context, seq int64) (store.Checkpoint, int64, error) {
	c, err := s.scanCheckpoint(s.read.QueryRowContext(ctx, s.q(selectCheckpoint+` WHERE seq >= ? ORDER BY seq LIMIT 1`), seq))
	if err != nil {
		return store.Checkpoint{}, 0, s.wrap("covering checkpoint", err)
	}
	var before int64
	if err := s.read.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints WHERE seq < ?`), c.Seq).
		Scan(&before); err != nil {
		return store.Checkpoint{}, 0, s.wrap("covering checkpoint", err)
	}
	return c, before + 1, nil
}

// LastCheckpoint implements store.AuditStats. Checkpoints are anchored in
// order, so the newest anchored one is near the end of the seq index.
func (s *Store) LastCheckpoint(ctx context.Context, anchored bool) (store.Checkpoint, error) {
	q := selectCheckpoint + ` ORDER BY seq DESC LIMIT 1`
	if anchored {
		q = selectCheckpoint + ` WHERE anchored_at IS NOT NULL ORDER BY seq DESC LIMIT 1`
	}
	c, err := s.scanCheckpoint(s.read.QueryRowContext(ctx, s.q(q)))
	if err != nil {
		return store.Checkpoint{}, s.wrap("last checkpoint", err)
	}
	return c, nil
}
