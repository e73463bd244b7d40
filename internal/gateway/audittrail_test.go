package gateway_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// The scheduled self-verification notices tampering done directly in the
// database: the metric rgw_audit_verify_failed goes to 1 and an
// audit.verify event names the first bad sequence number.
func TestSelfCheckDetectsTampering(t *testing.T) {
	var dbPath string
	e := newEnv(t, func(c *config.Config) { dbPath = strings.TrimPrefix(c.DatabaseURL, "sqlite:") })
	for range 3 {
		read(t, e.do("GET", "/rack/apps", e.tokens[authz.RoleViewer], nil, nil))
	}
	ctx := context.Background()
	if err := e.gw.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.gw.Checkpoints.Tick(ctx, true); err != nil {
		t.Fatal(err)
	}
	rep, err := e.gw.Verifier.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("untouched log: %v %v", rep.Verdict(), err)
	}
	if got := metric(t, e, "rgw_audit_verify_failed"); got != "0" {
		t.Fatalf("rgw_audit_verify_failed = %q after a good check", got)
	}
	// An attacker with the database file drops the guard and edits event 2.
	raw, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`DROP TRIGGER audit_events_no_update`, `UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rep, err = e.gw.Verifier.Check(ctx)
	if err != nil || rep.OK() || rep.Problem.Seq != 2 || rep.Problem.Kind != "modified" {
		t.Fatalf("tampered log: %+v %v", rep.Problem, err)
	}
	if got := metric(t, e, "rgw_audit_verify_failed"); got != "1" {
		t.Fatalf("rgw_audit_verify_failed = %q after a failed check", got)
	}
	found := false
	for _, ev := range e.audit() {
		if ev.Action == "audit.verify" && ev.Decision == "deny" && strings.Contains(ev.Details, `"seq":2`) && strings.Contains(ev.Details, "modified") {
			found = true
		}
	}
	if !found {
		t.Error("no audit.verify event for the failed check")
	}
}

// metric reads one unlabelled metric from /metrics.
func metric(t *testing.T, e *testEnv, name string) string {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}

// Committed events stream to a SIEM webhook in sequence order, with the
// configured Authorization header, and never carry secrets.
func TestSIEMWebhookReceivesEventsInOrder(t *testing.T) {
	var (
		mu    sync.Mutex
		seqs  []int64
		auth  string
		bodys []string
	)
	siem := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		auth = r.Header.Get("Authorization")
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			var rec struct {
				Seq int64 `json:"seq"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("bad NDJSON line %q: %v", sc.Text(), err)
			}
			seqs = append(seqs, rec.Seq)
			bodys = append(bodys, sc.Text())
		}
	}))
	defer siem.Close()
	e := newEnv(t, func(c *config.Config) {
		c.Audit.WebhookURL = siem.URL + "/ingest"
		c.Audit.WebhookAuthorization = "Bearer siem-secret"
	})
	tok := e.tokens[authz.RoleViewer]
	for range 10 {
		read(t, e.do("GET", "/rack/apps", tok, nil, nil))
	}
	read(t, e.do("GET", "/rack/apps/myapp/environment", tok, nil, nil)) // denied
	if err := e.gw.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "11 events at the SIEM webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seqs) >= 11
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seqs) < 11 || auth != "Bearer siem-secret" {
		t.Fatalf("webhook got %d events, Authorization %q", len(seqs), auth)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("sequence numbers not consecutive: %v", seqs)
		}
	}
	for _, b := range bodys {
		if strings.Contains(b, tok) || strings.Contains(b, e.rackPassword) {
			t.Fatalf("a secret reached the SIEM: %s", b)
		}
	}
}
