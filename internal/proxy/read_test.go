package proxy_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/proxy"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/store/sqlite"
)

// readEnv is the proxy in front of a simulated rack "dev", on a SQLite
// store, with a web session for a viewer.
type readEnv struct {
	px     *proxy.Handler
	st     *sqlite.Store
	au     *audit.Auditor
	viewer string // session token
}

func newReadEnv(t *testing.T) *readEnv {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	rackSrv := httptest.NewServer(simrack.New(simrack.Config{Password: "pw"}).Handler())
	t.Cleanup(rackSrv.Close)
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	an := authn.New(st, 5*time.Second, log)
	au := audit.New(st, log, nil)
	go au.Run()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = au.Close(cctx)
		_ = st.Close()
	})
	cfg := &config.Config{DefaultRack: "dev", Racks: []config.Rack{{Name: "dev", URL: rackSrv.URL, Password: "pw"}}}
	cfg.SetDefaults("127.0.0.1:0")
	px, err := proxy.New(proxy.Options{Config: cfg, Authn: an, Audit: au, Metrics: proxy.NewMetrics(prometheus.NewRegistry()), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	adm := &admin.Service{Store: st, Audit: au, Authn: an}
	if _, err := adm.CreateUser(ctx, admin.Actor{System: "test"}, "viewer@example.com", "Viewer", "viewer"); err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByEmail(ctx, "viewer@example.com")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := an.StartSession(ctx, &store.Session{UserID: u.ID, Kind: authn.KindWeb, UserAgent: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return &readEnv{px: px, st: st, au: au, viewer: tok}
}

func (e *readEnv) events(t *testing.T) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.au.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := e.st.ListAudit(ctx, store.AuditFilter{Actor: "viewer@example.com", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{} // decision → paths
	for _, ev := range evs {
		out[ev.Decision] = append(out[ev.Decision], ev.Path)
	}
	return out
}

// TestQuietReads: a quiet read that is allowed and answered is collected,
// not recorded; a refused read and a read the rack failed are each
// recorded as their own event, quiet or not; a read that is not quiet is
// recorded as before.
func TestQuietReads(t *testing.T) {
	e := newReadEnv(t)
	ctx := context.Background()
	var log proxy.ReadLog
	read := func(path string, quiet *proxy.ReadLog) int {
		ans, err := e.px.Read(ctx, proxy.RackRead{Rack: "dev", Path: path, Credential: e.viewer, Quiet: quiet})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return ans.Status
	}
	cases := []struct {
		path   string
		quiet  bool
		status int
	}{
		{"/apps", true, 200},
		{"/apps/myapp/services", true, 200},
		{"/apps/myapp/configs", true, 403}, // config:read: not a viewer's
		{"/apps/nosuch", true, 404},        // the rack's failure
		{"/apps/blog", false, 200},
	}
	for _, c := range cases {
		var q *proxy.ReadLog
		if c.quiet {
			q = &log
		}
		if got := read(c.path, q); got != c.status {
			t.Errorf("%s: %d, want %d", c.path, got, c.status)
		}
	}
	var collected []string
	for _, r := range log.Reads() {
		collected = append(collected, r.Path)
	}
	if strings.Join(collected, " ") != "/apps /apps/myapp/services" {
		t.Errorf("collected %v, want the two allowed quiet reads", collected)
	}
	evs := e.events(t)
	if got := strings.Join(evs["deny"], " "); got != "/apps/myapp/configs" {
		t.Errorf("denied events %q, want the refused read", got)
	}
	allowed := strings.Join(evs["allow"], " ")
	if strings.Contains(allowed, "/apps/myapp/services") || strings.Contains(allowed, "/apps ") || allowed == "/apps" {
		t.Errorf("a collected read was also recorded: %q", allowed)
	}
	for _, p := range []string{"/apps/nosuch", "/apps/blog"} {
		if !strings.Contains(allowed, p) {
			t.Errorf("%s not recorded on its own (allowed events: %q)", p, allowed)
		}
	}
}

// TestSocketRead: a build's log socket is read through the pipeline as
// the caller (log:read) and returned whole; a refused socket read is an
// ordinary refusal.
func TestSocketRead(t *testing.T) {
	e := newReadEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var log proxy.ReadLog
	ans, err := e.px.Read(ctx, proxy.RackRead{Rack: "dev", Path: "/apps/myapp/builds/BMYAPPSECND/logs",
		Credential: e.viewer, Quiet: &log, Socket: true})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Status != http.StatusSwitchingProtocols || ans.Cut || !strings.Contains(string(ans.Body), "Step 1/4 : FROM") {
		t.Fatalf("build logs: %d cut=%v %q", ans.Status, ans.Cut, ans.Body)
	}
	if rs := log.Reads(); len(rs) != 1 || rs[0].Route != "BuildLogs" || rs[0].Status != 101 {
		t.Errorf("collected %+v", rs)
	}
	// A bad credential: refused before any upgrade, and recorded.
	ans, err = e.px.Read(ctx, proxy.RackRead{Rack: "dev", Path: "/apps/myapp/builds/BMYAPPSECND/logs",
		Credential: "nope", Quiet: &log, Socket: true})
	if err != nil || ans.Status != http.StatusUnauthorized || len(ans.Body) == 0 {
		t.Fatalf("refused socket read: %d %v %q", ans.Status, err, ans.Body)
	}
}
