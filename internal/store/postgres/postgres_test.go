package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres/pgtest"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
)

// open returns a migrated store in a fresh schema, closed at cleanup.
func open(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.FreshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pgtest.DSN(t) // skip (or fail) once rather than in every subtest
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// Several processes' worth of pools migrating one schema at once must all
// succeed and apply each migration exactly once.
func TestConcurrentMigrateAcrossPools(t *testing.T) {
	dsn := pgtest.FreshSchema(t)
	const n = 4
	stores := make([]*postgres.Store, n)
	for i := range stores {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, s := range stores {
		wg.Go(func() { errs <- s.Migrate(t.Context()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	var rows, versions int
	err := stores[0].Pool().QueryRow(t.Context(),
		`SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions)
	if err != nil {
		t.Fatal(err)
	}
	if rows == 0 || rows != versions {
		t.Fatalf("schema_migrations has %d rows for %d versions", rows, versions)
	}
	// Every pool sees a working schema.
	for i, s := range stores {
		if err := s.CreateUser(t.Context(), &store.User{Email: string(rune('a'+i)) + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
}

// Open's errors must not reveal the DSN's password. These DSNs need no
// server.
func TestOpenErrorsHidePassword(t *testing.T) {
	const secret = "s3cr3tpw"
	for _, dsn := range []string{
		"postgres://gw:" + secret + "@127.0.0.1:1/gw?sslmode=disable&connect_timeout=2",
		"postgres://gw:" + secret + "@127.0.0.1:notaport/gw",
		"postgres://127.0.0.1:1/gw?sslmode=disable&connect_timeout=2&password=" + secret,
		"host=127.0.0.1 port=1 user=gw password=" + secret + " sslmode=disable connect_timeout=2",
	} {
		s, err := postgres.Open(t.Context(), dsn)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%s) succeeded", store.RedactDSN(dsn))
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open error reveals the password: %v", err)
		}
	}
}

func BenchmarkGetTokenByHash(b *testing.B) {
	s := open(b)
	storetest.BenchGetTokenByHash(b, s)
}

func BenchmarkAppendAudit(b *testing.B) {
	s := open(b)
	storetest.BenchAppendAudit(b, s, 64)
}
