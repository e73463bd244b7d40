package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// explain prints the plan of the plain listing query (what ListAudit runs
// on PostgreSQL, and on SQLite for the filters its block index does not
// serve) for a few filters.
func explain(ctx context.Context, args []string) error {
	db, backend, _, err := openFlags("explain", args, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	_, maxID, first, _, err := bounds(ctx, db, backend)
	if err != nil {
		return err
	}
	day := first.Truncate(24*time.Hour).AddDate(0, 0, 30)
	cases := []struct {
		name string
		f    store.AuditFilter
	}{
		{"actor", store.AuditFilter{Actor: "ada.lovelace@example.com"}},
		{"decision=deny", store.AuditFilter{Decision: "deny"}},
		{"decision=deny, deep page", store.AuditFilter{Decision: "deny", BeforeID: maxID / 2}},
		{"rack", store.AuditFilter{Rack: "staging"}},
		{"one day, 30 days after the first event", store.AuditFilter{Since: day, Until: day.Add(24 * time.Hour)}},
		{"actor + decision=deny", store.AuditFilter{Actor: "ada.lovelace@example.com", Decision: "deny"}},
		{"app + action + one week", store.AuditFilter{App: "billing", Action: "ReleasePromote", Since: day, Until: day.Add(7 * 24 * time.Hour)}},
	}
	for _, c := range cases {
		q, qargs := listQuery(c.f, backend)
		prefix := "EXPLAIN QUERY PLAN "
		if backend == storeopen.Postgres {
			prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
		}
		fmt.Printf("-- %s\n", c.name)
		if err := printRows(ctx, db, prefix+q, qargs...); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

// listQuery is the plain ListAudit query (sqlstore's auditList), with the
// backend's placeholders.
func listQuery(f store.AuditFilter, backend string) (string, []any) {
	enc := sqlite.Dialect{}.EncodeTime
	if backend == storeopen.Postgres {
		enc = postgres.Dialect{}.EncodeTime
	}
	where, args := sqlstore.AuditWhere(f, enc)
	q := "SELECT " + sqlstore.AuditSelectList + " FROM audit_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, store.AuditLimit(101))
	if backend == storeopen.Postgres {
		var b strings.Builder
		n := 0
		for _, r := range q {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		q = b.String()
	}
	return q, args
}

func printRows(ctx context.Context, db *sql.DB, q string, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
			if b, ok := v.([]byte); ok {
				parts[i] = string(b)
			}
		}
		// EXPLAIN QUERY PLAN's last column is the step; the others are ids.
		fmt.Println("   ", parts[len(parts)-1])
	}
	return rows.Err()
}
