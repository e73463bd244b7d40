package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// Secret values seeded in the simulated rack.
var rackSecrets = []string{
	"secretpw", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	"dbsecretpw", "cachesecretpw", "registry-s3cret-pw",
}

func TestSecretsNeverShown(t *testing.T) {
	e := newEnv(t, func(c *configT) { c.ProtectedEnvKeys = []string{"DATABASE_URL"} })
	reads := []string{
		"/rack/apps/myapp/releases", "/rack/apps/myapp/releases?limit=1", "/rack/apps/myapp/releases/" + testRelease,
		"/rack/apps/myapp/resources", "/rack/apps/myapp/resources/database", "/rack/resources", "/rack/registries",
	}
	for _, role := range []string{authz.RoleViewer, authz.RoleOps, authz.RoleDeployer} {
		for _, p := range reads {
			status, body := read(t, e.do("GET", p, e.tokens[role], nil, nil))
			for _, s := range rackSecrets {
				if strings.Contains(body, s) {
					t.Errorf("%s GET %s (%d) shows secret %q", role, p, status, s)
				}
			}
		}
	}
	// The deployer sees env keys with masked values; the viewer no env at
	// all. Each is told why (the notice `rack-gateway convox` prints), the
	// admin, who sees everything, is told nothing.
	notices := map[string]string{
		authz.RoleViewer:   "env is hidden from your role (viewer) on rack dev: reading env needs env:read",
		authz.RoleDeployer: "env values are masked for your role (deployer) on rack dev: unmasked values need secret:read",
		authz.RoleAdmin:    "",
	}
	for role, want := range notices {
		resp := e.do("GET", "/rack/apps/myapp/releases/"+testRelease, e.tokens[role], nil, nil)
		resp.Body.Close()
		if got := resp.Header.Get(apitypes.HeaderNotice); !strings.HasPrefix(got, want) || (want == "") != (got == "") {
			t.Errorf("%s: notice %q, want %q", role, got, want)
		}
	}
	_, body := read(t, e.do("GET", "/rack/apps/myapp/releases/"+testRelease, e.tokens[authz.RoleDeployer], nil, nil))
	var rel struct{ Env string }
	_ = json.Unmarshal([]byte(body), &rel)
	if !strings.Contains(rel.Env, "DATABASE_URL=********") || !strings.Contains(rel.Env, "PORT=3000") {
		t.Errorf("deployer env = %q", rel.Env)
	}
	_, body = read(t, e.do("GET", "/rack/apps/myapp/releases", e.tokens[authz.RoleViewer], nil, nil))
	if strings.Contains(body, `"env"`) {
		t.Errorf("viewer sees env: %s", body)
	}
	// The admin sees everything.
	_, body = read(t, e.do("GET", "/rack/apps/myapp/releases/"+testRelease, e.tokens[authz.RoleAdmin], nil, nil))
	if !strings.Contains(body, "secretpw") {
		t.Errorf("admin env = %s", body)
	}

	// Protected key: the deployer may not change it, the admin may.
	b, h := form("env", "DATABASE_URL=postgres://evil\nPORT=3000", "parent-release", testRelease)
	status, body := read(t, e.do("POST", "/rack/apps/myapp/releases", e.tokens[authz.RoleDeployer], b, h))
	if status != 403 || !strings.Contains(body, "protected_env_key") {
		t.Errorf("deployer changing a protected key: %d %s", status, body)
	}
	// A masked value for a key that had none is refused.
	b, h = form("env", "NEW_SECRET=********", "parent-release", testRelease)
	status, _ = read(t, e.do("POST", "/rack/apps/myapp/releases", e.tokens[authz.RoleAdmin], b, h))
	if status != 400 {
		t.Errorf("masked new key: %d", status)
	}
	// Secret parameters and env values never reach the audit log; nor do
	// tokens or the rack password.
	b, h = form("env", "DATABASE_URL=postgres://u:secretpw@db/x\nPORT=3000\nSECRET_KEY_BASE=newsecretvalue-777", "parent-release", testRelease)
	status, _ = read(t, e.do("POST", "/rack/apps/myapp/releases", e.tokens[authz.RoleAdmin], b, h))
	if status != 200 {
		t.Errorf("admin env set: %d", status)
	}
	b, h = form("server", "r.example.com", "username", "u", "password", "registry-pass-in-request")
	read(t, e.do("POST", "/rack/registries", e.tokens[authz.RoleAdmin], b, h))
	read(t, e.do("POST", "/rack/apps/myapp/services/web/processes", e.tokens[authz.RoleOps], nil,
		http.Header{"Command": {"rake db:migrate"}, "Environment": {"API_KEY=env-header-secret"}}))

	forbidden := append([]string{"newsecretvalue-777", "registry-pass-in-request", "env-header-secret", e.rackPassword}, rackSecrets...)
	for _, tok := range e.tokens {
		forbidden = append(forbidden, tok)
	}
	evs := e.audit()
	if len(evs) == 0 {
		t.Fatal("no audit events")
	}
	var sawRedacted, sawKeys bool
	for _, ev := range evs {
		blob, _ := json.Marshal(ev)
		for _, s := range forbidden {
			if strings.Contains(string(blob), s) {
				t.Errorf("audit event %d contains secret %q", ev.ID, s)
			}
		}
		sawRedacted = sawRedacted || strings.Contains(ev.Details, "[redacted]")
		sawKeys = sawKeys || strings.Contains(ev.Details, "SECRET_KEY_BASE")
	}
	if !sawRedacted || !sawKeys {
		t.Errorf("audit details lack redaction markers (%v) or changed env key names (%v)", sawRedacted, sawKeys)
	}
}
