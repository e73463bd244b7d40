package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
)

// TestSeveralRacks: each rack is served under /racks/<name>, the default one
// also under /rack; decisions use per-rack role bindings and every audit
// event names the rack.
func TestSeveralRacks(t *testing.T) {
	staging := simrack.New(simrack.Config{Password: "staging-password", Name: "staging"})
	stagingSrv := httptest.NewServer(staging.Handler())
	defer stagingSrv.Close()
	e := newEnv(t, func(c *configT) {
		c.Racks = append(c.Racks, config.Rack{Name: "staging", URL: stagingSrv.URL, Password: "staging-password"})
	})
	if err := e.gw.Admin.SetRackRole(context.Background(), admin.Actor{System: "test"}, "viewer@example.com", "staging", authz.RoleDeployer); err != nil {
		t.Fatal(err)
	}
	// A token made after the binding may carry the staging rights; on the
	// dev rack the viewer role still bounds it.
	tok, err := e.gw.Admin.CreateToken(context.Background(), admin.Actor{System: "test"},
		admin.TokenRequest{Name: "multi", Owner: "viewer@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	viewer := tok.Token
	// Default rack under /rack and /racks/dev.
	for _, p := range []string{"/rack/system", "/racks/dev/system", "/racks/staging/system"} {
		status, body := read(t, e.do("GET", p, viewer, nil, nil))
		want := "simrack"
		if strings.Contains(p, "staging") {
			want = "staging"
		}
		var sys struct{ Name string }
		_ = json.Unmarshal([]byte(body), &sys)
		if status != 200 || sys.Name != want {
			t.Errorf("GET %s: %d %s", p, status, body)
		}
	}
	// The viewer is a deployer on staging only.
	if status, _ := read(t, e.do("GET", "/racks/staging/apps/myapp/releases/"+testRelease, viewer, nil, nil)); status != 200 {
		t.Errorf("staging release read: %d", status)
	}
	b, h := form("env", "PORT=1")
	if status, body := read(t, e.do("POST", "/racks/dev/apps/myapp/releases", viewer, b, h)); status != 403 {
		t.Errorf("viewer on dev may not create releases: %d %s", status, body)
	}
	if status, body := read(t, e.do("POST", "/racks/staging/apps/myapp/objects/tmp/x", viewer, strings.NewReader("x"), nil)); status != 200 {
		t.Errorf("deployer binding on staging: %d %s", status, body)
	}
	if len(staging.Requests()) == 0 {
		t.Fatal("staging rack saw nothing")
	}
	racks := map[string]bool{}
	for _, ev := range e.audit() {
		if ev.Method != "" {
			racks[ev.Rack] = true
		}
	}
	if !racks["dev"] || !racks["staging"] {
		t.Errorf("audit racks %v", racks)
	}
}

// TestRackTLSVerification: the rack's certificate is verified against a
// pinned CA or a pinned certificate hash; anything else fails with a 502
// and nothing is sent.
func TestRackTLSVerification(t *testing.T) {
	rack := simrack.New(simrack.Config{Password: "tls-password"})
	srv := httptest.NewTLSServer(rack.Handler())
	defer srv.Close()
	cert := srv.Certificate()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Raw)
	keySum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	cases := []struct {
		name   string
		rack   config.Rack
		status int
	}{
		{"system roots reject a self-signed rack", config.Rack{}, 502},
		{"pinned CA", config.Rack{CAFile: caFile}, 200},
		{"pinned certificate", config.Rack{PinSHA256: hex.EncodeToString(sum[:])}, 200},
		{"wrong pin", config.Rack{PinSHA256: strings.Repeat("ab", 32)}, 502},
		{"pinned public key", config.Rack{PinPublicKeySHA256: hex.EncodeToString(keySum[:])}, 200},
		{"certificate hash given as the key pin", config.Rack{PinPublicKeySHA256: hex.EncodeToString(sum[:])}, 502},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *configT) {
				r := c.rack
				r.Name, r.URL, r.Password = "dev", srv.URL, "tls-password"
				cfg.Racks = []config.Rack{r}
			})
			status, body := read(t, e.do("GET", "/rack/apps", e.tokens[authz.RoleViewer], nil, nil))
			if status != c.status {
				t.Fatalf("status %d %s, want %d", status, body, c.status)
			}
			if status == 502 && !strings.Contains(body, "upstream_error") {
				t.Fatalf("502 body %s", body)
			}
		})
	}
}

// TestUnreachableRack gives a clear 502 and readiness fails.
func TestUnreachableRack(t *testing.T) {
	e := newEnv(t)
	e.rackSrv.Close()
	status, body := read(t, e.do("GET", "/rack/apps", e.tokens[authz.RoleViewer], nil, nil))
	if status != 502 || !strings.Contains(body, "unreachable") {
		t.Fatalf("got %d %s", status, body)
	}
	resp, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	if status, body := read(t, resp); status != 503 || !strings.Contains(body, "rack dev") {
		t.Fatalf("readyz %d %s", status, body)
	}
}

// A rack that refuses the gateway's own password is the gateway's
// misconfiguration: callers get a clear rack-gateway error (never the
// rack's bare "invalid authentication", which reads as "your token is
// bad"), the audit names the cause, and readiness fails.
func TestRackRefusesGatewayPassword(t *testing.T) {
	rack := simrack.New(simrack.Config{Password: "the-real-password"})
	srv := httptest.NewServer(rack.Handler())
	defer srv.Close()
	e := newEnv(t, func(c *configT) {
		c.Racks = append(c.Racks, config.Rack{Name: "wrongpw", URL: srv.URL, Password: "a-stale-password"})
	})
	status, body := read(t, e.do("GET", "/racks/wrongpw/apps", e.tokens[authz.RoleViewer], nil, nil))
	if status != 502 || !strings.Contains(body, "rack_credentials_rejected") || !strings.Contains(body, "rack-gateway:") ||
		!strings.Contains(body, "configuration") || strings.Contains(body, "invalid authentication") {
		t.Errorf("call to a rack refusing the gateway: %d %s", status, body)
	}
	var found bool
	for _, ev := range e.audit() {
		if ev.Rack == "wrongpw" && ev.Path == "/apps" {
			found = true
			if ev.Reason != string(authz.ReasonRackCredentials) || ev.Status != 502 {
				t.Errorf("audited as %s %d, want rack_credentials_rejected 502", ev.Reason, ev.Status)
			}
		}
	}
	if !found {
		t.Error("the call was not audited")
	}
	resp, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(rb), "rack wrongpw") || !strings.Contains(string(rb), "password") ||
		strings.Contains(string(rb), "a-stale-password") {
		t.Errorf("/readyz: %d %q", resp.StatusCode, rb)
	}
}
