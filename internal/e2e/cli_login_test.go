package e2e

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// TestCLILoginConfirmationRefusalsAndRenewal complements
// TestCLILoginEndToEnd (clilogin_test.go) with the parts of the CLI login
// a person and an attacker see, all through the built binary and a real
// `rack-gateway dev` subprocess:
//
//   - the confirmation code the CLI prints is the one the page shows, the
//     exact redirect chain confirmation → IdP (with the gateway's own PKCE)
//     → callback → "Return to your terminal";
//   - a link opened in another browser, a cross-site Continue, a claim with
//     a wrong verifier, and replays of the link and of the callback are all
//     refused and do not spoil the real login;
//   - headless login from the printed URL (RACK_GATEWAY_NO_BROWSER), a login
//     cancelled at the IdP ends the CLI's wait at once, a login never opened
//     times out with a clear message;
//   - `env` gives a working RACK_URL; after an admin revokes the sessions the
//     next command says in one line how to log in again, `login` without a
//     URL renews the current rack; an unsafe config file mode is refused;
//     `logout` without a name ends the current rack's session and forgets
//     its token;
//   - the audit log records all of it and verifies.
func TestCLILoginConfirmationRefusalsAndRenewal(t *testing.T) {
	g := clStartDev(t, "dev-gateway")

	home, tools := t.TempDir(), t.TempDir()
	browser := filepath.Join(tools, "browser")
	// The browser stand-in only records the URL; the test's http.Client
	// then plays the person's browser.
	if err := os.WriteFile(browser, []byte("#!/bin/sh\nprintf '%s' \"$1\" > \"$CL_URL_FILE\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "xdg"), "RACK_GATEWAY_BROWSER": browser}
	cfgPath := filepath.Join(home, "xdg", "rack-gateway", "config.json")
	urlFile := func(name string) string { return filepath.Join(tools, "url-"+name) }

	// A login whose page is never opened, running alongside the rest.
	never := start(t, "login-never", clMerge(env, map[string]string{"CL_URL_FILE": urlFile("never"), "RACK_GATEWAY_NO_BROWSER": "1"}),
		"login", g.url, "--name", "never", "--timeout", "2s")

	// ---- 1. Deployer: confirmation page, refusals, redirect chain. ----
	la := start(t, "login-a", clMerge(env, map[string]string{"CL_URL_FILE": urlFile("a")}), "login", g.url, "--name", "a")
	loginURL := clWaitFile(t, la, urlFile("a"))
	if !strings.HasPrefix(loginURL, g.url+"/auth/cli?") {
		t.Fatalf("browser opened with %q, want %s/auth/cli?...", loginURL, g.url)
	}
	lu, _ := url.Parse(loginURL)
	q := lu.Query()
	request, challenge := q.Get("request"), q.Get("challenge")
	if q.Get("name") != "a" || len(request) < 43 || len(challenge) != 43 {
		t.Fatalf("login URL query %v", q)
	}
	cliCode := clWaitOutput(t, la, clCLICodeRe)[1]
	if !strings.Contains(la.stderr.String(), "    "+loginURL+"\n") {
		t.Errorf("login did not print the URL for headless use:\n%s", la.stderr.String())
	}

	alice := clNewBrowser(t)
	p := alice.get(loginURL)
	if p.status != 200 || !strings.Contains(p.body, "gateway named <strong>a</strong>") ||
		!strings.Contains(p.body, `<form method="post" action="/auth/cli">`) {
		t.Fatalf("confirmation page: %d\n%s", p.status, p.body)
	}
	if m := clCodeRe.FindStringSubmatch(p.body); m == nil || m[1] != cliCode {
		t.Fatalf("confirmation page code %v, the terminal shows %s", m, cliCode)
	}
	// A reload in the same browser shows the same page again.
	if p2 := alice.get(loginURL); p2.status != 200 || clCodeRe.FindString(p2.body) != clCodeRe.FindString(p.body) {
		t.Errorf("reloaded confirmation page: %d\n%s", p2.status, p2.body)
	}
	form := url.Values{"request": {request}, "challenge": {challenge}, "name": {"a"}}

	// Whoever saw the URL (request id and challenge) cannot claim without
	// the verifier, and learns nothing (not even "pending").
	if st, reason := clAPI(t, "POST", g.url+"/api/v1/cli/login/claim", "",
		`{"request":"`+request+`","verifier":"`+strings.Repeat("x", 43)+`"}`); st != 403 || reason != "bad_verifier" {
		t.Errorf("claim with a wrong verifier: %d %q, want 403 bad_verifier", st, reason)
	}
	// The link in another browser: refused, both the page and Continue.
	mallory := clNewBrowser(t)
	if p := mallory.get(loginURL); p.status != 409 || !strings.Contains(p.body, "Login already started") || strings.Contains(p.body, cliCode) {
		t.Errorf("the link in another browser: %d\n%s", p.status, p.body)
	}
	if p := mallory.postForm(g.url+"/auth/cli", g.url, form); p.status != 400 || !strings.Contains(p.body, "not started in this browser") {
		t.Errorf("Continue from another browser: %d\n%s", p.status, p.body)
	}
	// Continue submitted from another site, in the person's own browser.
	if p := alice.postForm(g.url+"/auth/cli", "http://evil.example", form); p.status != 403 || !strings.Contains(p.body, "submitted from another site") {
		t.Errorf("cross-site Continue: %d\n%s", p.status, p.body)
	}

	// Continue (same origin) → 303 to the dev IdP's sign-in page.
	p = alice.postForm(g.url+"/auth/cli", g.url, form)
	if len(alice.hops) != 2 {
		t.Fatalf("Continue: redirect chain %v, want POST /auth/cli then the IdP", alice.hops)
	}
	authz, _ := url.Parse(strings.TrimPrefix(alice.hops[1], "GET "))
	aq := authz.Query()
	if authz.Path != "/authorize" || aq.Get("client_id") != "rack-gateway-dev" || aq.Get("state") != request ||
		aq.Get("redirect_uri") != g.url+"/auth/callback" || aq.Get("code_challenge_method") != "S256" ||
		aq.Get("code_challenge") == "" || aq.Get("code_challenge") == challenge || aq.Get("nonce") == "" ||
		!strings.Contains(aq.Get("scope"), "openid") {
		t.Errorf("authorization request %s", authz)
	}
	f := clParseIdPForm(t, p)
	for _, e := range []string{"admin@example.com", "deployer@example.com", "ops@example.com", "viewer@example.com"} {
		if !slices.Contains(f.emails, e) {
			t.Errorf("the dev IdP offers %v, missing %s", f.emails, e)
		}
	}
	p = alice.postForm(f.action, f.origin, url.Values{"request": {f.request}, "email": {"deployer@example.com"}})
	if p.status != 200 || p.url.Scheme+"://"+p.url.Host != g.url || p.url.Path != "/auth/callback" ||
		!strings.Contains(p.body, "Signed in as deployer@example.com. Return to your terminal") {
		t.Fatalf("after the IdP form: %d at %v (hops %v)\n%s", p.status, p.url, alice.hops, p.body)
	}
	callbackURL := p.url.String()
	if cq := p.url.Query(); cq.Get("state") != request || cq.Get("code") == "" {
		t.Errorf("callback URL %s", callbackURL)
	}
	clWaitExit(t, la, 15*time.Second)
	if la.err != nil || !strings.Contains(la.stderr.String(), "Logged in to a ("+g.url+") as deployer@example.com (role deployer)") {
		t.Fatalf("login a: %v\n%s", la.err, la.stderr.String())
	}
	// Replays in the same browser: the link and the callback are spent.
	if p := alice.get(loginURL); p.status == 200 || strings.Contains(p.body, `action="/auth/cli"`) {
		t.Errorf("the used link again: %d\n%s", p.status, p.body)
	}
	if p := alice.get(callbackURL); p.status == 200 || strings.Contains(p.body, "Signed in as") {
		t.Errorf("the callback again: %d\n%s", p.status, p.body)
	}

	// ---- 2. Viewer, headless: no browser run, the printed URL is used. ----
	lv := start(t, "login-v", clMerge(env, map[string]string{"CL_URL_FILE": urlFile("v"), "RACK_GATEWAY_NO_BROWSER": "1"}),
		"login", g.url, "--name", "v")
	vURL := clWaitOutput(t, lv, regexp.MustCompile(`(?m)^    (http://\S+/auth/cli\?\S+)$`))[1]
	vCode := clWaitOutput(t, lv, clCLICodeRe)[1]
	victor := clNewBrowser(t)
	p = victor.get(vURL)
	if m := clCodeRe.FindStringSubmatch(p.body); p.status != 200 || m == nil || m[1] != vCode {
		t.Fatalf("viewer's confirmation page: %d (terminal code %s)\n%s", p.status, vCode, p.body)
	}
	vq, _ := url.ParseQuery(strings.SplitN(vURL, "?", 2)[1])
	f = clParseIdPForm(t, victor.postForm(g.url+"/auth/cli", g.url, vq))
	if p := victor.postForm(f.action, f.origin, url.Values{"request": {f.request}, "email": {"viewer@example.com"}}); p.status != 200 ||
		!strings.Contains(p.body, "Signed in as viewer@example.com.") {
		t.Fatalf("viewer sign-in: %d\n%s", p.status, p.body)
	}
	clWaitExit(t, lv, 15*time.Second)
	if lv.err != nil || !strings.Contains(lv.stderr.String(), "as viewer@example.com (role viewer)") {
		t.Fatalf("login v: %v\n%s", lv.err, lv.stderr.String())
	}
	if _, err := os.Stat(urlFile("v")); !os.IsNotExist(err) {
		t.Errorf("RACK_GATEWAY_NO_BROWSER=1 still ran the browser (%v)", err)
	}

	// ---- 3. Cancelled at the IdP: the CLI stops waiting at once. ----
	lc := start(t, "login-c", clMerge(env, map[string]string{"CL_URL_FILE": urlFile("c")}), "login", g.url, "--name", "c")
	cURL := clWaitFile(t, lc, urlFile("c"))
	carol := clNewBrowser(t)
	if p := carol.get(cURL); p.status != 200 {
		t.Fatalf("confirmation page c: %d\n%s", p.status, p.body)
	}
	cq, _ := url.ParseQuery(strings.SplitN(cURL, "?", 2)[1])
	f = clParseIdPForm(t, carol.postForm(g.url+"/auth/cli", g.url, cq))
	cancelled := time.Now()
	if p := carol.postForm(f.action, f.origin, url.Values{"request": {f.request}, "action": {"deny"}}); p.status != 403 ||
		!strings.Contains(p.body, "Sign-in cancelled") {
		t.Errorf("cancel at the IdP: %d\n%s", p.status, p.body)
	}
	clWaitExit(t, lc, 10*time.Second)
	if lc.err == nil || !strings.Contains(lc.stderr.String(), "the login was refused in the browser") {
		t.Errorf("login c after cancel: %v\n%s", lc.err, lc.stderr.String())
	}
	if d := time.Since(cancelled); d > 5*time.Second {
		t.Errorf("login c took %v after the cancel to give up", d)
	}

	// ---- 4. Never opened: times out, names the reason, ran no browser. ----
	clWaitExit(t, never, 20*time.Second)
	if never.err == nil || !strings.Contains(never.stderr.String(), "the login page was not opened within 2s") ||
		!strings.Contains(never.stderr.String(), g.url+"/auth/cli?") {
		t.Errorf("login never: %v\n%s", never.err, never.stderr.String())
	}
	if _, err := os.Stat(urlFile("never")); !os.IsNotExist(err) {
		t.Errorf("RACK_GATEWAY_NO_BROWSER=1 still ran the browser (%v)", err)
	}

	// ---- 5. What was saved. ----
	cfg, raw := clReadConfig(t, cfgPath)
	if cfg.Current != "v" || len(cfg.Racks) != 2 || cfg.Racks["a"].Email != "deployer@example.com" ||
		cfg.Racks["a"].Role != "deployer" || cfg.Racks["v"].Role != "viewer" || cfg.Racks["a"].URL != g.url ||
		!strings.HasPrefix(cfg.Racks["a"].Token, "rgws_") || !strings.HasPrefix(cfg.Racks["v"].Token, "rgws_") ||
		regexp.MustCompile(`rgw_[A-Za-z0-9]`).MatchString(raw) {
		t.Fatalf("saved config (want racks a and v, current v, session tokens only):\n%s", raw)
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode: %v %v", fi, err)
	}
	if di, err := os.Stat(filepath.Dir(cfgPath)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode: %v %v", di, err)
	}
	tokA, tokV := cfg.Racks["a"].Token, cfg.Racks["v"].Token

	// ---- 6. env gives a RACK_URL that works as is. ----
	out := mustCLI(t, env, "env", "--rack", "a")
	m := regexp.MustCompile(`^export RACK_URL='([^']+)'\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("env: %q", out)
	}
	ru, err := url.Parse(m[1])
	if err != nil || ru.User == nil || ru.User.Username() != "convox" || ru.Host != strings.TrimPrefix(g.url, "http://") || ru.Path != "/rack" {
		t.Fatalf("RACK_URL %q", m[1])
	}
	if pw, _ := ru.User.Password(); pw != tokA {
		t.Errorf("RACK_URL password is not rack a's saved session token")
	}
	apps := clRackGet(t, m[1], "/apps")
	if apps.status != 200 || !strings.Contains(apps.body, "myapp") {
		t.Errorf("GET /rack/apps with env's RACK_URL: %d %s", apps.status, apps.body)
	}

	// ---- 7. Revocation by an admin takes effect on the next command. ----
	if st, _ := clAPI(t, "DELETE", g.url+"/api/v1/users/deployer@example.com/sessions", g.adminToken, ""); st != 200 {
		t.Fatalf("revoke the deployer's sessions: %d", st)
	}
	if st, reason := clAPI(t, "GET", g.url+"/api/v1/me", tokA, ""); st != 401 || reason != "session_revoked" {
		t.Errorf("revoked token: %d %q, want 401 session_revoked", st, reason)
	}
	_, errOut, err := cli(t, env, "whoami", "--rack", "a")
	wantMsg := "the session for rack 'a' was ended on the gateway: run `rack-gateway login " + g.url + " --name a`"
	if err == nil || !clOneLine(errOut) || !strings.Contains(errOut, wantMsg) {
		t.Errorf("whoami after revocation: %v\n%q\nwant one line with %q", err, errOut, wantMsg)
	}
	if apps := clRackGet(t, m[1], "/apps"); apps.status != 401 {
		t.Errorf("the revoked session through RACK_URL: %d", apps.status)
	}
	// Only the deployer's sessions ended.
	if who := mustCLI(t, env, "whoami", "--rack", "v"); !strings.Contains(who, "viewer@example.com") {
		t.Errorf("whoami v after revoking the deployer:\n%s", who)
	}

	// ---- 8. `login` without a URL renews the current rack. ----
	mustCLI(t, env, "switch", "a")
	os.Remove(urlFile("a"))
	lr := start(t, "login-renew", clMerge(env, map[string]string{"CL_URL_FILE": urlFile("a")}), "login")
	rURL := clWaitFile(t, lr, urlFile("a"))
	if !strings.HasPrefix(rURL, g.url+"/auth/cli?") || !strings.Contains(rURL, "name=a") {
		t.Fatalf("renewal opened %q", rURL)
	}
	if p := alice.get(rURL); p.status != 200 {
		t.Fatalf("renewal confirmation page: %d\n%s", p.status, p.body)
	}
	rq, _ := url.ParseQuery(strings.SplitN(rURL, "?", 2)[1])
	f = clParseIdPForm(t, alice.postForm(g.url+"/auth/cli", g.url, rq))
	if p := alice.postForm(f.action, f.origin, url.Values{"request": {f.request}, "email": {"deployer@example.com"}}); p.status != 200 {
		t.Fatalf("renewal sign-in: %d\n%s", p.status, p.body)
	}
	clWaitExit(t, lr, 15*time.Second)
	if lr.err != nil {
		t.Fatalf("renewal login: %v\n%s", lr.err, lr.stderr.String())
	}
	if who := mustCLI(t, env, "whoami"); !strings.Contains(who, "deployer@example.com") || !strings.Contains(who, "a (current)") {
		t.Errorf("whoami after renewal:\n%s", who)
	}
	cfg, _ = clReadConfig(t, cfgPath)
	if cfg.Racks["a"].Token == tokA || cfg.Racks["v"].Token != tokV || cfg.Current != "a" {
		t.Errorf("after renewal: current %q, a renewed %v, v kept %v", cfg.Current, cfg.Racks["a"].Token != tokA, cfg.Racks["v"].Token == tokV)
	}

	// ---- 9. A config file others can read is refused. ----
	if err := os.Chmod(cfgPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := cli(t, env, "racks"); err == nil || !strings.Contains(errOut, "refusing to use "+cfgPath) {
		t.Errorf("racks with a 0644 config: %v %s", err, errOut)
	}
	if err := os.Chmod(cfgPath, 0o600); err != nil {
		t.Fatal(err)
	}

	// ---- 10. logout without a name: the current rack. ----
	mustCLI(t, env, "switch", "v")
	if out := mustCLI(t, env, "logout"); !strings.Contains(out, "Logged out of v ("+g.url+")") {
		t.Errorf("logout:\n%s", out)
	}
	if st, _ := clAPI(t, "GET", g.url+"/api/v1/me", tokV, ""); st != 401 {
		t.Errorf("v's session after logout: %d, want 401", st)
	}
	cfg, raw = clReadConfig(t, cfgPath)
	if strings.Contains(raw, tokV) || cfg.Current != "" || len(cfg.Racks) != 1 {
		t.Errorf("config after logout v:\n%s", raw)
	}
	if _, errOut, err := cli(t, env, "whoami"); err == nil || !strings.Contains(errOut, "no current rack") || !strings.Contains(errOut, "rack-gateway switch NAME") {
		t.Errorf("whoami with no current rack: %v %s", err, errOut)
	}
	if who := mustCLI(t, env, "whoami", "--rack", "a"); !strings.Contains(who, "deployer@example.com") {
		t.Errorf("a after logging out of v:\n%s", who)
	}

	// ---- 11. The audit log has it all, and verifies. ----
	wants := map[string]*regexp.Regexp{
		"deployer's CLI login":    regexp.MustCompile(`allow\s+login\s+deployer@example.com\s+GET /auth/callback .*status=\d+ .*"kind":"cli"`),
		"viewer's CLI login":      regexp.MustCompile(`allow\s+login\s+viewer@example.com\s+GET /auth/callback .*"kind":"cli"`),
		"deployer's session":      regexp.MustCompile(`allow\s+session.create\s+deployer@example.com\s+POST /api/v1/cli/login/claim .*"cli_name":"a"`),
		"wrong-verifier claim":    regexp.MustCompile(`deny\s+session.create\s+.*POST /api/v1/cli/login/claim .*status=403 reason=bad_verifier`),
		"cross-site Continue":     regexp.MustCompile(`deny\s+login\s+.*POST /auth/cli .*status=403 reason=cross_origin`),
		"other browser Continue":  regexp.MustCompile(`deny\s+login\s+.*POST /auth/cli .*reason=browser_mismatch`),
		"cancel at the IdP":       regexp.MustCompile(`deny\s+login\s+.*GET /auth/callback .*reason=idp_error.*access_denied`),
		"callback replay":         regexp.MustCompile(`deny\s+login\s+.*GET /auth/callback .*status=400 reason=(state_replayed|browser_mismatch)`),
		"env's RACK_URL call":     regexp.MustCompile(`allow\s+AppList\s+deployer@example.com\s+GET /apps rack=dev status=200 `),
		"call after revocation":   regexp.MustCompile(`deny\s+AppList\s+.*GET /apps rack=dev status=401 reason=session_revoked`),
		"admin revokes sessions":  regexp.MustCompile(`allow\s+session.revoke-all\s+admin@example.com\s+deployer@example.com `),
		"viewer's logout revokes": regexp.MustCompile(`allow\s+session.revoke\s+viewer@example.com\s+viewer@example.com .*"kind":"cli"`),
	}
	var tail string
	testutil.Poll(testutil.Patience, func() bool {
		tail = mustCLI(t, nil, "audit", "tail", "--data", g.data, "-n", "1000")
		for _, re := range wants {
			if !re.MatchString(tail) {
				return false
			}
		}
		return true
	})
	for what, re := range wants {
		if !re.MatchString(tail) {
			t.Errorf("audit log lacks the %s (%v)", what, re)
		}
	}
	if strings.Contains(tail, tokA) || strings.Contains(tail, tokV) || strings.Contains(tail, request) {
		t.Errorf("the audit log contains a session token or a login request id")
	}
	if t.Failed() {
		t.Logf("audit tail:\n%s", tail)
	}
	if out := mustCLI(t, nil, "audit", "verify", "--data", g.data); !strings.HasPrefix(out, "OK") {
		t.Errorf("audit verify: %s", out)
	}
}

// clRackGet calls the rack API through the gateway with a RACK_URL (its
// userinfo as Basic credentials), as the convox CLI does.
func clRackGet(t *testing.T, rackURL, path string) clPage {
	t.Helper()
	u, err := url.Parse(rackURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	user := u.User.Username()
	u.User = nil
	req, err := http.NewRequest("GET", u.String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pw)
	b := clNewBrowser(t)
	return b.do(req)
}
