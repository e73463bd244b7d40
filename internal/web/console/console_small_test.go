package console_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/web/console"
)

// topBar reports whether a page has the signed-in top bar of email: who
// is signed in, and a Sign out button.
func topBar(body, email string) bool {
	return strings.Contains(body, `<span class="who">`+email+" ") && strings.Contains(body, `action="/auth/logout"`)
}

// TestNotFoundKeepsTopBar: a console address with no page is a 404 with
// the navigation and the person for someone signed in, and a plain page
// with a sign-in link for anyone else; the page neither consumes a
// one-time message meant for another page nor ends a session.
func TestNotFoundKeepsTopBar(t *testing.T) {
	e := newEnvRacks(t, "dev", "staging")
	for _, c := range []struct {
		role string
		nav  map[string]bool
	}{
		{"viewer", map[string]bool{`href="/tokens?rack=staging"`: true, `href="/account?rack=staging"`: true, `href="/users?rack=staging"`: false}},
		{"admin", map[string]bool{`href="/tokens?rack=staging"`: true, `href="/users?rack=staging"`: true, `href="/audit?rack=staging"`: true}},
	} {
		r := e.get("/no/such/page?rack=staging", e.sessions[c.role])
		if r.status != http.StatusNotFound || !strings.Contains(r.body, "There is no console page at this address.") {
			t.Fatalf("%s: %d\n%s", c.role, r.status, r.body)
		}
		if !topBar(r.body, c.role+"@example.com") || !strings.Contains(r.body, `<option value="staging" selected>`) ||
			!strings.Contains(r.body, `<a href="/">Back to the racks</a>`) || strings.Contains(r.body, `href="/auth/signin"`) {
			t.Errorf("%s: the 404 page lacks the top bar:\n%s", c.role, r.body)
		}
		for link, want := range c.nav {
			if strings.Contains(r.body, link) != want {
				t.Errorf("%s: navigation link %s shown: %v, want %v", c.role, link, !want, want)
			}
		}
		if r.header.Get("Content-Security-Policy") != wantCSP || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", c.role, r.header)
		}
	}

	// Anyone else: a plain page with a sign-in link, and a session cookie
	// that does not work is left alone (the 404 is no sign-in check).
	expiredTok, hash := authn.NewSessionToken()
	if err := e.st.CreateSession(context.Background(), &store.Session{Hash: hash, UserID: e.userIDs["admin"], Kind: authn.KindWeb,
		ExpiresAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	for name, session := range map[string]string{"no cookie": "", "garbage": "rgws_garbage", "expired": expiredTok,
		"cli session": e.startSession("admin@example.com", authn.KindCLI)} {
		r := e.get("/favicon.ico", session)
		if r.status != http.StatusNotFound || strings.Contains(r.body, `class="who"`) || strings.Contains(r.body, "<nav>") ||
			strings.Contains(r.body, "@example.com") || !strings.Contains(r.body, `<a href="/auth/signin">Sign in</a>`) {
			t.Errorf("%s: %d\n%s", name, r.status, r.body)
		}
		if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("%s: the 404 sets cookies %q", name, sc)
		}
	}

	// A one-time message is left for the page it is meant for: a
	// browser's /favicon.ico, fetched while that page loads, is a 404.
	act := e.post("/tokens/99999999/revoke", e.sessions["viewer"], url.Values{})
	msg := flashCookie(act.header)
	if msg == nil {
		t.Fatal("no flash message from the revoke")
	}
	if r := e.do("GET", "/favicon.ico", e.sessions["viewer"], nil, nil, msg); r.status != 404 || len(r.header.Values("Set-Cookie")) != 0 ||
		strings.Contains(r.body, `class="flash"`) {
		t.Errorf("the 404 took the flash message: %v\n%s", r.header.Values("Set-Cookie"), r.body)
	}
	if r := e.do("GET", "/tokens", e.sessions["viewer"], nil, nil, msg); !strings.Contains(r.body, `<p class="flash error" role="status">`) {
		t.Errorf("the tokens page lost its message:\n%s", r.body)
	}

	// A refused cross-site post keeps the top bar too.
	r := e.do("POST", "/users/role", e.sessions["admin"], url.Values{"email": {"viewer@example.com"}, "role": {"admin"}},
		map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if r.status != http.StatusForbidden || !topBar(r.body, "admin@example.com") || !strings.Contains(r.body, `href="/users"`) {
		t.Errorf("cross-site refusal: %d\n%s", r.status, r.body)
	}
}

// TestNotFoundBeforeSecondFactor: a person who still owes their second
// factor sees who they are on a 404, but no navigation.
func TestNotFoundBeforeSecondFactor(t *testing.T) {
	e := newMFAEnv(t)
	r := e.get("/nope", e.sessions["deployer"])
	if r.status != http.StatusNotFound || !topBar(r.body, "deployer@example.com") || strings.Contains(r.body, `href="/tokens"`) {
		t.Errorf("404 before the second factor: %d\n%s", r.status, r.body)
	}
}

// TestTokenScopeRefusedOnTheForm: a token wider than its creator's rights
// is refused on the tokens page, with what was typed kept and nothing
// created; a refusal by the policy is still a page of its own, and a
// step-up still comes first.
func TestTokenScopeRefusedOnTheForm(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dep := e.sessions["deployer"]
	name := `wide "<b>"`
	r := e.post("/tokens", dep, url.Values{"name": {name}, "permissions": {"app:read, secret:read"}, "expires_in": {"48h"}})
	if r.status != http.StatusForbidden || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("wide token: %d\n%s", r.status, r.body)
	}
	for _, want := range []string{
		"<h1>My API tokens</h1>",
		`<p class="flash error" role="alert" id="token-error">a token cannot exceed its creator&#39;s or owner&#39;s permissions: secret:read</p>`,
		`name="name" required maxlength="100" autocomplete="off" value="wide &#34;&lt;b&gt;&#34;"`,
		`value="app:read, secret:read" aria-invalid="true" aria-describedby="token-error"`,
		`value="48h"`,
		"<details open>",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the tokens page lacks %s", want)
		}
	}
	if tokenRE.MatchString(r.body) || strings.Contains(r.body, "<b>") {
		t.Errorf("token or unescaped input on the refusal:\n%s", r.body)
	}
	if toks, err := e.st.ListTokens(ctx, e.userIDs["deployer"]); err != nil || len(toks) != 0 {
		t.Errorf("tokens after the refusal: %d %v", len(toks), err)
	}

	// An admin on everyone's tokens, for a user with fewer rights: the
	// owner is kept, and the page stays on everyone's tokens.
	adm := e.sessions["admin"]
	if page := e.get("/tokens?all=1", adm); !strings.Contains(page.body, `<input type="hidden" name="all" value="1">`) {
		t.Error("the all-tokens form does not say so")
	}
	r = e.post("/tokens", adm, url.Values{"all": {"1"}, "name": {"for-viewer"}, "owner": {"viewer@example.com"}, "permissions": {"gateway:users"}})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "<h1>All API tokens</h1>") ||
		!strings.Contains(r.body, `value="viewer@example.com"`) || !strings.Contains(r.body, `id="token-error"`) {
		t.Errorf("admin's token for the viewer: %d\n%s", r.status, r.body)
	}

	// The policy's refusal (minting for another person without
	// gateway:tokens) is a page of its own, without the form.
	r = e.post("/tokens", dep, url.Values{"name": {"theirs"}, "owner": {"viewer@example.com"}})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "<h1>Permission denied</h1>") ||
		strings.Contains(r.body, `id="token-error"`) || strings.Contains(r.body, "Create a token") {
		t.Errorf("policy refusal: %d\n%s", r.status, r.body)
	}

	// Bad input is shown on the form the same way.
	r = e.post("/tokens", dep, url.Values{"name": {"ci"}, "permissions": {"app:read"}, "expires_in": {"forever"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "expires_in must be") || !strings.Contains(r.body, `value="forever"`) ||
		strings.Contains(r.body, `aria-invalid`) {
		t.Errorf("bad expiry: %d\n%s", r.status, r.body)
	}
}

// TestTokenScopeRefusalAfterStepUp: with second factors, the step-up
// comes first and keeps the input; the refusal after it is on the form.
func TestTokenScopeRefusalAfterStepUp(t *testing.T) {
	e := newMFAEnv(t)
	dep := e.sessions["deployer"]
	secret, _ := e.enrolTOTP(dep)
	e.age(dep)
	r := e.post("/tokens", dep, url.Values{"name": {"wide"}, "permissions": {"app:read, secret:read"}, "expires_in": {"48h"}})
	if f := hiddenFields(r.body); r.status != http.StatusForbidden || !strings.Contains(r.body, `name="rgw_mfa_code"`) ||
		strings.Contains(r.body, `id="token-error"`) || f.Get("permissions") != "app:read, secret:read" {
		t.Fatalf("without a recent factor: %d\n%s", r.status, r.body)
	}
	r = e.prove(r, dep, e.code(secret))
	if r.status != http.StatusForbidden || !strings.Contains(r.body, `id="token-error"`) || !strings.Contains(r.body, `value="wide"`) ||
		!strings.Contains(r.body, `value="app:read, secret:read"`) || !strings.Contains(r.body, `value="48h"`) {
		t.Fatalf("after the step-up: %d\n%s", r.status, r.body)
	}
	if toks, err := e.st.ListTokens(context.Background(), e.userIDs["deployer"]); err != nil || len(toks) != 0 {
		t.Errorf("tokens after the refusal: %d %v", len(toks), err)
	}
}

var (
	rackURLRE = regexp.MustCompile(`<pre class="copy" id="rack-url">RACK_URL=([^<]+)</pre>`)
	ciEnvRE   = regexp.MustCompile(`<pre class="copy" id="ci-env">RACK_GATEWAY_URL=([^\n<]+)\nRACK_GATEWAY_TOKEN=([^<]+)</pre>`)
)

// TestTokenCreatedShowsRackURL: the token-created page prints RACK_URL
// and the CI pair with the gateway's public URL (its scheme and host),
// or, without one configured, with the URL the console was reached at;
// the printed RACK_URL works.
func TestTokenCreatedShowsRackURL(t *testing.T) {
	for _, c := range []struct{ public, base string }{
		{"https://gateway.example.com", "https://gateway.example.com"},
		{"https://gateway.example.com/", "https://gateway.example.com"},
		{"https://gw.example.com:8443", "https://gw.example.com:8443"},
		{"http://localhost:8447", "http://localhost:8447"},
	} {
		e := newEnvOpts(t, mfaOff, func(o *console.Options) { o.PublicURL = c.public }, "dev", "staging")
		r := e.post("/tokens", e.sessions["deployer"], url.Values{"name": {"ci"}})
		tok := tokenRE.FindString(r.body)
		m, ci := rackURLRE.FindStringSubmatch(r.body), ciEnvRE.FindStringSubmatch(r.body)
		if r.status != 200 || tok == "" || m == nil || ci == nil {
			t.Fatalf("%s: %d\n%s", c.public, r.status, r.body)
		}
		scheme, host, _ := strings.Cut(c.base, "://")
		if want := scheme + "://convox:" + tok + "@" + host + "/rack"; m[1] != want {
			t.Errorf("%s: RACK_URL=%s, want %s", c.public, m[1], want)
		}
		if want := "RACK_URL=" + scheme + "://convox:" + tok + "@" + host + "/racks/staging"; !strings.Contains(r.body, want) {
			t.Errorf("%s: no %s", c.public, want)
		}
		if ci[1] != c.base || ci[2] != tok {
			t.Errorf("%s: RACK_GATEWAY_URL=%s RACK_GATEWAY_TOKEN=%s", c.public, ci[1], ci[2])
		}
		if strings.Contains(r.body, strings.TrimPrefix(e.srv.URL, "http://")) {
			t.Errorf("%s: the page names the address the test reached it at", c.public)
		}
	}

	// No public URL configured: the address the console was reached at;
	// the printed RACK_URL is the rack's.
	e := newEnv(t)
	r := e.post("/tokens", e.sessions["deployer"], url.Values{"name": {"ci"}})
	m := rackURLRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no RACK_URL:\n%s", r.body)
	}
	u, err := url.Parse(m[1])
	if err != nil || u.Scheme+"://"+u.Host != e.srv.URL || u.Path != "/rack" || u.User.Username() != "convox" {
		t.Fatalf("RACK_URL=%s (%v), served at %s", m[1], err, e.srv.URL)
	}
	pass, _ := u.User.Password()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("convox:"+pass))
	if res := e.do("GET", u.Path+"/apps", "", nil, map[string]string{"Authorization": basic}); res.status != 200 || !strings.Contains(res.body, "myapp") {
		t.Errorf("the printed RACK_URL against /apps: %d %s", res.status, res.body)
	}
	if strings.Contains(r.body, "the others:") || strings.Contains(r.body, "data-rack=") {
		t.Error("one rack, but other racks are listed")
	}
}

// TestSessionsShowClient: the account page names each session's browser
// and system, with the raw User-Agent in a title, everything escaped.
func TestSessionsShowClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	uas := []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"rack-gateway-cli/1.2.0 (linux/amd64)",
		`"><script>alert(1)</script>`,
		"",
	}
	for _, ua := range uas {
		if _, err := e.authn.StartSession(ctx, &store.Session{UserID: e.userIDs["viewer"], Kind: authn.KindCLI, UserAgent: ua}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.get("/account", e.sessions["viewer"])
	for _, want := range []string{
		`<td class="client" title="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36">Chrome 131 on macOS</td>`,
		`<td class="client" title="rack-gateway-cli/1.2.0 (linux/amd64)">rack-gateway CLI 1.2 on linux/amd64</td>`,
		`<td class="client" title="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"><span class="muted">unknown</span></td>`,
		`<td class="client" title=""><span class="muted">unknown</span></td>`,
		`<td class="client" title="test-browser">test-browser</td>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the account page lacks %s", want)
		}
	}
	if strings.Contains(r.body, "<script>") {
		t.Error("a User-Agent is not escaped")
	}
}
