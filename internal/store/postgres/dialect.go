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

// auditInsert writes a whole batch of audit rows in one statement, one
// array per column (the order of sqlstore's auditColumns): one round trip
// under the audit lock whatever the batch size, where multi-row VALUES
// took one per chunk size. unnest yields the rows in array order, so the
// identity ids follow seq.
const auditInsert = `INSERT INTO audit_events (occurred_at, request_id, rack, actor_type, actor, actor_id,
	token_id, role, source_ip, user_agent, method, path, route,
	action, app, resource, permission, decision, reason, status,
	duration_us, details, seq, hash)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
	$7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
	$14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::integer[],
	$21::bigint[], $22::text[], $23::bigint[], $24::bytea[])
RETURNING id, seq`

// Audit implements sqlstore.Dialect.
func (Dialect) Audit() sqlstore.AuditSQL {
	return sqlstore.AuditSQL{
		InsertArrays: auditInsert, // InsertVerb and Chunks are for multi-row VALUES, not used
		// Identity columns number the rows (LastID empty): the store reads
		// them back with RETURNING.
		ScanFrom: "audit_events",
		Blocks:   blockSQL,
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
