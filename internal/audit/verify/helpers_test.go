package verify_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver for raw tampering
	_ "modernc.org/sqlite"             // "sqlite" database/sql driver for raw tampering

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/audit/verify"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres"
	"github.com/rack-gateway/rack-gateway/internal/store/postgres/pgtest"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
)

// dirAnchors is a small write-once anchor store on a directory, standing in
// for the real WORM store: Put refuses existing keys, List is sorted. Tests
// that play the attacker change its files directly.
type dirAnchors struct{ dir string }

var _ checkpoint.Anchors = (*dirAnchors)(nil)

func (d *dirAnchors) path(key string) string { return filepath.Join(d.dir, filepath.FromSlash(key)) }

func (d *dirAnchors) Put(_ context.Context, key string, data []byte) error {
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err // fs.ErrExist for an existing key
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (d *dirAnchors) Get(_ context.Context, key string) ([]byte, error) {
	return os.ReadFile(d.path(key))
}

func (d *dirAnchors) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(d.dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, err := filepath.Rel(d.dir, p)
		if err != nil {
			return err
		}
		if k := filepath.ToSlash(rel); strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	sort.Strings(keys)
	return keys, err
}

func (d *dirAnchors) Describe() string { return "dir:" + d.dir }

// overwrite replaces an anchor behind the store's back (a broken WORM store).
func (d *dirAnchors) overwrite(t testing.TB, seq int64, data []byte) {
	t.Helper()
	p := d.path(checkpoint.AnchorKey(seq))
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o444); err != nil {
		t.Fatal(err)
	}
}

func (d *dirAnchors) remove(t testing.TB, seq int64) {
	t.Helper()
	if err := os.Remove(d.path(checkpoint.AnchorKey(seq))); err != nil {
		t.Fatal(err)
	}
}

// backend opens a fresh, migrated store plus a raw database/sql handle on
// the same database for tampering.
type backend struct {
	name string
	open func(t testing.TB) (store.Store, *sql.DB)
}

var backends = []backend{
	{"sqlite", func(t testing.TB) (store.Store, *sql.DB) {
		path := filepath.Join(t.TempDir(), "gw.db")
		st, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return st, db
	}},
	{"postgres", func(t testing.TB) (store.Store, *sql.DB) {
		dsn := pgtest.FreshSchema(t)
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return st, db
	}},
}

// fixture is a store holding a chain of fixtureEvents events, checkpointed
// and anchored every cpEvery events up to lastCP, with an unanchored tail.
type fixture struct {
	st      store.Store
	db      *sql.DB
	pg      bool
	anchors *dirAnchors
	key     ed25519.PrivateKey
	pub     ed25519.PublicKey
}

const (
	cpEvery       = 50
	lastCP        = 300
	fixtureEvents = lastCP + 20
)

var baseTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// mkEvent returns a varied event: different actors, racks, decisions,
// empty and non-ASCII strings, JSON details or none.
func mkEvent(i int) *chain.Event {
	actorTypes := []string{"user", "token", "anonymous", "system"}
	e := &chain.Event{
		Time:       baseTime.Add(time.Duration(i)*time.Second + time.Duration(i*1234)*time.Nanosecond),
		RequestID:  fmt.Sprintf("req-%06d", i),
		Rack:       []string{"prod", "staging", "dev-ü"}[i%3],
		ActorType:  actorTypes[i%4],
		Role:       []string{"viewer", "ops", "deployer", "admin"}[i%4],
		SourceIP:   fmt.Sprintf("10.0.%d.%d", i/250, i%250),
		UserAgent:  "convox/3.19 (linux; amd64)",
		Method:     []string{"GET", "POST", "PUT", "DELETE"}[i%4],
		Path:       fmt.Sprintf("/apps/app%d/processes", i%7),
		Route:      "process.list",
		Action:     []string{"process.list", "app.create", "env.set", "user.create"}[i%4],
		App:        fmt.Sprintf("app%d", i%7),
		Resource:   "",
		Permission: "convox:process:list",
		Decision:   []string{"allow", "deny"}[i%2],
		Reason:     []string{"", "role_denied", "rbac_allow"}[i%3],
		Status:     []int{200, 403, 500, 0}[i%4],
		DurationUS: int64(i * 997),
	}
	switch e.ActorType {
	case "user":
		e.Actor, e.ActorID = fmt.Sprintf("user%d@example.com", i%11), int64(i%11+1)
	case "token":
		e.Actor, e.ActorID, e.TokenID = fmt.Sprintf("token:ci-%d", i%5), 1, int64(i%5+1)
	case "system":
		e.Actor = "rack-gateway"
	}
	if i%3 == 0 {
		e.Details = fmt.Sprintf(`{"keys":["A","B"],"n":%d,"note":"tab\there, quote \" and ☃"}`, i)
	}
	if i%10 == 0 {
		e.Resource = "line1\nline2"
	}
	return e
}

