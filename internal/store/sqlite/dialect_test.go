package sqlite_test

import (
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
)

func TestDialect(t *testing.T) {
	storetest.RunDialect(t, sqlite.Dialect{}, open(t).DB(),
		`CREATE TABLE x (id INTEGER PRIMARY KEY, at INTEGER, b INTEGER NOT NULL, p TEXT NOT NULL) STRICT`)
}
