package client

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// The code must equal login.VerificationCode in internal/web/login (the
// page shows it); this vector was computed with that function.
func TestClientVerificationCodeMatchesGateway(t *testing.T) {
	if got := cliVerificationCode("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"); got != "LGBN-J7A3" {
		t.Fatalf("code %s", got)
	}
}

func TestClientLoginRacksSwitchWhoami(t *testing.T) {
	fastPoll(t)
	gw1 := newFakeGateway(t, "alice@example.com", "admin")
	gw2 := newFakeGateway(t, "bob@example.com", "viewer")
	env := clientEnv(t)

	// gw1 through the browser command: it receives the URL as argument.
	browser, opened := browserScript(t)
	r := start(with(env, "RACK_GATEWAY_BROWSER", browser), "login", gw1.URL(), "--name", "prod")
	loginURL := opened()
	browse(t, loginURL)
	if code := r.wait(t); code != 0 {
		t.Fatalf("login: %d %s", code, r.errb.String())
	}
	if !strings.Contains(r.errb.String(), loginURL) {
		t.Errorf("the URL must be printed even when a browser opens: %s", r.errb.String())
	}
	u := must(url.Parse(loginURL))
	if u.Path != "/auth/cli" || u.Query().Get("name") != "prod" || len(u.Query().Get("request")) != 43 || len(u.Query().Get("challenge")) != 43 {
		t.Errorf("login URL %s", loginURL)
	}
	if code := cliVerificationCode(u.Query().Get("challenge")); !strings.Contains(r.errb.String(), "Confirmation code: "+code) {
		t.Errorf("no confirmation code %s in %s", code, r.errb.String())
	}
	if want := "Logged in to prod (" + gw1.URL() + ") as alice@example.com (role admin); session expires in 30d"; !strings.HasPrefix(r.out.String(), want) {
		t.Errorf("login said %q; want prefix %q", r.out.String(), want)
	}
	func() {
		defer gw1.lock()()
		l := gw1.logins[u.Query().Get("request")]
		if gw1.verifierOK < 3 || len(gw1.sessions) != 1 || l == nil || !l.claimed || l.polls != 2 {
			t.Errorf("fake saw %d matching verifiers, %d sessions, login %+v; want pending twice after completion, then one session", gw1.verifierOK, len(gw1.sessions), l)
		}
	}()

	// gw2 headless, default name from the host.
	out := login(t, env, gw2)
	name2 := defaultRackName(gw2.URL())
	if !regexp.MustCompile(`^127-0-0-1-[0-9]+$`).MatchString(name2) || !strings.Contains(out, "Logged in to "+name2) {
		t.Fatalf("default name %q; login said %q", name2, out)
	}

	cfg, fi := readConfig(t, env)
	if runtime.GOOS != "windows" {
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("config mode %v", fi.Mode())
		}
		if di := must(os.Stat(filepath.Dir(filepath.Join(env["XDG_CONFIG_HOME"], "rack-gateway", "x")))); di.Mode().Perm() != 0o700 {
			t.Errorf("config dir mode %v", di.Mode())
		}
	}
	if cfg.Current != name2 || len(cfg.Racks) != 2 || cfg.Racks["prod"].URL != gw1.URL() || cfg.Racks["prod"].Email != "alice@example.com" ||
		!strings.HasPrefix(cfg.Racks["prod"].Token, "rgws_") || cfg.Racks[name2].Role != "viewer" {
		t.Fatalf("config %+v", cfg)
	}
	if _, err := time.Parse(time.RFC3339, cfg.Racks["prod"].ExpiresAt); err != nil {
		t.Errorf("expires_at: %v", err)
	}
	raw := string(must(os.ReadFile(filepath.Join(env["XDG_CONFIG_HOME"], "rack-gateway", "config.json"))))
	for _, key := range []string{`"current"`, `"racks"`, `"url"`, `"token"`, `"email"`, `"role"`, `"expires_at"`} {
		if !strings.Contains(raw, key) {
			t.Errorf("config lacks %s:\n%s", key, raw)
		}
	}

	racksTable := func() map[string]string { // name → its line
		t.Helper()
		code, out, stderr := run(t, env, "racks")
		if code != 0 {
			t.Fatalf("racks: %d %s", code, stderr)
		}
		lines := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			f := strings.Fields(l)
			if f[0] == "*" {
				lines[f[1]] = l
			} else {
				lines[f[0]] = l
			}
		}
		return lines
	}
	lines := racksTable()
	if len(lines) != 2 || !strings.HasPrefix(lines[name2], "*") || strings.HasPrefix(lines["prod"], "*") ||
		!strings.Contains(lines["prod"], "alice@example.com") || !strings.Contains(lines["prod"], "admin") ||
		!strings.Contains(lines["prod"], gw1.URL()) || !strings.Contains(lines["prod"], "in 30d") {
		t.Fatalf("racks:\n%v", lines)
	}

	if code, out, _ := run(t, env, "switch", "prod"); code != 0 || !strings.Contains(out, "prod") {
		t.Fatalf("switch: %d %s", code, out)
	}
	if lines := racksTable(); !strings.HasPrefix(lines["prod"], "*") || strings.HasPrefix(lines[name2], "*") {
		t.Fatalf("after switch:\n%v", lines)
	}
	if code, _, stderr := run(t, env, "switch", "nope"); code != 1 || !strings.Contains(stderr, `unknown rack "nope"`) ||
		!strings.Contains(stderr, "prod") || !strings.Contains(stderr, name2) {
		t.Fatalf("switch unknown: %d %s", code, stderr)
	}

	// whoami sends each rack's own token.
	cases := []struct {
		name  string
		env   map[string]string
		args  []string
		gw    *fakeGateway
		rack  string
		email string
	}{
		{"current", env, nil, gw1, "prod", "alice@example.com"},
		{"--rack", env, []string{"--rack", name2}, gw2, name2, "bob@example.com"},
		{"RACK_GATEWAY_RACK", with(env, "RACK_GATEWAY_RACK", name2), nil, gw2, name2, "bob@example.com"},
		{"--rack beats RACK_GATEWAY_RACK", with(env, "RACK_GATEWAY_RACK", name2), []string{"--rack", "prod"}, gw1, "prod", "alice@example.com"},
	}
	for _, c := range cases {
		t.Run("whoami "+c.name, func(t *testing.T) {
			code, out, stderr := run(t, c.env, append([]string{"whoami"}, c.args...)...)
			if code != 0 {
				t.Fatalf("whoami: %d %s", code, stderr)
			}
			for _, want := range []string{c.email, "Rack:    " + c.rack, c.gw.URL(), "expires in 30d"} {
				if !strings.Contains(out, want) {
					t.Errorf("whoami lacks %q:\n%s", want, out)
				}
			}
			defer c.gw.lock()()
			if last := c.gw.bearers[len(c.gw.bearers)-1]; last != cfg.Racks[c.rack].Token {
				t.Errorf("gateway saw the wrong bearer token")
			}
		})
	}

	// env, for eval.
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		rack string
		gw   *fakeGateway
	}{
		{"current", env, nil, "prod", gw1},
		{"--rack", env, []string{"--rack", name2}, name2, gw2},
		{"RACK_GATEWAY_RACK", with(env, "RACK_GATEWAY_RACK", name2), nil, name2, gw2},
	} {
		t.Run("env "+c.name, func(t *testing.T) {
			code, out, stderr := run(t, c.env, append([]string{"env"}, c.args...)...)
			want := "export RACK_URL='http://convox:" + cfg.Racks[c.rack].Token + "@" + strings.TrimPrefix(c.gw.URL(), "http://") + "/rack'\n"
			if code != 0 || out != want {
				t.Fatalf("env: %d %q %s; want %q", code, out, stderr, want)
			}
		})
	}
}

