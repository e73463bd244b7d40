package postgres_test

import (
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/store/postgres"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
)

func TestDialect(t *testing.T) {
	storetest.RunDialect(t, postgres.Dialect{}, open(t).DB(),
		`CREATE TABLE x (id integer PRIMARY KEY, at timestamptz, b boolean NOT NULL, p text[] NOT NULL)`)
}
