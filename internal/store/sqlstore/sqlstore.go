// Package sqlstore is the one implementation of store.Store, over
// database/sql, that the SQLite and PostgreSQL backends share. A backend
// opens its connection pools, supplies its Dialect and migrations, and
// calls New; the queries, their encoding and error mapping, transactions,
// the hash-chained audit append and the checkpoints are written once, here.
//
// Queries are written with '?' placeholders (rebound once per statement
// text for PostgreSQL), with the SQL both databases accept: RETURNING,
// ON CONFLICT ... DO UPDATE, aliased subqueries.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Config is what a backend gives New.
type Config struct {
	Dialect Dialect
	// Write runs every write transaction and the reads that must see the
	// latest writes; Read runs the other queries. They may be one pool.
	// With SQLite, Write has exactly one connection, whose transactions
	// begin IMMEDIATE.
	Write, Read *sql.DB
	// Clock is the store's notion of now; nil means the system clock.
	Clock clock.Clock
	// Migrations holds the backend's NNNN_description.sql files in
	// MigrationsDir.
	Migrations    fs.FS
	MigrationsDir string
}

// Store implements store.Store over database/sql.
type Store struct {
	d           Dialect
	audit       AuditSQL
	write, read *sql.DB
	clock       clock.Clock
	rb          rebinder
	migrations  fs.FS
	migDir      string

	tokenByHash  *lazyStmt
	auditTail    *lazyStmt
	auditInserts []*lazyStmt // one per size in audit.Chunks, or the one InsertArrays
	blocks       *BlockIndex
	indexWrites  []*lazyStmt // blocks.Writes()

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// New returns a store over c's pools. It does not connect or migrate. It
// panics if the dialect's audit chunks cannot write every batch size.
func New(c Config) *Store {
	if c.Read == nil {
		c.Read = c.Write
	}
	if ch := c.Dialect.Audit().Chunks; c.Dialect.Audit().InsertArrays == "" &&
		(len(ch) == 0 || ch[len(ch)-1] != 1 || !slices.IsSortedFunc(ch, func(a, b int) int { return b - a })) {
		panic(fmt.Sprintf("sqlstore: %s: audit chunks %v must be largest first and end with 1", c.Dialect.Name(), ch))
	}
	s := &Store{
		d: c.Dialect, audit: c.Dialect.Audit(), write: c.Write, read: c.Read,
		clock: clock.Or(c.Clock), rb: rebinder{style: c.Dialect.Placeholders()},
		migrations: c.Migrations, migDir: c.MigrationsDir,
	}
	// The hot statements are prepared on first use (not here: Open comes
	// before Migrate creates the tables they name).
	s.tokenByHash = s.stmt(s.read, selectToken+` WHERE hash = ?`)
	s.auditTail = s.stmt(s.write, auditTailQuery(s.audit.LastID))
	if s.audit.InsertArrays != "" {
		s.auditInserts = []*lazyStmt{s.stmt(s.write, s.audit.InsertArrays)}
	} else {
		for _, n := range s.audit.Chunks {
			s.auditInserts = append(s.auditInserts, s.stmt(s.write, auditInsertQuery(s.audit, n)))
		}
	}
	s.blocks = NewBlockIndex(c.Dialect, s.audit.Blocks)
	for _, q := range s.blocks.Writes() {
		s.indexWrites = append(s.indexWrites, s.stmt(s.write, q))
	}
	return s
}

// now is the clock's time as stored.
func (s *Store) now() time.Time { return store.NormalizeTime(s.clock.Now()) }

// orNow returns at normalized, or now if at is zero.
func (s *Store) orNow(at time.Time) time.Time {
	if at.IsZero() {
		return s.now()
	}
	return store.NormalizeTime(at)
}

// q returns query with the dialect's placeholders.
func (s *Store) q(query string) string { return s.rb.q(query) }

// t encodes a time parameter.
func (s *Store) t(at time.Time) any { return s.d.EncodeTime(at) }

// inTx runs fn in a write transaction and commits it if fn returns nil.
// With SQLite fn must not use s.write: its only connection is busy.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Ping checks that the database answers on every pool.
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range s.pools() {
		if err := db.PingContext(ctx); err != nil {
			return s.wrap("ping", err)
		}
	}
	return nil
}

// Close closes the prepared statements and the pools. It is safe to call
// more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, l := range slices.Concat([]*lazyStmt{s.tokenByHash, s.auditTail}, s.auditInserts, s.indexWrites) {
			errs = append(errs, l.close())
		}
		for _, db := range s.pools() {
			errs = append(errs, db.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("%s: close: %w", s.d.Name(), err)
		}
	})
	return s.closeErr
}

// pools returns the write pool and, if it is another one, the read pool.
func (s *Store) pools() []*sql.DB {
	if s.read == s.write {
		return []*sql.DB{s.write}
	}
	return []*sql.DB{s.write, s.read}
}
