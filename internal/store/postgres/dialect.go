package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
)

// SQLSTATE codes mapped to store sentinels.
const (
	uniqueViolation     = "23505" // also primary keys
	foreignKeyViolation = "23503"
)

// Dialect is PostgreSQL's sqlstore.Dialect.
type Dialect struct{}

var _ sqlstore.Dialect = Dialect{}

// Name implements sqlstore.Dialect.
func (Dialect) Name() string { return "postgres" }

// Placeholders implements sqlstore.Dialect: $1, $2, ...
func (Dialect) Placeholders() sqlstore.Placeholders { return sqlstore.Dollar }

// EncodeTime implements sqlstore.Dialect: a timestamptz, NULL for the zero
// time.
func (Dialect) EncodeTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return store.NormalizeTime(t)
}

// DecodeTime implements sqlstore.Dialect.
func (Dialect) DecodeTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return v.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("postgres: a time column holds %T, want timestamptz", src)
}

// EncodeBool implements sqlstore.Dialect: boolean.
func (Dialect) EncodeBool(b bool) any { return b }

// EncodePermissions implements sqlstore.Dialect: text[], which pgx encodes
// from a []string.
func (Dialect) EncodePermissions(p []string) (any, error) {
	if p == nil {
		p = []string{}
	}
	return p, nil
}

// typeMaps decode text[] columns. A pgtype.Map caches scan plans and is
// not safe for concurrent use, so each decode borrows one.
var typeMaps = sync.Pool{New: func() any { return pgtype.NewMap() }}

// DecodePermissions implements sqlstore.Dialect. database/sql hands a
// text[] to a sql.Scanner in PostgreSQL's text format ({a,"b c"}).
func (Dialect) DecodePermissions(src any) ([]string, error) {
	var text []byte
	switch v := src.(type) {
	case nil:
		return []string{}, nil
	case string:
		text = []byte(v)
	case []byte:
		text = v
	default:
		return nil, fmt.Errorf("postgres: permissions column holds %T, want text[]", src)
	}
	m := typeMaps.Get().(*pgtype.Map)
	defer typeMaps.Put(m)
	var p []string
	if err := m.Scan(pgtype.TextArrayOID, pgtype.TextFormatCode, text, &p); err != nil {
		return nil, fmt.Errorf("postgres: decode permissions: %w", err)
	}
	if p == nil {
		p = []string{}
	}
	return p, nil
}

// Classify implements sqlstore.Dialect with SQLSTATE codes.
func (Dialect) Classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case uniqueViolation:
		return store.ErrConflict
	case foreignKeyViolation:
		return store.ErrNotFound
	}
	return nil
}

// Lock implements sqlstore.Dialect with a transaction-scoped advisory lock,
// released at commit or rollback.
func (Dialect) Lock(ctx context.Context, tx *sql.Tx, l sqlstore.Lock) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(l))
	return err
}

// MigrationsTable implements sqlstore.Dialect.
func (Dialect) MigrationsTable() string {
	return `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`
}

// auditChunks are powers of two up to the auditor's largest batch (512
// events, 12,288 parameters, far below PostgreSQL's 65,535): a batch takes
// at most one INSERT per set bit of its size, each a round trip.
var auditChunks = []int{512, 256, 128, 64, 32, 16, 8, 4, 2, 1}

// Audit implements sqlstore.Dialect.
func (Dialect) Audit() sqlstore.AuditSQL {
	return sqlstore.AuditSQL{
		InsertVerb: "INSERT",
		Chunks:     auditChunks,
		// Identity columns number the rows (LastID empty): the store reads
		// them back with RETURNING.
		ScanFrom: "audit_events",
		Day:      "(FLOOR(EXTRACT(EPOCH FROM occurred_at) / 86400)::bigint)",
		// Disabling a trigger needs the table owner, which the gateway's
		// runtime role is not: pruning runs with the owner's DSN. The
		// triggers stay enabled for every other transaction.
		TriggersOff: []string{
			`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`,
			`ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_no_delete`,
		},
		TriggersOn: []string{
			`ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`,
			`ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_no_delete`,
		},
	}
}