func TestClientRefusesExposedConfig(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes")
	}
	env := clientEnv(t)
	dir := filepath.Join(env["XDG_CONFIG_HOME"], "rack-gateway")
	os.MkdirAll(dir, 0o700)
	p := filepath.Join(dir, "config.json")
	if err := os.WriteFile(p, []byte(`{"current":"a","racks":{"a":{"url":"https://gw.example.com","token":"rgws_x"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	for _, args := range [][]string{{"racks"}, {"whoami"}, {"env"}, {"switch", "a"}, {"logout"}, {"login", "https://gw.example.com", "--no-browser"}} {
		code, out, stderr := run(t, env, args...)
		if code != 1 || out != "" || !strings.Contains(stderr, "chmod 600 "+p) || !strings.Contains(stderr, "other users can access it") {
			t.Errorf("%v: %d %q %q", args, code, out, stderr)
		}
	}
	os.Chmod(p, 0o600)
	if code, out, stderr := run(t, env, "env"); code != 0 || out != "export RACK_URL='https://convox:rgws_x@gw.example.com/rack'\n" {
		t.Errorf("after chmod: %d %q %s", code, out, stderr)
	}
}

// convoxStandIn writes a fake convox that prints what it got and exits 3.
func convoxStandIn(t *testing.T, dir string) string {
	p := filepath.Join(dir, "convox")
	script := "#!/bin/sh\necho \"RACK_URL=$RACK_URL\"\necho \"CONVOX_RACK=${CONVOX_RACK-unset}\"\necho \"ARGS=$*\"\nexit 3\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientConvoxRunsTheCLI(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell script stand-in")
	}
	fastPoll(t)
	gw1 := newFakeGateway(t, "alice@example.com", "admin")
	gw2 := newFakeGateway(t, "bob@example.com", "viewer")
	env := clientEnv(t)
	login(t, env, gw1, "--name", "one")
	login(t, env, gw2, "--name", "two")
	cfg, _ := readConfig(t, env)
	// A login session's calls go through the local second-factor relay
	// (mfaproxy.go) on loopback, with the session's token and path.
	rackURL := func(name string, gw *fakeGateway) string {
		return "http://convox:" + cfg.Racks[name].Token + "@127.0.0.1:PORT/rack"
	}
	relayPort := regexp.MustCompile(`@127\.0\.0\.1:\d+/rack`)
	convox := convoxStandIn(t, env["PATH"]) // on PATH
	t.Setenv("CONVOX_RACK", "someother")
	t.Setenv("RACK_URL", "https://convox:stale@elsewhere/rack")

	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		rackURL  string
		wantArgs string
	}{
		{"current, from PATH", env, []string{"apps", "-a", "myapp"}, rackURL("two", gw2), "apps -a myapp"},
		{"--rack", env, []string{"--rack", "one", "ps", "--rack", "x"}, rackURL("one", gw1), "ps --rack x"},
		{"--rack=", env, []string{"--rack=one", "--", "--version"}, rackURL("one", gw1), "--version"},
		{"RACK_GATEWAY_RACK", with(env, "RACK_GATEWAY_RACK", "one"), []string{"apps"}, rackURL("one", gw1), "apps"},
		{"RACK_GATEWAY_CONVOX", with(env, "PATH", "", "RACK_GATEWAY_CONVOX", convox), []string{"env", "-a", "x"}, rackURL("two", gw2), "env -a x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := runExit(t, c.env, append([]string{"convox"}, c.args...)...)
			for _, gw := range []*fakeGateway{gw1, gw2} {
				if strings.Contains(out, strings.TrimPrefix(gw.URL(), "http://")) {
					t.Errorf("convox was pointed at the gateway, not the local relay: %s", out)
				}
			}
			out = relayPort.ReplaceAllString(out, "@127.0.0.1:PORT/rack")
			want := "RACK_URL=" + c.rackURL + "\nCONVOX_RACK=unset\nARGS=" + c.wantArgs + "\n"
			if code != 3 || out != want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 3 and %q", code, out, stderr, want)
			}
			if strings.Contains(stderr, "rgws_") {
				t.Errorf("token printed: %s", stderr)
			}
		})
	}

	t.Run("exit 0", func(t *testing.T) {
		ok := filepath.Join(t.TempDir(), "convox")
		os.WriteFile(ok, []byte("#!/bin/sh\nexit 0\n"), 0o755)
		if code, _, stderr := runExit(t, with(env, "RACK_GATEWAY_CONVOX", ok), "convox", "apps"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
	t.Run("not installed", func(t *testing.T) {
		code, _, stderr := runExit(t, with(env, "PATH", t.TempDir()), "convox", "apps")
		if code != 1 || !strings.Contains(stderr, "install the convox CLI: https://docs.convox.com/installation/cli") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}

func TestClientCIMode(t *testing.T) {
	gw := newFakeGateway(t, "ci@example.com", "deployer")
	gw.apiTokens["rgw_citoken"] = "ci-deploy"
	env := with(clientEnv(t), "RACK_GATEWAY_URL", gw.URL()+"/", "RACK_GATEWAY_TOKEN", "rgw_citoken")

	code, out, stderr := run(t, env, "whoami")
	if code != 0 || !strings.Contains(out, "ci@example.com") || !strings.Contains(out, "deployer") || !strings.Contains(out, "ci-deploy") {
		t.Fatalf("whoami: %d %s %s", code, out, stderr)
	}
	func() {
		defer gw.lock()()
		if gw.bearers[len(gw.bearers)-1] != "rgw_citoken" {
			t.Errorf("bearer %v", gw.bearers)
		}
	}()
	hostport := strings.TrimPrefix(gw.URL(), "http://")
	if code, out, _ := run(t, env, "env"); code != 0 || out != "export RACK_URL='http://convox:rgw_citoken@"+hostport+"/rack'\n" {
		t.Fatalf("env: %d %q", code, out)
	}
	if runtime.GOOS != "windows" {
		convox := convoxStandIn(t, t.TempDir())
		code, out, stderr := runExit(t, with(env, "RACK_GATEWAY_CONVOX", convox), "convox", "apps")
		if code != 3 || !strings.Contains(out, "RACK_URL=http://convox:rgw_citoken@"+hostport+"/rack\n") {
			t.Fatalf("convox: %d %q %s", code, out, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(env["XDG_CONFIG_HOME"], "rack-gateway")); !os.IsNotExist(err) {
		t.Errorf("CI mode touched the config directory: %v", err)
	}

	gw.apiFail = "invalid_credentials"
	if code, _, stderr := run(t, env, "whoami"); code != 1 || !strings.Contains(stderr, "did not accept RACK_GATEWAY_TOKEN") {
		t.Errorf("bad CI token: %d %s", code, stderr)
	}
	for _, v := range []string{"RACK_GATEWAY_URL", "RACK_GATEWAY_TOKEN"} {
		half := with(env, v, "")
		if code, _, stderr := run(t, half, "env"); code != 1 || !strings.Contains(stderr, "set both") {
			t.Errorf("only one of the CI variables: %d %s", code, stderr)
		}
	}
}

func TestClientErrorMapping(t *testing.T) {
	fastPoll(t)
	gw := newFakeGateway(t, "alice@example.com", "viewer")
	env := clientEnv(t)
	login(t, env, gw, "--name", "prod")
	relogin := "`rack-gateway login " + gw.URL() + " --name prod`"
	cases := []struct {
		reason string
		want   string
	}{
		{"session_expired", "session expired for rack 'prod': run " + relogin},
		{"session_revoked", "the session for rack 'prod' was ended on the gateway: run " + relogin},
		{"invalid_credentials", "the gateway did not accept the saved session for rack 'prod': run " + relogin},
		{"unauthenticated", "the gateway did not accept the saved session for rack 'prod': run " + relogin},
		{"user_disabled", "your account is disabled on " + gw.URL() + ": ask a gateway admin"},
		{"missing_permission", "permission denied on rack 'prod': refused: missing_permission"},
		{"auth_unavailable", "the gateway at " + gw.URL() + " cannot check credentials right now: try again shortly"},
		{"audit_unavailable", "the gateway at " + gw.URL() + " cannot record changes right now (its audit log is unavailable): try again shortly"},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			func() { defer gw.lock()(); gw.apiFail = c.reason }()
			code, out, stderr := run(t, env, "whoami")
			if code != 1 || out != "" || stderr != "rack-gateway whoami: "+c.want+"\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want the line %q", code, out, stderr, c.want)
			}
		})
	}

	// A session past its saved expiry fails without asking the gateway.
	p := filepath.Join(env["XDG_CONFIG_HOME"], "rack-gateway", "config.json")
	cfg, _ := readConfig(t, env)
	cfg.Racks["prod"].ExpiresAt = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if err := saveClientConfig(p, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"env", "whoami", "convox"} {
		code, out, stderr := runExit(t, env, cmd)
		if code != 1 || out != "" || !strings.Contains(stderr, "session expired for rack 'prod': run "+relogin) {
			t.Errorf("%s: %d %q %q", cmd, code, out, stderr)
		}
	}
	if code, out, _ := run(t, env, "racks"); code != 0 || !strings.Contains(out, "expired (") {
		t.Errorf("racks: %s", out)
	}
}

func TestClientLogout(t *testing.T) {
	fastPoll(t)
	gw := newFakeGateway(t, "alice@example.com", "admin")
	env := clientEnv(t)
	login(t, env, gw, "--name", "a")
	login(t, env, gw, "--name", "b")
	login(t, env, gw, "--name", "c")
	func() {
		defer gw.lock()()
		if len(gw.sessions) != 3 {
			t.Fatalf("sessions %d", len(gw.sessions))
		}
	}()

	// Current (c): its own session is revoked, nothing else.
	code, out, stderr := run(t, env, "logout")
	if code != 0 || !strings.Contains(out, "Logged out of c") || stderr != "" {
		t.Fatalf("logout: %d %s %s", code, out, stderr)
	}
	func() {
		defer gw.lock()()
		if !slices.Equal(gw.deleted, []int64{gw.sessions[2].id}) {
			t.Errorf("deleted %v, want the current session %d", gw.deleted, gw.sessions[2].id)
		}
	}()
	cfg, _ := readConfig(t, env)
	if _, ok := cfg.Racks["c"]; ok || cfg.Current != "" || len(cfg.Racks) != 2 {
		t.Fatalf("config after logout: %+v", cfg)
	}

	// By name.
	if code, out, stderr := run(t, env, "logout", "a"); code != 0 || !strings.Contains(out, "Logged out of a") {
		t.Fatalf("logout a: %d %s %s", code, out, stderr)
	}
	func() {
		defer gw.lock()()
		if !slices.Equal(gw.deleted, []int64{gw.sessions[2].id, gw.sessions[0].id}) {
			t.Errorf("deleted %v", gw.deleted)
		}
	}()

	// Gateway gone: the local credentials go anyway, and it says so.
	gw.srv.Close()
	code, out, stderr = run(t, env, "logout", "--rack", "b")
	if code != 0 || !strings.Contains(stderr, "Could not end the session on the gateway") ||
		!strings.Contains(stderr, "cannot reach the gateway") || strings.Contains(stderr+out, "rgws_") {
		t.Fatalf("logout offline: %d %q %q", code, out, stderr)
	}
	cfg, _ = readConfig(t, env)
	if len(cfg.Racks) != 0 {
		t.Fatalf("config: %+v", cfg)
	}
	if code, _, stderr := run(t, env, "logout", "b"); code != 1 || !strings.Contains(stderr, "not logged in") && !strings.Contains(stderr, `unknown rack "b"`) {
		t.Fatalf("logout unknown: %d %s", code, stderr)
	}
}

func TestClientLoginFailures(t *testing.T) {
	fastPoll(t)
	cases := []struct {
		name   string
		setup  func(f *fakeGateway)
		browse bool
		args   []string
		want   string
	}{
		{"expired", func(f *fakeGateway) { f.claimStatus, f.claimReason = 410, "login_expired" }, false, nil, "the login expired before it was completed: run `rack-gateway login"},
		{"refused in the browser", func(f *fakeGateway) { f.claimStatus, f.claimReason = 409, "login_refused" }, false, nil, "the login was refused in the browser"},
		{"disabled", func(f *fakeGateway) { f.claimStatus, f.claimReason = 403, "user_disabled" }, false, nil, "your account is disabled"},
		{"verifier mismatch", func(f *fakeGateway) { f.tamper = true }, true, nil, "the gateway refused the login (the verifier does not match this login)"},
		{"not a gateway", func(f *fakeGateway) { f.claimStatus = 404 }, false, nil, "does not offer browser login"},
		{"never opened", func(f *fakeGateway) {}, false, []string{"--timeout", "300ms"}, "the login page was not opened within 300ms"},
		{"never completed", func(f *fakeGateway) { f.pendingPolls = 1 << 30 }, true, []string{"--timeout", "500ms"}, "the login was not completed within 500ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gw := newFakeGateway(t, "alice@example.com", "admin")
			c.setup(gw)
			env := clientEnv(t)
			r := start(env, append([]string{"login", gw.URL(), "--no-browser"}, c.args...)...)
			if c.browse {
				var u string
				testutil.Poll(testutil.Patience, func() bool { u = loginURLRe.FindString(r.errb.String()); return u != "" })
				browse(t, u)
			}
			code := r.wait(t)
			if code != 1 || !strings.Contains(r.errb.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want %q", code, r.errb.String(), c.want)
			}
			if _, err := os.Stat(filepath.Join(env["XDG_CONFIG_HOME"], "rack-gateway", "config.json")); !os.IsNotExist(err) {
				t.Errorf("a failed login saved something: %v", err)
			}
		})
	}
}

