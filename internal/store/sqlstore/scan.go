package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// timeDest is a scan destination that decodes a time column with the
// dialect.
type timeDest struct {
	d   Dialect
	dst *time.Time
}

func (t *timeDest) Scan(src any) error {
	v, err := t.d.DecodeTime(src)
	*t.dst = v
	return err
}

// td returns a scan destination for a time column.
func (s *Store) td(dst *time.Time) any { return &timeDest{s.d, dst} }

// permsDest is a scan destination that decodes a permissions column with
// the dialect.
type permsDest struct {
	d   Dialect
	dst *[]string
}

func (p *permsDest) Scan(src any) error {
	v, err := p.d.DecodePermissions(src)
	*p.dst = v
	return err
}

// list runs q (with '?' placeholders) on db and scans every row with
// scan; the result is never nil.
func list[T any](ctx context.Context, s *Store, db *sql.DB, q string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// nullID encodes an optional reference: 0 is NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// cond is an optional condition of a listing's WHERE clause.
type cond struct {
	sql string // " AND column = ?"
	v   any
	on  bool
}

// page appends to q the conditions that are on, newest first, and the
// limit (default 100, at most 1000), with their arguments after args.
func page(q string, args []any, conds []cond, limit int) (string, []any) {
	for _, c := range conds {
		if c.on {
			q, args = q+c.sql, append(args, c.v)
		}
	}
	if limit <= 0 {
		limit = 100
	}
	return q + ` ORDER BY id DESC LIMIT ?`, append(args, min(limit, 1000))
}
