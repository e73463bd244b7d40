// Package pgtest gives tests a throwaway PostgreSQL schema. Tests find the
// server through RGW_TEST_POSTGRES_DSN; without it they skip, or fail when
// RGW_REQUIRE_ALL=1 (as in CI).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by DSN.
const (
	EnvDSN        = "RGW_TEST_POSTGRES_DSN"
	EnvRequireAll = "RGW_REQUIRE_ALL"
)

// DSN returns the test server's DSN. When EnvDSN is unset it skips t, or
// fails it if EnvRequireAll is "1".
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv(EnvRequireAll) == "1" {
			t.Fatal("RGW_TEST_POSTGRES_DSN not set but RGW_REQUIRE_ALL=1")
		}
		t.Skip("RGW_TEST_POSTGRES_DSN not set; skipping PostgreSQL tests")
	}
	return dsn
}

// FreshSchema creates a uniquely named, empty schema on the test server and
// returns a DSN whose search_path selects it. The schema is dropped when the
// test ends (after cleanups registered later, such as closing stores).
func FreshSchema(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "rgw_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec(ctx, dsn, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, dsn, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(t, dsn, schema)
}

// WithSearchPath returns dsn (URL or keyword/value form) with search_path
// set to schema.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("pgtest: %s is not a valid URL", EnvDSN)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// LoginRole creates the login role role on the test server (dropping one an
// earlier run left), drops it with what it owns when the test ends, and
// returns dsn with its user replaced by role, on the same search_path. It
// grants nothing: the caller gives the role what the test needs.
func LoginRole(t testing.TB, dsn, role string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec(ctx, dsn, "DROP ROLE IF EXISTS "+role+"; CREATE ROLE "+role+" LOGIN"); err != nil {
		t.Fatalf("pgtest: create role %s: %v", role, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = exec(ctx, dsn, "DROP OWNED BY "+role+"; DROP ROLE IF EXISTS "+role)
	})
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + cfg.Database}
	q := url.Values{"sslmode": {"disable"}}
	if sp, ok := cfg.RuntimeParams["search_path"]; ok {
		q.Set("search_path", sp)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs sql on a connection of its own to dsn.
func exec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
