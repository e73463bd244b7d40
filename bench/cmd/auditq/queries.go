package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" for the raw queries
	_ "modernc.org/sqlite"             // "sqlite" for the raw queries

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/storeopen"
)

// rawDB opens the database directly, read-only in intent, for the values
// to query with, the plans and the sizes.
func rawDB(dsn string) (*sql.DB, string, error) {
	backend, target, err := backendOf(dsn)
	if err != nil {
		return nil, "", err
	}
	if backend == storeopen.SQLite {
		db, err := sql.Open("sqlite", "file:"+target+"?mode=ro&_pragma=busy_timeout(5000)")
		return db, backend, err
	}
	db, err := sql.Open("pgx", target)
	return db, backend, err
}

// openFlags parses the flags of subcommand name (-db DSN, and those define
// adds) from args and opens the database raw (rawDB). The caller closes
// db.
func openFlags(name string, args []string, define func(*flag.FlagSet)) (db *sql.DB, backend, dsn string, err error) {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.StringVar(&dsn, "db", "", "database DSN")
	if define != nil {
		define(fl)
	}
	if err := fl.Parse(args); err != nil {
		return nil, "", "", err
	}
	if dsn == "" {
		return nil, "", "", fmt.Errorf("%s: -db is required", name)
	}
	db, backend, err = rawDB(dsn)
	return db, backend, dsn, err
}

