package storeopen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres/pgtest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		dsn, backend, target string
	}{
		{"sqlite:/var/lib/gw/gw.db", SQLite, "/var/lib/gw/gw.db"},
		{"sqlite:gw.db", SQLite, "gw.db"},
		{"sqlite:data/gw", SQLite, "data/gw"},
		{"SQLite:/x/gw.db", SQLite, "/x/gw.db"},
		{"sqlite:///var/lib/gw/gw.db", SQLite, "/var/lib/gw/gw.db"},
		{"sqlite://rel/gw.db", SQLite, "rel/gw.db"},
		{"/var/lib/gw/gw.db", SQLite, "/var/lib/gw/gw.db"},
		{"gw.db", SQLite, "gw.db"},
		{"./state/GW.DB", SQLite, "./state/GW.DB"},
		{"gw.sqlite3", SQLite, "gw.sqlite3"},
		{"postgres://u:p@db/gw?sslmode=disable", Postgres, "postgres://u:p@db/gw?sslmode=disable"},
		{"postgresql://db/gw", Postgres, "postgresql://db/gw"},
		{"POSTGRES://db/gw", Postgres, "POSTGRES://db/gw"},
	}
	for _, tt := range tests {
		backend, target, err := Parse(tt.dsn)
		if err != nil || backend != tt.backend || target != tt.target {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q", tt.dsn, backend, target, err, tt.backend, tt.target)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		dsn  string
		want []string // substrings of the error
	}{
		{"", []string{"empty"}},
		{"   ", []string{"empty"}},
		{"sqlite:", []string{"no path"}},
		{"sqlite://", []string{"no path"}},
		{"mysql://root:hunter2@db/gw", []string{`scheme "mysql"`, "root:xxxxx@db"}},
		{"http://example.com/gw.db", []string{`scheme "http"`}},
		{"file:gw.db?x=1", []string{`scheme "file"`}},
		{"host=db user=gw password=hunter2", []string{"unrecognized", "password=xxxxx"}},
		{"gw.txt", []string{"unrecognized", "gw.txt"}},
	}
	for _, tt := range tests {
		_, _, err := Parse(tt.dsn)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", tt.dsn)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%q) error %q does not contain %q", tt.dsn, err, w)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Parse(%q) error reveals the password: %v", tt.dsn, err)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{
		"sqlite:" + filepath.Join(dir, "a", "gw.db"),
		"sqlite://" + filepath.Join(dir, "b", "gw.db"),
		filepath.Join(dir, "c", "gw.db"),
		"sqlite:" + filepath.Join(dir, "a", "gw.db"), // reopen: migrations already applied
	} {
		s, err := Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if _, err := s.ListUsers(t.Context()); err != nil {
			t.Errorf("Open(%q) did not migrate: %v", dsn, err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
	for _, sub := range []string{"a", "b", "c"} {
		if _, err := os.Stat(filepath.Join(dir, sub, "gw.db")); err != nil {
			t.Error(err)
		}
	}
}

// Options reach the backend: the store takes its time from the clock given.
func TestOpenWithClock(t *testing.T) {
	at := time.Date(2001, 2, 3, 4, 5, 6, 7008, time.UTC)
	dsns := []string{"sqlite:" + filepath.Join(t.TempDir(), "gw.db")}
	if os.Getenv(pgtest.EnvDSN) != "" || os.Getenv(pgtest.EnvRequireAll) == "1" {
		dsns = append(dsns, pgtest.FreshSchema(t))
	}
	for _, dsn := range dsns {
		s, err := Open(t.Context(), dsn, store.WithClock(clock.NewFake(at)))
		if err != nil {
			t.Fatalf("Open(%s): %v", store.RedactDSN(dsn), err)
		}
		defer s.Close()
		u := &store.User{Email: "clock@example.com"}
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		if !u.CreatedAt.Equal(store.NormalizeTime(at)) {
			t.Errorf("%s: CreatedAt %v, want the given clock's %v", store.RedactDSN(dsn), u.CreatedAt, at)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), "mysql://root:hunter2@db/gw"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open(mysql://...) error = %v", err)
	}
	// A directory where the database file should be.
	dir := t.TempDir()
	if s, err := Open(t.Context(), "sqlite:"+dir); err == nil {
		s.Close()
		t.Error("Open of a directory succeeded")
	}
}

func TestOpenPostgres(t *testing.T) {
	dsn := pgtest.FreshSchema(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open(%s): %v", store.RedactDSN(dsn), err)
	}
	defer s.Close()
	u := &store.User{Email: "pg@example.com"}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	// Opening again migrates nothing and finds the data.
	s2, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.GetUserByEmail(t.Context(), "PG@example.com"); err != nil {
		t.Fatal(err)
	}
}
