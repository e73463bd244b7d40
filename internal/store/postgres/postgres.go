// Package postgres is the PostgreSQL backend of store.Store: the shared SQL
// layer (package sqlstore) over database/sql with pgx's driver
// (github.com/jackc/pgx/v5/stdlib). It holds what is particular to
// PostgreSQL: connecting, the migrations, the Dialect, and the grants of
// the runtime role.
//
// Times are stored as timestamptz (microsecond precision) and returned in
// UTC; the zero time.Time is stored as NULL. Token permissions are text[].
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
)

const (
	// minConns is the pool size used when the DSN does not set one and
	// pgx's default is smaller.
	minConns = 8
	// connectTimeout bounds Open's first connection attempt.
	connectTimeout = 10 * time.Second
	// maxConnIdleTime closes connections idle for longer.
	maxConnIdleTime = 5 * time.Minute
)

// Store is a store.Store backed by a PostgreSQL database.
type Store struct {
	*sqlstore.Store
	db *sql.DB
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or a keyword/value
// string, as accepted by pgx, including pgxpool's pool_max_conns and
// friends) and checks that it answers. Tables live in the connection's
// current schema (the first schema of search_path, which a DSN may set with
// search_path=... or options=-c search_path=...). Open does not migrate;
// call Migrate. Errors never contain the DSN's password.
func Open(ctx context.Context, dsn string, opts ...store.Option) (*Store, error) {
	// pgxpool's parser knows the pool_* settings, which must not reach the
	// server as run-time parameters; database/sql then applies them.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors mask the password themselves.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "rack-gateway"
	}
	// pgx defaults to max(4, NumCPU) connections unless the DSN sets
	// pool_max_conns; request handlers, the audit writer and token touches
	// share the pool, so allow a few more on small machines.
	if !strings.Contains(dsn, "pool_max_conns") && cfg.MaxConns < minConns {
		cfg.MaxConns = minConns
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	db.SetMaxOpenConns(int(cfg.MaxConns))
	db.SetMaxIdleConns(int(cfg.MaxConns))
	db.SetConnMaxLifetime(cfg.MaxConnLifetime)
	db.SetConnMaxIdleTime(maxConnIdleTime)
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", store.RedactDSN(dsn), err)
	}
	o := store.ApplyOptions(opts...)
	return &Store{db: db, Store: sqlstore.New(sqlstore.Config{
		Dialect: Dialect{}, Write: db, Read: db, Clock: o.Clock,
		Migrations: migrationFS, MigrationsDir: "migrations",
	})}, nil
}

// DB returns the connection pool, for diagnostics and tests.
func (s *Store) DB() *sql.DB { return s.db }
