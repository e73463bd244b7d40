package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// lazyStmt is a hot statement, prepared on first use so that a store
// opens before Migrate has created the tables it names. Parsing it once
// matters for SQLite, whose driver keeps no statement cache.
type lazyStmt struct {
	db    *sql.DB
	query string // in the dialect's syntax

	mu   sync.Mutex
	stmt *sql.Stmt
}

// stmt returns a lazy statement of query on db.
func (s *Store) stmt(db *sql.DB, query string) *lazyStmt {
	return &lazyStmt{db: db, query: s.q(query)}
}

// get prepares the statement if needed. With SQLite's write pool, call it
// before beginning a transaction: the transaction holds the only
// connection.
func (l *lazyStmt) get(ctx context.Context) (*sql.Stmt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stmt == nil {
		st, err := l.db.PrepareContext(ctx, l.query)
		if err != nil {
			return nil, err
		}
		l.stmt = st
	}
	return l.stmt, nil
}

func (l *lazyStmt) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stmt == nil {
		return nil
	}
	err := l.stmt.Close()
	l.stmt = nil
	return err
}
