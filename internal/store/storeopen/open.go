// Package storeopen opens the store a DSN names and migrates it: "sqlite:PATH"
// (or "sqlite://PATH", or a path ending in .db) for SQLite, "postgres://" or
// "postgresql://" for PostgreSQL.
package storeopen

import (
	"context"
	"fmt"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
)

// Open opens and migrates the store named by dsn.
func Open(ctx context.Context, dsn string) (store.Store, error) {
	var (
		st  store.Store
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		st, err = openSQLite(strings.TrimPrefix(dsn, "sqlite://"))
	case strings.HasPrefix(dsn, "sqlite:"):
		st, err = openSQLite(strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasSuffix(dsn, ".db") && !strings.Contains(dsn, "://"):
		st, err = openSQLite(dsn)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		st, err = openPostgres(ctx, dsn)
	default:
		return nil, fmt.Errorf("unsupported database URL %q: want sqlite:PATH or a postgres:// URL", store.RedactDSN(dsn))
	}
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return st, nil
}

func openSQLite(path string) (store.Store, error) {
	s, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	return s, nil
}
