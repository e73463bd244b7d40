package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrate applies pending migrations, each in its own IMMEDIATE transaction
// that also records it in schema_migrations. The transaction holds SQLite's
// write lock while it checks whether the version is applied, so Migrate is
// idempotent and safe when several processes run it at once.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL -- microseconds since the Unix epoch
	) STRICT`); err != nil {
		return wrap("migrate: create schema_migrations", err)
	}
	for _, m := range ms {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx,
				`SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				m.Version, store.Now().UnixMicro())
			return err
		})
		if err != nil {
			return wrap("migrate: "+m.Name, err)
		}
	}
	return nil
}
