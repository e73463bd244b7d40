package sqlstore

import (
	"context"
	"database/sql"

	"github.com/rack-gateway/rack-gateway/internal/store/internal/migrate"
)

// Migrate implements store.Migrator. Each migration runs in its own write
// transaction that takes LockMigrate, creates schema_migrations if needed,
// checks whether the version is applied, and applies and records it if
// not; so concurrent callers, in this or other processes, apply each
// migration exactly once.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrate.Load(s.migrations, s.migDir)
	if err != nil {
		return s.errorf("%w", err)
	}
	// The gateway's runtime role may not create anything in the schema
	// (PostgreSQL 15's default for public, and the README's setup), so even
	// CREATE TABLE IF NOT EXISTS fails for it. When every migration is
	// recorded already there is nothing to do: find that out with a read the
	// runtime role is granted. Otherwise go on, and fail as that role.
	if s.allApplied(ctx, ms) {
		return nil
	}
	for _, m := range ms {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if err := s.d.Lock(ctx, tx, LockMigrate); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.d.MigrationsTable()); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM schema_migrations WHERE version = ?`), m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
				m.Version, s.t(s.now()))
			return err
		})
		if err != nil {
			return s.wrap("migrate: "+m.Name, err)
		}
	}
	return nil
}

// allApplied reports whether schema_migrations records every version of ms.
// Any error (no such table yet) means "not known to be applied".
func (s *Store) allApplied(ctx context.Context, ms []migrate.Migration) bool {
	rows, err := s.write.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return false
	}
	defer rows.Close()
	have := map[int]bool{}
	for rows.Next() {
		var v int
		if rows.Scan(&v) != nil {
			return false
		}
		have[v] = true
	}
	if rows.Err() != nil {
		return false
	}
	for _, m := range ms {
		if !have[m.Version] {
			return false
		}
	}
	return true
}
