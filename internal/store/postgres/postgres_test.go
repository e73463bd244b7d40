package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres/pgtest"
	"github.com/rack-gateway/rack-gateway/internal/store/storetest"
)

// open returns a migrated store in a fresh schema, closed at cleanup.
func open(t testing.TB, opts ...store.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.FreshSchema(t), opts...)
	return storetest.Migrated(t, s, err)
}

func TestConformance(t *testing.T) {
	pgtest.DSN(t) // skip (or fail) once rather than in every subtest
	storetest.Run(t, func(t *testing.T, c clock.Clock) store.Store { return open(t, store.WithClock(c)) })
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
	err := stores[0].DB().QueryRowContext(t.Context(),
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

// BenchmarkAppendAudit appends a full batch of reads (64) and a batch of
// the odd size a write-ahead group commit has (37 events).
func BenchmarkAppendAudit(b *testing.B) {
	s := open(b)
	for _, size := range []int{64, 37} {
		b.Run(fmt.Sprint(size), func(b *testing.B) { storetest.BenchAppendAudit(b, s, size) })
	}
}

// The audit log is append-only twice over: the runtime role has only SELECT
// and INSERT on it, and triggers refuse UPDATE/DELETE/TRUNCATE to everyone,
// the owner included.
func TestAuditAppendOnly(t *testing.T) {
	dsn := pgtest.FreshSchema(t)
	ownerStore, err := postgres.Open(t.Context(), dsn)
	storetest.Migrated(t, ownerStore, err)
	role := "rgw_rt_" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_")
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rtDSN := pgtest.LoginRole(t, dsn, role)
	if err := ownerStore.GrantRuntime(t.Context(), role); err != nil {
		t.Fatal(err)
	}
	rt, err := postgres.Open(t.Context(), rtDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	// serve migrates at start: on a migrated schema that must work for a
	// role that may not create anything in it (no CREATE on the schema).
	if err := rt.Migrate(t.Context()); err != nil {
		t.Fatalf("runtime role starting on a migrated schema: %v", err)
	}
	// The runtime role can do its job: append, checkpoint, anchor.
	if err := rt.AppendAudit(t.Context(), []*chain.Event{{Action: "a"}, {Action: "b"}}); err != nil {
		t.Fatalf("runtime append: %v", err)
	}
	if _, err := rt.AddCheckpoint(t.Context(), func(_ *store.Checkpoint, seq int64, _ []byte) (*store.Checkpoint, error) {
		return &store.Checkpoint{Seq: seq, Statement: "s", Signature: []byte{1}}, nil
	}); err != nil {
		t.Fatalf("runtime checkpoint: %v", err)
	}
	if err := rt.MarkAnchored(t.Context(), 2, time.Time{}); err != nil {
		t.Fatalf("runtime mark anchored: %v", err)
	}
	if _, err := rt.PruneAudit(t.Context(), 2); err == nil {
		t.Error("runtime role pruned the audit log")
	}
	rtConn, err := pgx.Connect(t.Context(), rtDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer rtConn.Close(context.Background())
	for _, c := range []struct {
		who  string
		conn *pgx.Conn
	}{{"runtime", rtConn}, {"owner", conn}} {
		for _, q := range []string{
			`UPDATE audit_events SET actor = 'someone else' WHERE seq = 1`,
			`DELETE FROM audit_events WHERE seq = 1`,
			`TRUNCATE audit_events`,
			`UPDATE audit_checkpoints SET statement = 'forged'`,
			`UPDATE audit_checkpoints SET anchored_at = now()`, // already anchored: once only
			`DELETE FROM audit_checkpoints`,
			`TRUNCATE audit_checkpoints`,
			`UPDATE audit_blocks SET value = 'someone else'`,
			`DELETE FROM audit_blocks`,
			`TRUNCATE audit_blocks`,
			`UPDATE audit_time_blocks SET min_at = max_at + 1`, // a time block's range may only widen
			`UPDATE audit_time_blocks SET last_id = last_id + 1`,
			`DELETE FROM audit_time_blocks`,
			`TRUNCATE audit_time_blocks`,
		} {
			if _, err := c.conn.Exec(t.Context(), q); err == nil {
				t.Errorf("%s: %s succeeded", c.who, q)
			}
		}
	}
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM audit_events WHERE actor = ''`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("audit rows after the attempts: %d, %v", n, err)
	}
	if err := conn.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM audit_blocks WHERE kind = 'action') + (SELECT count(*) FROM audit_time_blocks)`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("block rows after the attempts: %d, %v, want 3", n, err)
	}
	// The owner can prune behind the anchored checkpoint.
	if got, err := ownerStore.PruneAudit(t.Context(), 2); err != nil || got != 2 {
		t.Fatalf("owner prune = %d, %v", got, err)
	}
	if err := rt.AppendAudit(t.Context(), []*chain.Event{{Action: "c"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `DELETE FROM audit_events`); err == nil {
		t.Error("triggers not re-enabled after prune")
	}
}
