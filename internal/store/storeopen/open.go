// Package storeopen opens the store backend that a DSN names and migrates
// it. It lives apart from package store because it imports both backends,
// which themselves import store.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
)

// Backend names returned by Parse.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// sqliteExts are the file extensions that mark a plain path as SQLite.
var sqliteExts = []string{".db", ".sqlite", ".sqlite3"}

// want is appended to DSN errors.
const want = "want sqlite:PATH, a path ending in .db, or a postgres:// URL"

// Parse reports which backend dsn selects and what to pass to it:
//
//	sqlite:PATH, sqlite://PATH         SQLite database file PATH
//	                                   (sqlite:///abs/gw.db is /abs/gw.db)
//	PATH.db, PATH.sqlite, PATH.sqlite3 SQLite database file
//	postgres://..., postgresql://...   PostgreSQL; dsn is passed to pgx as is
//
// Schemes are matched case-insensitively. Any other DSN is an error that
// names its scheme; error messages never contain a password (see
// store.RedactDSN).
func Parse(dsn string) (backend, target string, err error) {
	lower := strings.ToLower(dsn)
	switch {
	case strings.TrimSpace(dsn) == "":
		return "", "", errors.New("store: empty database DSN; " + want)
	case strings.HasPrefix(lower, "sqlite://"):
		target = dsn[len("sqlite://"):]
	case strings.HasPrefix(lower, "sqlite:"):
		target = dsn[len("sqlite:"):]
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return Postgres, dsn, nil
	default:
		if !strings.Contains(dsn, "://") {
			for _, ext := range sqliteExts {
				if strings.HasSuffix(lower, ext) {
					return SQLite, dsn, nil
				}
			}
		}
		if scheme, _, ok := strings.Cut(dsn, ":"); ok && isScheme(scheme) {
			return "", "", fmt.Errorf("store: unsupported database DSN scheme %q in %q; %s",
				scheme, store.RedactDSN(dsn), want)
		}
		return "", "", fmt.Errorf("store: unrecognized database DSN %q; %s", store.RedactDSN(dsn), want)
	}
	if target == "" {
		return "", "", fmt.Errorf("store: database DSN %q has no path; %s", dsn, want)
	}
	return SQLite, target, nil
}

// Open opens the backend that dsn names (see Parse), with opts, and applies
// pending migrations. On error nothing is left open.
func Open(ctx context.Context, dsn string, opts ...store.Option) (store.Store, error) {
	backend, target, err := Parse(dsn)
	if err != nil {
		return nil, err
	}
	var s store.Store
	switch backend {
	case SQLite:
		s, err = openSQLite(target, opts)
	case Postgres:
		s, err = openPostgres(ctx, target, opts)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return s, nil
}

// openSQLite and openPostgres return a nil interface, not a typed nil
// pointer, on error.
func openSQLite(path string, opts []store.Option) (store.Store, error) {
	s, err := sqlite.Open(path, opts...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func openPostgres(ctx context.Context, dsn string, opts []store.Option) (store.Store, error) {
	s, err := postgres.Open(ctx, dsn, opts...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// isScheme reports whether s looks like a URL scheme of at least two
// characters (so that a Windows drive letter, as in C:\gw, is not one).
func isScheme(s string) bool { return len(s) >= 2 && store.IsScheme(s) }
