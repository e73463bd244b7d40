// Package sqlite is the SQLite backend of store.Store, built on the pure-Go
// driver modernc.org/sqlite (driver name "sqlite") and the shared SQL layer
// (package sqlstore). It holds what is particular to SQLite: opening the
// file, the migrations, the Dialect, and the audit block index.
//
// The database runs in WAL mode with foreign keys enforced and synchronous=FULL
// (a committed audit batch survives power loss). SQLite allows one writer at
// a time, so a Store keeps two connection pools on the same file: a write
// pool of exactly one connection, whose transactions begin IMMEDIATE, and a
// read pool of query-only connections. Writers in this process therefore
// queue in database/sql instead of failing with SQLITE_BUSY, readers never
// block the writer, and busy_timeout covers other processes sharing the file.
//
// Times are stored as INTEGER microseconds since the Unix epoch (UTC); the
// zero time.Time is stored as NULL.
package sqlite

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlstore"
)

// BusyTimeoutMS is how long a connection waits for a lock held by another
// connection or process before failing with SQLITE_BUSY.
const BusyTimeoutMS = 5000

// Store is a store.Store backed by one SQLite database file.
type Store struct {
	*sqlstore.Store
	path  string
	write *sql.DB // exactly one connection; BEGIN IMMEDIATE
	read  *sql.DB // query_only connections
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path. The parent
// directory is created with mode 0700 and a new database file with mode
// 0600 if they do not exist. Open does not migrate; call Migrate.
//
// path must name a file: in-memory databases and "file:" URIs are rejected
// because the read and write pools must share one database.
func Open(path string, opts ...store.Option) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: want the path of a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	s := &Store{path: abs}
	s.write, err = sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	// Connect the writer first: it switches the file to WAL mode, which the
	// readers then find in place.
	if err := s.write.Ping(); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	s.read, err = sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		s.write.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.read.SetMaxOpenConns(n)
	s.read.SetMaxIdleConns(n)
	s.read.SetConnMaxLifetime(0)
	s.read.SetConnMaxIdleTime(0)

	o := store.ApplyOptions(opts...)
	s.Store = sqlstore.New(sqlstore.Config{
		Dialect: Dialect{}, Write: s.write, Read: s.read, Clock: o.Clock,
		Migrations: migrationFS, MigrationsDir: "migrations",
	})
	return s, nil
}

// dsn returns the driver DSN for the database file at abs. Both pools wait
// on locks and enforce foreign keys; the writer sets WAL mode, durable
// commits and IMMEDIATE transactions; readers are query-only.
func dsn(abs string, writer bool) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", BusyTimeoutMS)
	if writer {
		q += "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	} else {
		q += "&_pragma=query_only(1)"
	}
	return u.String() + "?" + q
}

// DB returns the write pool, for diagnostics and tests. Its single
// connection is shared with the store's writes: do not hold it (for example
// in a transaction) while calling the store.
func (s *Store) DB() *sql.DB { return s.write }

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }
