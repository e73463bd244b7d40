package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// cxStandInConvox is a stand-in for the convox CLI (which cannot be
// installed here): it makes the HTTP calls the real CLI makes for `apps`,
// `apps create NAME` and `releases create` against $RACK_URL with the
// userinfo as Basic credentials, prints what the rack answered and exits
// non-zero on an error, printing the gateway's message as the CLI does.
const cxStandInConvox = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

func main() {
	u, err := url.Parse(os.Getenv("RACK_URL"))
	if err != nil || u.User == nil {
		fmt.Fprintln(os.Stderr, "ERROR: RACK_URL missing or without credentials")
		os.Exit(2)
	}
	pw, _ := u.User.Password()
	base := u.Scheme + "://" + u.Host + u.Path
	var req *http.Request
	switch strings.Join(os.Args[1:], " ") {
	case "apps":
		req, _ = http.NewRequest("GET", base+"/apps", nil)
	case "apps create x":
		req, _ = http.NewRequest("POST", base+"/apps", strings.NewReader("name=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "apps delete myapp":
		req, _ = http.NewRequest("DELETE", base+"/apps/myapp", nil)
	case "env set A=1":
		req, _ = http.NewRequest("POST", base+"/apps/myapp/releases", strings.NewReader("env=A%3D1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "releases create":
		req, _ = http.NewRequest("POST", base+"/apps/myapp/releases", strings.NewReader("env=A%3D1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	default:
		fmt.Fprintln(os.Stderr, "stand-in convox: unknown command")
		os.Exit(2)
	}
	req.SetBasicAuth(u.User.Username(), pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		fmt.Fprintln(os.Stderr, "ERROR:", e.Error)
		os.Exit(1)
	}
	if os.Args[1] == "apps" && len(os.Args) == 2 {
		var apps []struct{ Name string }
		_ = json.Unmarshal(b, &apps)
		for _, a := range apps {
			fmt.Println(a.Name)
		}
		return
	}
	fmt.Println("OK")
}
`

// cxGateway is one `rack-gateway dev` subprocess.
type cxGateway struct {
	p          *proc
	url        string
	data       string
	adminToken string
}

func cxStartDev(t *testing.T, name string, extra ...string) *cxGateway {
	t.Helper()
	g := &cxGateway{data: t.TempDir()}
	addr := freeAddr(t)
	g.url = "http://" + addr
	g.p = start(t, name, nil, append([]string{"dev", "--data", g.data, "--addr", addr}, extra...)...)
	waitHealthy(t, g.p, g.url)
	re := regexp.MustCompile(`Bearer (rgw_[A-Za-z0-9_-]+)`)
	testutil.Poll(testutil.Patience, func() bool {
		if m := re.FindStringSubmatch(g.p.stderr.String()); m != nil {
			g.adminToken = m[1]
		}
		return g.adminToken != ""
	})
	if g.adminToken == "" {
		t.Fatalf("%s printed no admin token:\n%s", name, g.p.stderr.String())
	}
	return g
}

// cxBrowse plays the browser for a CLI login: the confirmation page, the
// Continue button, the dev identity provider's sign-in form for email, and
// the callback.
func cxBrowse(t *testing.T, loginURL, gatewayURL, email string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	resp, err := c.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("confirmation page: %d %s", resp.StatusCode, page)
	}
	// Continue (a same-origin POST of the same query) → the IdP's page.
	req, _ := http.NewRequest("POST", loginURL, nil)
	req.Header.Set("Origin", gatewayURL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	idpPage, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`<form method="post" action="([^"]+)">\s*<input type="hidden" name="request" value="([^"]+)">`).FindSubmatch(idpPage)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("identity provider page: %d %s", resp.StatusCode, idpPage)
	}
	action, err := resp.Request.URL.Parse(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"request": {string(m[2])}, "email": {email}}
	req, _ = http.NewRequest("POST", action.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", action.Scheme+"://"+action.Host)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	done, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(done), "Signed in as "+email) {
		t.Fatalf("after sign-in: %d %s", resp.StatusCode, done)
	}
}

// cxLogin runs `rack-gateway login URL --name NAME` as a subprocess and
// completes the browser side as email.
func cxLogin(t *testing.T, env map[string]string, g *cxGateway, name, email string) string {
	t.Helper()
	urlFile := filepath.Join(t.TempDir(), "url")
	env = cxWith(env, map[string]string{"CX_URL_FILE": urlFile})
	p := start(t, "login-"+name, env, "login", g.url, "--name", name, "--timeout", "60s")
	var loginURL string
	testutil.Poll(testutil.Patience, func() bool {
		if b, err := os.ReadFile(urlFile); err == nil && len(b) > 0 {
			loginURL = string(b)
		}
		return loginURL != ""
	})
	if loginURL == "" || !strings.HasPrefix(loginURL, g.url+"/auth/cli?") {
		t.Fatalf("the browser was not opened with a login URL (%q):\n%s", loginURL, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), loginURL) {
		t.Errorf("login did not print the URL for headless use:\n%s", p.stderr.String())
	}
	cxBrowse(t, loginURL, g.url, email)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("login did not finish:\n%s", p.stderr.String())
	}
	if p.err != nil {
		t.Fatalf("login failed: %v\n%s", p.err, p.stderr.String())
	}
	return p.stderr.String()
}

func cxWith(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestCLILoginEndToEnd: the built binary logs in to two dev gateways through
// their real OIDC flow, switches between them, runs a convox stand-in with
// the session, and sees revocation and logout take effect.
func TestCLILoginEndToEnd(t *testing.T) {
	home := t.TempDir()
	tools := t.TempDir()
	browser := filepath.Join(tools, "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\nprintf '%s' \"$1\" > \"$CX_URL_FILE\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	convox := filepath.Join(tools, "convox")
	src := filepath.Join(tools, "convox.go")
	if err := os.WriteFile(src, []byte(cxStandInConvox), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", convox, src).CombinedOutput(); err != nil {
		t.Fatalf("build the convox stand-in: %v\n%s", err, out)
	}
	env := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		"RACK_GATEWAY_BROWSER": browser, "RACK_GATEWAY_CONVOX": convox}

	// Second factors have tests of their own (cli_mfa_test.go).
	a, b := cxStartDev(t, "gateway-a", "--no-mfa"), cxStartDev(t, "gateway-b", "--no-mfa")
	if out := cxLogin(t, env, a, "a", "deployer@example.com"); !strings.Contains(out, "deployer@example.com") {
		t.Errorf("login a output:\n%s", out)
	}
	if out := cxLogin(t, env, b, "b", "viewer@example.com"); !strings.Contains(out, "viewer@example.com") {
		t.Errorf("login b output:\n%s", out)
	}

	// Credentials: 0600 file in a 0700 directory, session tokens only.
	cfgPath := filepath.Join(home, ".config", "rack-gateway", "config.json")
	fi, err := os.Stat(cfgPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(cfgPath)); di.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode %v", di.Mode().Perm())
	}
	raw, _ := os.ReadFile(cfgPath)
	var saved struct {
		Current string
		Racks   map[string]struct{ Token string }
	}
	if err := json.Unmarshal(raw, &saved); err != nil || len(saved.Racks) != 2 || saved.Current != "b" ||
		!strings.HasPrefix(saved.Racks["a"].Token, "rgws_") || !strings.HasPrefix(saved.Racks["b"].Token, "rgws_") ||
		regexp.MustCompile(`rgw_[A-Za-z0-9_-]{20}`).Match(raw) {
		t.Fatalf("saved config: %v %s", err, raw)
	}

	racks := mustCLI(t, env, "racks")
	if !regexp.MustCompile(`(?m)^\*\s+b\s`).MatchString(racks) || !strings.Contains(racks, "deployer") || !strings.Contains(racks, "viewer") {
		t.Errorf("racks:\n%s", racks)
	}
	mustCLI(t, env, "switch", "a")
	if who := mustCLI(t, env, "whoami"); !strings.Contains(who, "deployer@example.com") || !strings.Contains(who, "deployer") {
		t.Errorf("whoami on a:\n%s", who)
	}

	// convox through the gateway with the session.
	if out := mustCLI(t, env, "convox", "apps"); !strings.Contains(out, "myapp") || !strings.Contains(out, "blog") {
		t.Errorf("convox apps as deployer:\n%s", out)
	}
	if out := mustCLI(t, env, "convox", "releases", "create"); !strings.Contains(out, "OK") {
		t.Errorf("convox releases create as deployer:\n%s", out)
	}
	if _, errOut, err := cli(t, env, "convox", "apps", "create", "x"); err == nil || !strings.Contains(errOut, "permission denied") {
		t.Errorf("convox apps create as deployer: %v %s", err, errOut)
	}
	mustCLI(t, env, "switch", "b")
	if out := mustCLI(t, env, "convox", "apps"); !strings.Contains(out, "myapp") {
		t.Errorf("convox apps as viewer:\n%s", out)
	}
	if _, errOut, err := cli(t, env, "convox", "releases", "create"); err == nil || !strings.Contains(errOut, "permission denied") {
		t.Errorf("convox releases create as viewer: %v %s", err, errOut)
	}

	// An admin ends the deployer's sessions on a: the next request fails
	// with one line saying how to log in again.
	req, _ := http.NewRequest("DELETE", a.url+"/api/v1/users/deployer@example.com/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+a.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke sessions: %v %v", resp, err)
	}
	resp.Body.Close()
	_, errOut, err := cli(t, env, "whoami", "--rack", "a")
	if err == nil || !strings.Contains(errOut, "rack-gateway login") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("whoami after revocation: %v %q", err, errOut)
	}
	if _, errOut, err := cli(t, env, "convox", "--rack", "a", "apps"); err == nil {
		t.Errorf("convox after revocation succeeded: %s", errOut)
	}

	// logout b ends the server session and forgets the credentials.
	tokB := saved.Racks["b"].Token
	mustCLI(t, env, "logout", "b")
	req, _ = http.NewRequest("GET", b.url+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tokB)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("b's session after logout: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if racks := mustCLI(t, env, "racks"); strings.Contains(racks, " b ") {
		t.Errorf("b still listed after logout:\n%s", racks)
	}

	// Gateway a's audit log names the person for the login and the calls,
	// and verifies.
	tail := mustCLI(t, nil, "audit", "tail", "--data", a.data, "-n", "200")
	for _, want := range []string{"login", "deployer@example.com", "AppList", "ReleaseCreate"} {
		if !strings.Contains(tail, want) {
			t.Errorf("audit log of a lacks %q:\n%s", want, tail)
		}
	}
	if out := mustCLI(t, nil, "audit", "verify", "--data", a.data); !strings.HasPrefix(out, "OK: ") {
		t.Errorf("audit verify a: %s", out)
	}
	a.p.stop(t)
	b.p.stop(t)
}
