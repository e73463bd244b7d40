// Package postgres is the PostgreSQL backend of store.Store, built on
// github.com/jackc/pgx/v5 and its connection pool.
//
// Times are stored as timestamptz (microsecond precision) and returned in
// UTC; the zero time.Time is stored as NULL. Token permissions are text[].
package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const (
	// minConns is the pool size used when the DSN does not set one and
	// pgx's default is smaller.
	minConns = 8
	// connectTimeout bounds Open's first connection attempt.
	connectTimeout = 10 * time.Second
)

// Store is a store.Store backed by a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or a keyword/value
// string, as accepted by pgx) and checks that it answers. Tables live in the
// connection's current schema (the first schema of search_path, which a DSN
// may set with search_path=... or options=-c search_path=...). Open does not
// migrate; call Migrate. Errors never contain the DSN's password.
func Open(ctx context.Context, dsn string) (*Store, error) {
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
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", store.RedactDSN(dsn), err)
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", store.RedactDSN(dsn), err)
	}
	return &Store{pool: pool}, nil
}

// Pool returns the underlying connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for acquired connections to be released.
// It is safe to call more than once.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
