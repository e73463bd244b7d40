package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// Dialect is what differs between the databases under one SQL layer:
// parameter syntax, how values are encoded, how errors are classified, how
// transactions are serialized across processes, and the audit log's
// dialect-specific pieces. The SQL text of the queries is shared; a Dialect
// is stateless.
type Dialect interface {
	// Name prefixes the store's errors ("sqlite", "postgres").
	Name() string
	// Placeholders is the bind parameter syntax; the shared queries are
	// written with '?' and rebound once per statement text.
	Placeholders() Placeholders

	// EncodeTime returns t as a parameter: NULL (nil) when zero, else t
	// normalized (store.NormalizeTime) in the column's encoding.
	EncodeTime(t time.Time) any
	// DecodeTime converts a scanned time column (nil for NULL, which is
	// the zero time) to a UTC time.Time.
	DecodeTime(src any) (time.Time, error)
	// EncodeBool returns b as a parameter.
	EncodeBool(b bool) any
	// EncodePermissions returns a token's permissions (nil: none) as a
	// parameter.
	EncodePermissions(p []string) (any, error)
	// DecodePermissions converts a scanned permissions column to a
	// non-nil slice.
	DecodePermissions(src any) ([]string, error)

	// Classify returns store.ErrConflict for unique and primary-key
	// violations, store.ErrNotFound for foreign-key violations (a
	// reference to a missing row), and nil for any other error.
	Classify(err error) error
	// Lock serializes tx with every other transaction that takes l, in
	// this process and any other using the database, until tx ends.
	Lock(ctx context.Context, tx *sql.Tx, l Lock) error
	// MigrationsTable is the DDL that creates schema_migrations (version,
	// applied_at) if it does not exist.
	MigrationsTable() string
	// Audit is how the dialect writes, lists, scans and prunes the audit
	// log where the databases truly differ.
	Audit() AuditSQL
}

// Placeholders is a bind parameter syntax.
type Placeholders int

const (
	// Question is '?' for every parameter (SQLite).
	Question Placeholders = iota
	// Dollar is $1, $2, ... (PostgreSQL).
	Dollar
)

// Lock names a lock that serializes transactions across processes. The
// values are PostgreSQL advisory lock keys and must never change: replicas
// of different versions share them.
type Lock int64

const (
	// LockAudit serializes audit appends, checkpoints and prunes
	// ("rgw-audi"), so that the chain head read in one is the one it
	// extends, and ids increase in commit order.
	LockAudit Lock = 0x7267772d61756469
	// LockMigrate serializes migrations ("rgw-migr").
	LockMigrate Lock = 0x7267772d6d696772
)

// AuditSQL is how a dialect's audit log differs from the shared SQL.
type AuditSQL struct {
	// InsertVerb starts the multi-row INSERT of audit rows: "INSERT", or
	// a variant such as SQLite's "INSERT OR ROLLBACK".
	InsertVerb string
	// Chunks are the row counts of the prepared multi-row INSERTs, largest
	// first and ending with 1; a batch is written as the fewest chunks of
	// these sizes (largest first), so each statement is parsed once.
	Chunks []int
	// InsertArrays, if set, replaces Chunks: one INSERT of any number of
	// audit rows, taking one array parameter per column of auditColumns
	// (in order: timestamps, texts, integers, byte strings as the columns
	// are) and returning id, seq, so a batch is one statement and one
	// round trip whatever its size.
	InsertArrays string
	// LastID is an SQL expression for the largest audit id ever given,
	// read under LockAudit: the store then numbers the rows itself and
	// inserts the ids. Empty means the database numbers them and the
	// store reads them back with RETURNING id, seq.
	LastID string
	// ScanFrom is the FROM clause of ScanAudit ("audit_events", or with a
	// hint that keeps a full scan in id order).
	ScanFrom string
	// TriggersOff and TriggersOn suspend and restore the append-only
	// triggers of audit_events and audit_checkpoints around PruneAudit's
	// deletes, inside its transaction.
	TriggersOff, TriggersOn []string
	// Blocks is how the dialect stores the block index (auditblocks.go),
	// which the store keeps instead of per-event indexes.
	Blocks BlockSQL
	// Day is an SQL expression of occurred_at: the UTC day as a whole
	// number of days since 1970-01-01 (AuditActivity groups by it).
	Day string
}

// AuditQuery runs q, a SELECT of AuditSelectList with '?' placeholders, on
// the read pool and returns its events (the block index's listings).
type AuditQuery func(ctx context.Context, q string, args ...any) ([]chain.Event, error)
