package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// TestFailClosedWithoutDatabase: with the database gone mid-run, mutating
// calls are refused and nothing reaches the rack.
func TestFailClosedWithoutDatabase(t *testing.T) {
	e := newEnv(t)
	admin := e.tokens[authz.RoleAdmin]
	// Warm the token cache, so authentication alone would still pass.
	if status, _ := read(t, e.do("GET", "/rack/apps", admin, nil, nil)); status != 200 {
		t.Fatalf("warm-up: %d", status)
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	e.rack.ResetRequests()
	calls := []struct{ method, path string }{
		{"POST", "/rack/apps"},
		{"DELETE", "/rack/apps/myapp"},
		{"POST", "/rack/apps/myapp/objects/tmp/x.tgz"},
		{"PUT", "/rack/system"},
		{"POST", "/rack/system/jwt/token"},
	}
	for _, c := range calls {
		b, h := form("name", "newapp")
		status, body := read(t, e.do(c.method, c.path, admin, b, h))
		if status != 503 || !strings.Contains(body, "audit_unavailable") {
			t.Errorf("%s %s: %d %s, want 503 audit_unavailable", c.method, c.path, status, body)
		}
	}
	c, resp, err := e.dialWS("/rack/apps/myapp/processes/"+testPID+"/exec", admin, nil)
	if err == nil {
		c.Close()
		t.Errorf("exec upgraded without an audit log")
	} else if resp == nil || resp.StatusCode != 503 {
		t.Errorf("exec: %v", resp)
	}
	if reqs := e.rack.Requests(); len(reqs) != 0 {
		t.Fatalf("%d requests reached the rack with the audit log down: %+v", len(reqs), reqs[0])
	}
}

// credentialOutage is a store whose credential lookups fail while down is
// set; everything else, the audit log included, keeps working.
type credentialOutage struct {
	store.Store
	down atomic.Bool
}

var errCredentialsDown = errors.New("credential lookups are down")

func (s *credentialOutage) GetTokenByHash(ctx context.Context, hash []byte) (*store.APIToken, error) {
	if s.down.Load() {
		return nil, errCredentialsDown
	}
	return s.Store.GetTokenByHash(ctx, hash)
}

func (s *credentialOutage) GetSessionByHash(ctx context.Context, hash []byte) (*store.Session, error) {
	if s.down.Load() {
		return nil, errCredentialsDown
	}
	return s.Store.GetSessionByHash(ctx, hash)
}

// TestCredentialOutageIsAuthUnavailable: when credentials cannot be
// checked, calls are refused with 503, nothing reaches the rack, and the
// audit says why (auth_unavailable), not that the audit log failed.
func TestCredentialOutageIsAuthUnavailable(t *testing.T) {
	var outage *credentialOutage
	e := newEnvWrapped(t, func(st store.Store) store.Store { outage = &credentialOutage{Store: st}; return outage })
	outage.down.Store(true)
	e.rack.ResetRequests()
	for _, c := range []struct{ method, path string }{{"GET", "/rack/apps"}, {"POST", "/rack/apps"}} {
		status, body := read(t, e.do(c.method, c.path, e.tokens[authz.RoleAdmin], nil, nil))
		if status != 503 || !strings.Contains(body, `"reason":"auth_unavailable"`) {
			t.Errorf("%s %s: %d %s, want 503 auth_unavailable", c.method, c.path, status, body)
		}
	}
	if reqs := e.rack.Requests(); len(reqs) != 0 {
		t.Fatalf("%d requests reached the rack without authentication: %+v", len(reqs), reqs[0])
	}
	var n int
	for _, ev := range e.audit() {
		if ev.Path != "/apps" {
			continue
		}
		n++
		if ev.Decision != "deny" || ev.Reason != string(authz.ReasonAuthUnavailable) || ev.Status != 503 {
			t.Errorf("audit of %s %s: %s %s %d, want deny auth_unavailable 503", ev.Method, ev.Path, ev.Decision, ev.Reason, ev.Status)
		}
	}
	if n != 2 {
		t.Errorf("%d audit events for the refused calls, want 2", n)
	}
}

// auditOutage is a store whose audit writes fail (and which does not
// answer Ping) while down is set; credentials are still checked.
type auditOutage struct {
	store.Store
	down atomic.Bool
}

func (s *auditOutage) AppendAudit(ctx context.Context, evs []*chain.Event) error {
	if s.down.Load() {
		return errors.New("the database is down")
	}
	return s.Store.AppendAudit(ctx, evs)
}

func (s *auditOutage) Ping(ctx context.Context) error {
	if s.down.Load() {
		return errors.New("the database is down")
	}
	return s.Store.Ping(ctx)
}

// With the database down, reads are served while the audit queue has
// room; once it is full every call is answered at once with 503 instead
// of hanging, and changes are refused from the start. When the database
// is back, the queued records are written and the refusals that could not
// be queued are recorded as a count.
func TestAuditQueueFullAnswersAtOnce(t *testing.T) {
	var outage *auditOutage
	const size = 20
	e := newEnvWrapped(t, func(st store.Store) store.Store { outage = &auditOutage{Store: st}; return outage },
		func(c *configT) { c.Audit.QueueSize = size })
	viewer, admin := e.tokens[authz.RoleViewer], e.tokens[authz.RoleAdmin]
	for _, tok := range []string{viewer, admin} { // credentials cached before the outage
		if status, _ := read(t, e.do("GET", "/rack/apps", tok, nil, nil)); status != 200 {
			t.Fatal("warm-up")
		}
	}
	if err := e.gw.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	outage.down.Store(true)
	b, h := form("name", "x")
	if status, body := read(t, e.do("POST", "/rack/apps", admin, b, h)); status != 503 || !strings.Contains(body, "audit_unavailable") {
		t.Fatalf("a change with the database down: %d %s", status, body)
	}
	served, refused := 0, 0
	client := &http.Client{Timeout: testutil.Patience}
	for range 3 * size {
		req, _ := http.NewRequest("GET", e.srv.URL+"/rack/apps", nil)
		req.Header.Set("Authorization", basic(viewer))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("a read hung or failed with the queue full: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 200:
			served++
		case resp.StatusCode == 503 && strings.Contains(string(body), "queue is full"):
			refused++
		default:
			t.Fatalf("read: %d %s", resp.StatusCode, body)
		}
	}
	// The refused change's record took one place; records the writer holds
	// while it retries count against the bound too.
	if served == 0 || refused == 0 || served > size-1 || served+refused != 3*size {
		t.Fatalf("%d reads served, %d refused; want some served from the queue (at most %d) and the rest refused", served, refused, size-1)
	}
	outage.down.Store(false)
	if err := e.gw.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var reads, unrecorded int
	for _, ev := range e.audit() {
		if ev.Route == "AppList" && ev.Status == 200 && ev.Actor == "viewer@example.com" {
			reads++
		}
		if ev.Action == "audit.unrecorded" {
			unrecorded++
			if !strings.Contains(ev.Details, fmt.Sprintf(`"refused_calls":%d`, refused)) {
				t.Errorf("unrecorded count: %s, want %d", ev.Details, refused)
			}
		}
	}
	if reads != served+1 || unrecorded != 1 {
		t.Errorf("after the outage: %d read records (want %d), %d unrecorded-count events (want 1)", reads, served+1, unrecorded)
	}
}