func appendEvents(t testing.TB, st store.Store, from, n int) {
	t.Helper()
	evs := make([]*chain.Event, n)
	for i := range evs {
		evs[i] = mkEvent(from + i)
	}
	if err := st.AppendAudit(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newFixture builds the standard fixture: events appended in batches of
// 1, 19 and 30, a checkpoint made and anchored by a checkpoint.Runner after
// every 50 events up to seq 300, then 20 unanchored events in two batches.
func newFixture(t testing.TB, b backend) *fixture {
	t.Helper()
	ctx := context.Background()
	st, db := b.open(t)
	key := newKey(t)
	f := &fixture{st: st, db: db, pg: b.name == "postgres", anchors: &dirAnchors{dir: t.TempDir()},
		key: key, pub: key.Public().(ed25519.PublicKey)}
	r := &checkpoint.Runner{Store: st, Signer: &checkpoint.Signer{Key: key, Origin: "test"}, Anchors: f.anchors,
		Every: cpEvery, Interval: time.Hour, Log: slog.New(slog.DiscardHandler)}
	n := 1
	for range lastCP / cpEvery {
		for _, size := range []int{1, 19, 30} {
			appendEvents(t, st, n, size)
			n += size
		}
		if err := r.Tick(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	appendEvents(t, st, n, 5)
	appendEvents(t, st, n+5, fixtureEvents-lastCP-5)
	cps, err := st.ListCheckpoints(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != lastCP/cpEvery {
		t.Fatalf("fixture: %d checkpoints, want %d", len(cps), lastCP/cpEvery)
	}
	for i, c := range cps {
		if c.Seq != int64((i+1)*cpEvery) || c.AnchoredAt.IsZero() {
			t.Fatalf("fixture: checkpoint %d: seq %d anchored %v", i, c.Seq, c.AnchoredAt)
		}
	}
	if head, _, _ := st.AuditHead(ctx); head != fixtureEvents {
		t.Fatalf("fixture: head %d, want %d", head, fixtureEvents)
	}
	return f
}

// liveInput verifies the live database, as `rack-gateway audit verify` does.
func (f *fixture) liveInput(t testing.TB) verify.Input {
	t.Helper()
	cps, err := f.st.ListCheckpoints(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return verify.Input{
		Scan: func(ctx context.Context, fn func(*chain.Event) error) error {
			return f.st.ScanAudit(ctx, 0, fn)
		},
		Checkpoints: cps,
		Anchors:     f.anchors,
		PublicKey:   f.pub,
	}
}

// exec runs raw SQL written with ? placeholders.
func (f *fixture) exec(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	if f.pg {
		var b strings.Builder
		n := 0
		for _, r := range q {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		q = b.String()
	}
	res, err := f.db.ExecContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	n, _ := res.RowsAffected()
	return n
}

// unguard removes the append-only triggers, as an attacker with the
// database's owner credentials would.
func (f *fixture) unguard(t testing.TB) {
	t.Helper()
	if f.pg {
		f.exec(t, `ALTER TABLE audit_events DISABLE TRIGGER USER`)
		f.exec(t, `ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`)
		return
	}
	for _, tr := range []string{"audit_events_no_update", "audit_events_no_delete",
		"audit_checkpoints_no_delete", "audit_checkpoints_only_anchor"} {
		f.exec(t, `DROP TRIGGER IF EXISTS `+tr)
	}
}

// events returns copies of the chained events, by seq.
func (f *fixture) events(t testing.TB) []chain.Event {
	t.Helper()
	var out []chain.Event
	err := f.st.ScanAudit(context.Background(), 0, func(e *chain.Event) error {
		c := *e
		c.Hash = bytes.Clone(e.Hash)
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// rehashFrom recomputes the stored hashes of every event with Seq >= from,
// like an attacker who knows the chain algorithm.
func (f *fixture) rehashFrom(t testing.TB, from int64) {
	t.Helper()
	var (
		h    chain.Hasher
		prev = chain.Genesis()
	)
	for _, e := range f.events(t) {
		if e.Seq >= from {
			e.Hash = h.Next(prev, &e)
			f.exec(t, `UPDATE audit_events SET hash = ? WHERE seq = ?`, e.Hash, e.Seq)
		}
		prev = e.Hash
	}
}

// swapSeqs exchanges two events' sequence numbers, through a temporary
// negative one because of the unique index.
func (f *fixture) swapSeqs(t testing.TB, a, b int64) {
	t.Helper()
	f.exec(t, `UPDATE audit_events SET seq = -1 WHERE seq = ?`, a)
	f.exec(t, `UPDATE audit_events SET seq = ? WHERE seq = ?`, a, b)
	f.exec(t, `UPDATE audit_events SET seq = ? WHERE seq = -1`, b)
}

// insertForged renumbers the events after `after` up by one and inserts a
// forged event at after+1 whose hash is correctly chained to event after.
func (f *fixture) insertForged(t testing.TB, after int64) {
	t.Helper()
	f.exec(t, `UPDATE audit_events SET seq = -seq WHERE seq > ?`, after)
	f.exec(t, `UPDATE audit_events SET seq = 1 - seq WHERE seq < 0`)
	cols := "occurred_at, request_id, rack, actor_type, actor_id, token_id, role, source_ip, user_agent, method, " +
		"path, route, action, app, resource, permission, decision, reason, status, duration_us, details"
	f.exec(t, `INSERT INTO audit_events (`+cols+`, actor, seq, hash) SELECT `+cols+`, 'mallory@example.com', ?, ? FROM audit_events WHERE seq = ?`,
		after+1, []byte("placeholder"), after)
	evs := f.events(t)
	prev, forged := evs[after-1], evs[after]
	if prev.Seq != after || forged.Seq != after+1 || forged.Actor != "mallory@example.com" {
		t.Fatalf("insertForged: unexpected rows %d %d %q", prev.Seq, forged.Seq, forged.Actor)
	}
	var h chain.Hasher
	f.exec(t, `UPDATE audit_events SET hash = ? WHERE seq = ?`, h.Next(prev.Hash, &forged), after+1)
}

// checkpointText returns the stored checkpoint at seq.
func (f *fixture) checkpoint(t testing.TB, seq int64) store.Checkpoint {
	t.Helper()
	cps, err := f.st.ListCheckpoints(context.Background(), seq)
	if err != nil || len(cps) == 0 || cps[0].Seq != seq {
		t.Fatalf("no checkpoint at %d: %v", seq, err)
	}
	return cps[0]
}

// forgeCheckpoint signs, with key, a statement for seq naming head and
// following the statement prevText ("" for none).
func forgeCheckpoint(key ed25519.PrivateKey, seq int64, head []byte, prevText string) *store.Checkpoint {
	st := checkpoint.Statement{Origin: "test", Seq: seq, Head: head, Time: store.NormalizeTime(time.Now())}
	if prevText != "" {
		st.Prev = checkpoint.Hash(prevText)
	}
	text := st.Text()
	return &store.Checkpoint{Seq: seq, Statement: text, Signature: ed25519.Sign(key, []byte(text))}
}

func fakeHead(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// writeExport writes a JSONL export of the whole chain and its checkpoints.
func (f *fixture) writeExport(t testing.TB, path string) {
	t.Helper()
	writeExport(t, f.st, path)
}

func writeExport(t testing.TB, st store.Store, path string) {
	t.Helper()
	ctx := context.Background()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := export.NewJSONLWriter(out)
	if err := w.WriteHeader(export.Header{ExportedAt: time.Now().UTC().Format(time.RFC3339), FirstSeq: 1,
		PrevHash: hex.EncodeToString(chain.Genesis())}); err != nil {
		t.Fatal(err)
	}
	cps, err := st.ListCheckpoints(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cps {
		if err := w.WriteCheckpoint(&cps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.ScanAudit(ctx, 0, func(e *chain.Event) error { return w.WriteEvent(e, chain.SchemaVersion) }); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// exportInput verifies a JSONL export the way the CLI does.
func exportInput(path string, anchors checkpoint.Anchors, pub ed25519.PublicKey) (verify.Input, error) {
	in, _, err := verify.OpenExport(path, anchors, pub)
	return in, err
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
}

func writeLines(t testing.TB, path string, lines []string) {
	t.Helper()
	s := strings.Join(lines, "")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkReport asserts the report's problem kind and seq ("" kind: OK).
func checkReport(t testing.TB, rep *verify.Report, err error, kind verify.Kind, seq int64) {
	t.Helper()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if kind == "" {
		if !rep.OK() || !strings.HasPrefix(rep.Verdict(), "OK") {
			t.Fatalf("want OK, got %s", rep.Verdict())
		}
		return
	}
	if rep.OK() {
		t.Fatalf("want %s at %d, got %s", kind, seq, rep.Verdict())
	}
	if rep.Problem.Kind != kind || rep.Problem.Seq != seq {
		t.Fatalf("want %s at seq %d, got %s", kind, seq, rep.Verdict())
	}
	if !strings.HasPrefix(rep.Verdict(), "FAIL") {
		t.Fatalf("verdict %q", rep.Verdict())
	}
	t.Logf("%s", rep.Verdict())
}
