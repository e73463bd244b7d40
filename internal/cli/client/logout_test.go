package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// Logging out of the last saved rack leaves no current rack and no logins;
// every command then says how to log in, and `racks` says so too.
func TestClientLogoutLastRack(t *testing.T) {
	fastPoll(t)
	gw := newFakeGateway(t, "alice@example.com", "admin")
	env := clientEnv(t)
	login(t, env, gw, "--name", "prod")

	code, out, stderr := run(t, env, "logout")
	want := "Logged out of prod (" + gw.URL() + ").\nNot logged in to any gateway now; log in again with `rack-gateway login " + gw.URL() + " --name prod`.\n"
	if code != 0 || out != want || stderr != "" {
		t.Fatalf("logout: %d %q %q; want stdout %q", code, out, stderr, want)
	}
	if cfg, _ := readConfig(t, env); cfg.Current != "" || len(cfg.Racks) != 0 {
		t.Fatalf("config after logging out of the last rack: %+v", cfg)
	}
	notLoggedIn := "not logged in to any gateway: run `rack-gateway login https://GATEWAY`"
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"racks"}, 0, "Not logged in to any gateway: run `rack-gateway login https://GATEWAY`."},
		{[]string{"whoami"}, 1, "rack-gateway whoami: " + notLoggedIn},
		{[]string{"env"}, 1, "rack-gateway env: " + notLoggedIn},
		{[]string{"users"}, 1, "rack-gateway users: " + notLoggedIn},
		{[]string{"logout"}, 1, "rack-gateway logout: " + notLoggedIn},
		{[]string{"login"}, 2, "Usage: rack-gateway login"}, // no URL and nothing to renew
		{[]string{"switch", "prod"}, 1, `unknown rack "prod" (no racks are logged in): add it with ` + "`rack-gateway login https://GATEWAY --name prod`"},
	} {
		code, out, stderr := run(t, env, c.args...)
		if code != c.code || out != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: %d %q %q; want %d and %q", c.args, code, out, stderr, c.code, c.want)
		}
	}
}

// A "current" that names no saved rack (a file edited by hand, an older
// version) counts as no current rack.
func TestClientDanglingCurrent(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       string // whoami's error
	}{
		{"no racks", `{"current": "gone", "racks": {}}`, "rack-gateway whoami: not logged in to any gateway: run `rack-gateway login https://GATEWAY`"},
		{"other racks", `{"current": "gone", "racks": {"a": {"url": "https://a.example.com", "token": "rgws_x"}}}`,
			"rack-gateway whoami: no current rack (known racks: a): run `rack-gateway switch NAME` or pass --rack NAME"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := clientEnv(t)
			p := filepath.Join(env["XDG_CONFIG_HOME"], "rack-gateway", "config.json")
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, out, stderr := run(t, env, "whoami"); code != 1 || out != "" || strings.TrimSpace(stderr) != c.want {
				t.Errorf("whoami: %d %q %q; want %q", code, out, stderr, c.want)
			}
			if _, out, _ := run(t, env, "racks"); strings.Contains(out, "*") {
				t.Errorf("racks marks a current rack:\n%s", out)
			}
		})
	}
}

// A login saved under the same name while logout was ending the old
// session (another terminal) is kept: logout ended the session it read.
func TestClientLogoutKeepsANewerLogin(t *testing.T) {
	fastPoll(t)
	gw := newFakeGateway(t, "alice@example.com", "admin")
	env := clientEnv(t)
	login(t, env, gw, "--name", "prod")
	gw.onRevoke = func() {
		cfg, path, err := loadClientConfig(&cmdutil.Env{Getenv: func(k string) string { return env[k] }})
		if err != nil {
			t.Error(err)
			return
		}
		cfg.Racks["prod"].Token = "rgws_newer"
		if err := saveClientConfig(path, cfg); err != nil {
			t.Error(err)
		}
	}
	code, out, stderr := run(t, env, "logout")
	if code != 0 || !strings.Contains(out, "was logged in again meanwhile: that newer login is kept") {
		t.Fatalf("logout: %d %q %q", code, out, stderr)
	}
	if cfg, _ := readConfig(t, env); cfg.Current != "prod" || cfg.Racks["prod"] == nil || cfg.Racks["prod"].Token != "rgws_newer" {
		t.Fatalf("config: %+v", cfg)
	}
}