// values returns the distinct values of col (actor, app, action, rack).
func values(ctx context.Context, db *sql.DB, col string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT DISTINCT "+col+" FROM audit_events WHERE "+col+" <> '' ORDER BY 1")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// bounds returns the id and time range of the log.
func bounds(ctx context.Context, db *sql.DB, backend string) (minID, maxID int64, first, last time.Time, err error) {
	if backend == storeopen.SQLite {
		var a, b int64
		err = db.QueryRowContext(ctx, "SELECT MIN(id), MAX(id), (SELECT occurred_at FROM audit_events ORDER BY id LIMIT 1), (SELECT occurred_at FROM audit_events ORDER BY id DESC LIMIT 1) FROM audit_events").Scan(&minID, &maxID, &a, &b)
		return minID, maxID, time.UnixMicro(a).UTC(), time.UnixMicro(b).UTC(), err
	}
	err = db.QueryRowContext(ctx, "SELECT MIN(id), MAX(id), (SELECT occurred_at FROM audit_events ORDER BY id LIMIT 1), (SELECT occurred_at FROM audit_events ORDER BY id DESC LIMIT 1) FROM audit_events").Scan(&minID, &maxID, &first, &last)
	return minID, maxID, first.UTC(), last.UTC(), err
}

// qcase is one kind of listing; make returns the filter for repetition i.
type qcase struct {
	name string
	make func(i int) store.AuditFilter
}

func queries(ctx context.Context, args []string) error {
	var (
		reps, limit *int
		seed        *uint64
	)
	db, backend, dsn, err := openFlags("queries", args, func(fl *flag.FlagSet) {
		reps = fl.Int("reps", 50, "repetitions per case")
		limit = fl.Int("limit", 101, "page size asked (the console asks its page size + 1)")
		seed = fl.Uint64("seed", 7, "seed for the values queried")
	})
	if err != nil {
		return err
	}
	defer db.Close()
	var actors, apps, actions, rackNames []string
	for col, dst := range map[string]*[]string{"actor": &actors, "app": &apps, "action": &actions, "rack": &rackNames} {
		if *dst, err = values(ctx, db, col); err != nil {
			return err
		}
	}
	minID, maxID, first, last, err := bounds(ctx, db, backend)
	if err != nil {
		return err
	}
	st, err := storeopen.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(*seed, 1))
	pick := func(vs []string) string { return vs[r.IntN(len(vs))] }
	deep := func() int64 { return minID + r.Int64N(max(maxID-minID, 1)) }
	day := func() time.Time {
		days := int64(last.Sub(first) / (24 * time.Hour))
		return first.Truncate(24*time.Hour).AddDate(0, 0, 1+int(r.Int64N(max(days-1, 1))))
	}
	L := *limit
	cases := []qcase{
		{"newest page, no filter", func(int) store.AuditFilter { return store.AuditFilter{Limit: L} }},
		{"deep page (random before id), no filter", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, BeforeID: deep()} }},
		{"actor (random of all)", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, Actor: pick(actors)} }},
		{"actor, deep page", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, Actor: pick(actors), BeforeID: deep()} }},
		{"app (random of all)", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, App: pick(apps)} }},
		{"action (random of all, rare ones included)", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, Action: pick(actions)} }},
		{"decision=deny", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, Decision: "deny"} }},
		{"decision=deny, deep page", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, Decision: "deny", BeforeID: deep()} }},
		{"rack", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, Rack: pick(rackNames)} }},
		{"one day (random day)", func(int) store.AuditFilter {
			d := day()
			return store.AuditFilter{Limit: L, Since: d, Until: d.Add(24 * time.Hour)}
		}},
		{"actor + decision=deny", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, Actor: pick(actors), Decision: "deny"} }},
		{"app + action + one week", func(int) store.AuditFilter {
			d := day()
			return store.AuditFilter{Limit: L, App: pick(apps), Action: "ReleasePromote", Since: d, Until: d.Add(7 * 24 * time.Hour)}
		}},
		{"actor + one day", func(int) store.AuditFilter {
			d := day()
			return store.AuditFilter{Limit: L, Actor: pick(actors), Since: d, Until: d.Add(24 * time.Hour)}
		}},
		// The other pairs of filters the console offers (values at random,
		// so many pairs are rare or never occur: the listing then reads to
		// the end of what it may match).
		{"app + action (random of all)", func(int) store.AuditFilter {
			return store.AuditFilter{Limit: L, App: pick(apps), Action: pick(actions)}
		}},
		{"actor + app", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, Actor: pick(actors), App: pick(apps)} }},
		{"actor + action", func(int) store.AuditFilter {
			return store.AuditFilter{Limit: L, Actor: pick(actors), Action: pick(actions)}
		}},
		{"app + decision=deny", func(int) store.AuditFilter { return store.AuditFilter{Limit: L, App: pick(apps), Decision: "deny"} }},
		{"action + decision=deny", func(int) store.AuditFilter {
			return store.AuditFilter{Limit: L, Action: pick(actions), Decision: "deny"}
		}},
		{"actor + rack", func(int) store.AuditFilter {
			return store.AuditFilter{Limit: L, Actor: pick(actors), Rack: pick(rackNames)}
		}},
		{"app + one day", func(int) store.AuditFilter {
			d := day()
			return store.AuditFilter{Limit: L, App: pick(apps), Since: d, Until: d.Add(24 * time.Hour)}
		}},
		{"action + one day", func(int) store.AuditFilter {
			d := day()
			return store.AuditFilter{Limit: L, Action: pick(actions), Since: d, Until: d.Add(24 * time.Hour)}
		}},
		{"decision=deny + one day", func(int) store.AuditFilter {
			d := day()
			return store.AuditFilter{Limit: L, Decision: "deny", Since: d, Until: d.Add(24 * time.Hour)}
		}},
	}
	fmt.Printf("ListAudit, limit %d, %d repetitions per case (values drawn at random: %d actors, %d apps, %d actions, %d racks), ids %d..%d\n",
		L, *reps, len(actors), len(apps), len(actions), len(rackNames), minID, maxID)
	fmt.Printf("%-46s %9s %9s %9s %8s\n", "case", "p50 ms", "p99 ms", "max ms", "rows")
	worst := time.Duration(0)
	for _, c := range cases {
		ds := make([]time.Duration, 0, *reps)
		var rows int
		for i := range *reps {
			f := c.make(i)
			t0 := time.Now()
			evs, err := st.ListAudit(ctx, f)
			ds = append(ds, time.Since(t0))
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			rows += len(evs)
		}
		slices.Sort(ds)
		p99 := ds[(len(ds)*99+99)/100-1]
		worst = max(worst, p99)
		fmt.Printf("%-46s %9.2f %9.2f %9.2f %8.1f\n", c.name, ms(ds[len(ds)/2]), ms(p99), ms(ds[len(ds)-1]), float64(rows)/float64(len(ds)))
	}
	fmt.Printf("worst p99: %.2f ms\n", ms(worst))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