func TestClientURLsAndNames(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"gw.example.com", "https://gw.example.com", ""},
		{"https://gw.example.com/", "https://gw.example.com", ""},
		{"https://gw.example.com/prefix/?x=1#y", "https://gw.example.com/prefix", ""},
		{"http://127.0.0.1:8447", "http://127.0.0.1:8447", ""},
		{"http://localhost:8447/", "http://localhost:8447", ""},
		{"http://gw.example.com", "", "plain http is allowed only"},
		{"https://u:p@gw.example.com", "", "must not contain credentials"},
		{"ftp://gw.example.com", "", "want https://"},
		{"", "", "give the gateway URL"},
	} {
		got, err := normalizeGatewayURL(c.in)
		if got != c.want || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("normalize(%q) = %q, %v; want %q, %q", c.in, got, err, c.want, c.err)
		}
	}
	for in, want := range map[string]string{
		"https://GW.Example.com":       "gw-example-com",
		"https://gw.example.com:8443/": "gw-example-com-8443",
		"http://[::1]:8447":            "1-8447",
		"http://127.0.0.1:8447":        "127-0-0-1-8447",
	} {
		if got := defaultRackName(in); got != want || !validRackName(got) {
			t.Errorf("defaultRackName(%q) = %q, want %q", in, got, want)
		}
	}
	for name, ok := range map[string]bool{"prod": true, "prod_eu.1": true, "-x": false, ".x": false, "a b": false, "": false, strings.Repeat("a", 65): false} {
		if validRackName(name) != ok {
			t.Errorf("validRackName(%q) != %v", name, ok)
		}
	}
	if got := shellQuote("a'b"); got != `'a'\''b'` {
		t.Errorf("shellQuote: %s", got)
	}
	if code, _, stderr := run(t, clientEnv(t), "login", "https://gw.example.com", "--name", "bad name"); code != 1 || !strings.Contains(stderr, "invalid --name") {
		t.Errorf("bad name: %d %s", code, stderr)
	}
}

// -h prints a command's usage to stdout and exits 0 (internal/cli tests
// every command and sub-command, through the command table).
func TestClientCommandsHaveUsage(t *testing.T) {
	for cmd := range verbs {
		code, out, stderr := runExit(t, clientEnv(t), cmd, "-h")
		if code != 0 || !strings.Contains(out, "Usage: rack-gateway "+cmd) || stderr != "" {
			t.Errorf("%s -h: %d %q %q", cmd, code, out, stderr)
		}
	}
}
