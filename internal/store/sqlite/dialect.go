package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
)

// Dialect is SQLite's sqlstore.Dialect.
type Dialect struct{}

var _ sqlstore.Dialect = Dialect{}

// Name implements sqlstore.Dialect.
func (Dialect) Name() string { return "sqlite" }

// Placeholders implements sqlstore.Dialect: '?'.
func (Dialect) Placeholders() sqlstore.Placeholders { return sqlstore.Question }

// EncodeTime implements sqlstore.Dialect: INTEGER microseconds since the
// Unix epoch, NULL for the zero time.
func (Dialect) EncodeTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return store.NormalizeTime(t).UnixMicro()
}

// DecodeTime implements sqlstore.Dialect.
func (Dialect) DecodeTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, nil
	case int64:
		return time.UnixMicro(v).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("sqlite: a time column holds %T, want INTEGER microseconds", src)
}

// EncodeBool implements sqlstore.Dialect: STRICT tables want INTEGER 0 or
// 1.
func (Dialect) EncodeBool(b bool) any {
	if b {
		return int64(1)
	}
	return int64(0)
}

// EncodePermissions implements sqlstore.Dialect: a JSON array of strings
// in a TEXT column ("[]" for none).
func (Dialect) EncodePermissions(p []string) (any, error) {
	if p == nil {
		p = []string{}
	}
	b, err := json.Marshal(p)
	return string(b), err
}

// DecodePermissions implements sqlstore.Dialect.
func (Dialect) DecodePermissions(src any) ([]string, error) {
	var b []byte
	switch v := src.(type) {
	case nil:
		return []string{}, nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return nil, fmt.Errorf("sqlite: permissions column holds %T, want TEXT", src)
	}
	var p []string
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("sqlite: decode permissions: %w", err)
	}
	if p == nil {
		p = []string{}
	}
	return p, nil
}

// Classify implements sqlstore.Dialect with SQLite's extended result codes.
func (Dialect) Classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrNotFound
	}
	return nil
}

// Lock implements sqlstore.Dialect. It has nothing to do: every write
// transaction runs on the one write connection and begins IMMEDIATE, so it
// holds SQLite's write lock, which excludes writers in other processes too.
func (Dialect) Lock(context.Context, *sql.Tx, sqlstore.Lock) error { return nil }

// MigrationsTable implements sqlstore.Dialect.
func (Dialect) MigrationsTable() string {
	return `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL -- microseconds since the Unix epoch
	) STRICT`
}

// Audit implements sqlstore.Dialect.
func (Dialect) Audit() sqlstore.AuditSQL {
	return sqlstore.AuditSQL{
		// OR ROLLBACK: a failed row rolls back the whole transaction,
		// which AppendAudit would do anyway, and SQLite then needs no
		// statement journal for the multi-row INSERT.
		InsertVerb: "INSERT OR ROLLBACK",
		// A few fixed sizes let each statement be parsed once; the largest
		// keeps a statement far below SQLite's 32766 bound variables.
		Chunks: []int{128, 32, 8, 1},
		// The store numbers the rows under the write lock instead of
		// reading them back with RETURNING, which collects the rows in a
		// temporary table. AUTOINCREMENT remembers the largest id ever
		// given in sqlite_sequence, even after a prune.
		LastID: `MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0),
			COALESCE((SELECT MAX(id) FROM audit_events), 0))`,
		// NOT INDEXED walks the table in rowid order instead of sorting a
		// seq-index range, which matters for a million-event verification.
		ScanFrom: "audit_events NOT INDEXED",
		// occurred_at is INTEGER microseconds since the epoch.
		Day: "(occurred_at / 86400000000)",
		// SQLite cannot disable a trigger: drop and recreate them (as in
		// migration 0002) inside the prune's transaction.
		TriggersOff: []string{
			`DROP TRIGGER audit_events_no_delete`,
			`DROP TRIGGER audit_checkpoints_no_delete`,
		},
		TriggersOn: []string{
			`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END`,
			`CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'rack-gateway: audit checkpoints are append-only'); END`,
		},
		Blocks: blockSQL,
	}
}
