package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
	_ "modernc.org/sqlite"
)

// TestKill9DuringMutatingBurst kills a gateway with SIGKILL in the middle of
// a burst of mutating calls: every call the client saw succeed must have its
// "attempt" event in the database, the chain must verify, and a restarted
// gateway must continue the chain.
func TestKill9DuringMutatingBurst(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "gateway.db")
	s := newSetup(t, "sqlite:"+dbPath)
	gw, base := s.serve(t, "gateway")

	// Warm up until a checkpoint is anchored, so that verify after the
	// crash checks an anchored prefix as well as the unanchored tail.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	testutil.Eventually(t, "a checkpoint anchored during warm-up calls", func() bool {
		if r := call(client, http.MethodPost, base+mutatePath, s.token, "rgw-e2e-warmup", ""); r.err != nil || r.status != http.StatusOK {
			t.Fatalf("warm-up call: status %d err %v", r.status, r.err)
		}
		return anchoredCheckpoints(t, dbPath) > 0
	})

	const workers = 16
	var (
		mu        sync.Mutex
		succeeded []string // request ids of calls answered 200 in full
		failed    int
		stopping  atomic.Bool
		wg        sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopping.Load() {
				r := call(client, http.MethodPost, base+mutatePath, s.token, "rgw-e2e-burst", "")
				mu.Lock()
				if r.err == nil && r.status == http.StatusOK {
					if r.requestID == "" {
						t.Errorf("200 without X-Request-Id")
					}
					succeeded = append(succeeded, r.requestID)
				} else {
					failed++
				}
				mu.Unlock()
				if r.err != nil { // the gateway is gone
					return
				}
			}
		}()
	}
	// Kill mid-burst: once the burst is well under way.
	testutil.Eventually(t, "50 calls of the burst answered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(succeeded) >= 50
	})
	gw.kill9(t)
	stopping.Store(true)
	wg.Wait()
	t.Logf("before kill -9: %d calls answered 200, %d failed or cut off", len(succeeded), failed)
	if len(succeeded) < 10 {
		t.Fatalf("only %d calls succeeded before the kill; the test proves nothing", len(succeeded))
	}

	// Every call the client saw succeed has its attempt event.
	attempts := attemptIDs(t, dbPath)
	missing := 0
	for _, id := range succeeded {
		if !attempts[id] {
			missing++
			if missing <= 5 {
				t.Errorf("request %s answered 200 but has no attempt event", id)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d successful calls have no attempt event", missing, len(succeeded))
	}
	checkGapless(t, dbPath)
	if out := s.verify(t); !strings.Contains(out, "not yet covered by a checkpoint") {
		t.Errorf("verify after the kill should report an unanchored tail: %s", out)
	}

	// Restart on the same data: the chain continues.
	gw2, base2 := s.serve(t, "gateway-restarted")
	var after []string
	for i := 0; i < 5; i++ {
		r := call(client, http.MethodPost, base2+mutatePath, s.token, "rgw-e2e-after", "")
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("call after restart: status %d err %v", r.status, r.err)
		}
		after = append(after, r.requestID)
		if r := call(client, http.MethodGet, base2+readPath, s.token, "rgw-e2e-after", ""); r.err != nil || r.status != http.StatusOK {
			t.Fatalf("read after restart: status %d err %v", r.status, r.err)
		}
	}
	gw2.stop(t)
	attempts = attemptIDs(t, dbPath)
	for _, id := range after {
		if !attempts[id] {
			t.Errorf("request %s after restart has no attempt event", id)
		}
	}
	var n int
	db := openRO(t, dbPath)
	if err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE user_agent = 'rgw-e2e-after'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 15 { // 5 × (attempt + outcome) + 5 reads, all flushed by the graceful stop
		t.Errorf("after restart: %d events, want 15", n)
	}
	checkGapless(t, dbPath)
	s.verify(t)
}

func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// attemptIDs returns the request ids of all "attempt" events.
func attemptIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT request_id, details FROM audit_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id, details string
		if err := rows.Scan(&id, &details); err != nil {
			t.Fatal(err)
		}
		var d struct {
			Phase string `json:"phase"`
		}
		if details != "" {
			if err := json.Unmarshal([]byte(details), &d); err != nil {
				t.Errorf("event %s: details %q: %v", id, details, err)
			}
		}
		if d.Phase == "attempt" {
			if ids[id] {
				t.Errorf("request %s has two attempt events", id)
			}
			ids[id] = true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkGapless requires seq to be exactly 1..count(*).
func checkGapless(t *testing.T, path string) {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	var total, chained, minSeq, maxSeq, distinct, nullHash int64
	err := db.QueryRow(`SELECT count(*), count(seq), coalesce(min(seq),0), coalesce(max(seq),0), count(DISTINCT seq),
		sum(CASE WHEN hash IS NULL THEN 1 ELSE 0 END) FROM audit_events`).
		Scan(&total, &chained, &minSeq, &maxSeq, &distinct, &nullHash)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("audit_events: %d rows, seq %d..%d", total, minSeq, maxSeq)
	if total == 0 || chained != total || minSeq != 1 || maxSeq != total || distinct != total || nullHash != 0 {
		t.Errorf("chain is not seq 1..N gapless: rows=%d chained=%d min=%d max=%d distinct=%d unhashed=%d",
			total, chained, minSeq, maxSeq, distinct, nullHash)
	}
}

// anchoredCheckpoints counts checkpoints written to the anchor store.
func anchoredCheckpoints(t *testing.T, path string) int {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_checkpoints WHERE anchored_at IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
