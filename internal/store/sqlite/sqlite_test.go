package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
)

// open returns a migrated store in a new temporary file, closed at cleanup.
func open(t testing.TB, opts ...store.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "gw.db"), opts...)
	return storetest.Migrated(t, s, err)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c clock.Clock) store.Store { return open(t, store.WithClock(c)) })
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "db")
	path := filepath.Join(dir, "gw.db")
	s, err := sqlite.Open(path)
	storetest.Migrated(t, s, err)
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Dir(dir): 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got&^0o077 != want&^0o077 || got.Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:gw.db?mode=memory"} {
		if s, err := sqlite.Open(p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "we?ird #dir%20", "g w.db")
	s, err := sqlite.Open(path)
	storetest.Migrated(t, s, err)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(filepath.Dir(path)))
	if len(entries) != 1 {
		t.Errorf("stray files next to the database directory: %v", entries)
	}
}

func TestPragmas(t *testing.T) {
	s := open(t)
	db := s.DB()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"synchronous":  "2",
	} {
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(got, want) {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

// Two Stores on one file behave like two processes: migrations apply once,
// and concurrent writers wait for each other instead of failing with
// SQLITE_BUSY.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.db")
	var stores [2]*sqlite.Store
	for i := range stores {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, s := range stores {
		wg.Go(func() { errs <- s.Migrate(t.Context()) })
	}
	wg.Wait()
	for w := range 8 {
		s := stores[w%2]
		wg.Go(func() {
			for range 25 {
				if err := s.AppendAudit(t.Context(), []*chain.Event{{Action: "a"}, {Action: "b"}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := stores[1].ListAudit(t.Context(), store.AuditFilter{Limit: store.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8*25*2 {
		t.Fatalf("%d events, want %d", len(got), 8*25*2)
	}
}

func BenchmarkGetTokenByHash(b *testing.B) {
	storetest.BenchGetTokenByHash(b, open(b))
}

// BenchmarkAppendAudit appends a full batch of reads (64) and a batch of
// the odd size a write-ahead group commit has (37 events).
func BenchmarkAppendAudit(b *testing.B) {
	s := open(b)
	for _, size := range []int{64, 37} {
		b.Run(fmt.Sprint(size), func(b *testing.B) { storetest.BenchAppendAudit(b, s, size) })
	}
}

// Triggers refuse UPDATE and DELETE of audit rows and checkpoints to any
// writer of the file, not only to the gateway.
func TestAuditAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.db")
	s, err := sqlite.Open(path)
	storetest.Migrated(t, s, err)
	if err := s.AppendAudit(t.Context(), []*chain.Event{{Action: "a"}, {Action: "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddCheckpoint(t.Context(), func(_ *store.Checkpoint, seq int64, _ []byte) (*store.Checkpoint, error) {
		return &store.Checkpoint{Seq: seq, Statement: "s", Signature: []byte{1}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAnchored(t.Context(), 2, time.Time{}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`UPDATE audit_events SET actor = 'someone else' WHERE seq = 1`,
		`DELETE FROM audit_events WHERE seq = 1`,
		`DELETE FROM audit_events`,
		`UPDATE audit_checkpoints SET statement = 'forged'`,
		`UPDATE audit_checkpoints SET anchored_at = 1`,
		`DELETE FROM audit_checkpoints`,
	} {
		if _, err := raw.ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", q, err)
		}
	}
	if n, err := s.PruneAudit(t.Context(), 2); err != nil || n != 2 {
		t.Fatalf("prune = %d, %v", n, err)
	}
	if err := s.AppendAudit(t.Context(), []*chain.Event{{Action: "c"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(t.Context(), `DELETE FROM audit_events`); err == nil {
		t.Error("triggers not recreated after prune")
	}
}
