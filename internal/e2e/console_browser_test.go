package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/rack-gateway/rack-gateway/internal/mfa/totp"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// cbChromium is Debian's Chromium, installed by .ci/run.
const cbChromium = "/usr/bin/chromium"

// cbBrowser starts headless Chromium for the test.
func cbBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(cbChromium); err != nil {
		if os.Getenv("RGW_REQUIRE_ALL") == "1" {
			t.Fatalf("%s not installed but RGW_REQUIRE_ALL=1", cbChromium)
		}
		t.Skipf("%s not installed; skipping browser tests", cbChromium)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(cbChromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// cbPerson is a separate browser context (its own cookies), like another
// person's browser.
func cbPerson(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// A guard against a hung browser, not a timing check: a person's whole
	// flow (many page loads) on a loaded 2-core CI machine took over 60 s.
	ctx, cancel2 := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancel2)
	return ctx
}

func cbRun(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// cbLogin signs in from the gateway's sign-in page through the dev
// identity provider as email; start is the first URL to open.
func cbLogin(t *testing.T, ctx context.Context, start, email string) {
	t.Helper()
	cbRun(t, ctx, "sign in as "+email,
		chromedp.Navigate(start),
		chromedp.WaitVisible(chromedp.CSS(`a.button`)),
		chromedp.Click(chromedp.CSS(`a.button`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name="email"][value="`+email+`"]`)),
		chromedp.Click(chromedp.CSS(`button[name="email"][value="`+email+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`header.top .who`)),
	)
}

func cbText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func cbLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return s
}

func cbShot(t *testing.T, ctx context.Context) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

// cbArtifacts is where screenshots go: $RGW_ARTIFACTS_DIR, or a temporary
// directory.
func cbArtifacts(t *testing.T) string {
	t.Helper()
	art := os.Getenv("RGW_ARTIFACTS_DIR")
	if art == "" {
		art = filepath.Join(os.TempDir(), "rgw-screenshots")
	}
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	return art
}

// cbSave screenshots the page as art/name.png.
func cbSave(t *testing.T, ctx context.Context, art, name string) {
	t.Helper()
	png := cbShot(t, ctx)
	if len(png) < 1000 {
		t.Errorf("screenshot %s is %d bytes", name, len(png))
	}
	if err := os.WriteFile(filepath.Join(art, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cbEnrolTOTP enrols an authenticator app from the enrolment page a person
// lands on at their first sign-in, as they would: the secret is read off
// the page and the code computed as the app does. It returns the secret
// and the backup codes, with the browser on the page the person was
// going to. With art set, the pages on the way are saved.
func cbEnrolTOTP(t *testing.T, ctx context.Context, art string) (string, []string) {
	t.Helper()
	if loc := cbLocation(t, ctx); !strings.Contains(loc, "/account/mfa/enrol?") {
		t.Fatalf("the first sign-in is at %s, not the enrolment (is console.Options.MFA set by the gateway?)", loc)
	}
	shot := func(name string) {
		if art != "" {
			cbSave(t, ctx, art, name)
		}
	}
	shot("mfa-enrol")
	cbRun(t, ctx, "choose an authenticator app",
		chromedp.Click(chromedp.CSS(`a.button[href^="/account/mfa/enrol/totp"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#totp-secret`)), chromedp.WaitVisible(chromedp.CSS(`img.qr`)))
	testutil.Eventually(t, "the QR code to load", func() bool {
		w, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[float64](chromedp.CSS(`img.qr`), "naturalWidth"))
		return err == nil && w > 0
	})
	shot("mfa-totp-qr")
	secret := strings.TrimSpace(cbText(t, ctx, `#totp-secret`))
	code, err := totp.Code(secret, time.Now())
	if err != nil {
		t.Fatalf("the page's secret %q: %v", secret, err)
	}
	cbRun(t, ctx, "confirm the first code",
		chromedp.SetValue(chromedp.CSS(`input[name="code"]`), code), chromedp.Submit(chromedp.CSS(`input[name="code"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#backup-codes`)))
	codes := strings.Fields(cbText(t, ctx, `#backup-codes`))
	if len(codes) != 10 || !strings.Contains(cbText(t, ctx, `main`), "shown only once") {
		t.Fatalf("backup codes page: %d codes", len(codes))
	}
	shot("mfa-backup-codes")
	cbRun(t, ctx, "continue", chromedp.Click(chromedp.CSS(`main a.button`)), chromedp.WaitVisible(chromedp.CSS(`header.top nav`)))
	return secret, codes
}

// cbNextCode is the authenticator app's code for the next 30-second step,
// which the gateway accepts now (±1 step) and which is later than any
// step used so far by the enrolment: no waiting.
func cbNextCode(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.Code(secret, time.Now().Add(totp.Period*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// cbProve answers the page that asks for a second factor with a code.
func cbProve(t *testing.T, ctx context.Context, code string, trust bool) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(`input[name="rgw_mfa_code"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="rgw_mfa_code"]`), code)}
	if trust {
		cbRun(t, ctx, "the challenge page", steps[0])
		cbMustHave(t, ctx, `form.stack:not(.passkey) input[name="trust"]`, "\"trust this browser\" checkbox (is console.Options.TrustDays set by the gateway?)")
		steps = append(steps, chromedp.Click(chromedp.CSS(`form.stack:not(.passkey) input[name="trust"]`)))
	}
	steps = append(steps, chromedp.Submit(chromedp.CSS(`input[name="rgw_mfa_code"]`)))
	cbRun(t, ctx, "prove a second factor", steps...)
	testutil.Eventually(t, "the second factor's page to be left", func() bool {
		return !strings.Contains(cbLocation(t, ctx), "/mfa/") && !cbHas(t, ctx, `input[name="rgw_mfa_code"]`)
	})
}

// cbNow is the text of the first element matching sel now, "" if there
// is none (or the page is being replaced); it never waits.
func cbNow(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+strconvQuote(sel)+`) || {}).textContent || ""`))
	if err != nil {
		return ""
	}
	return s
}

// cbHas reports whether the page has an element matching sel now.
func cbHas(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(`+strconvQuote(sel)+`) !== null`))
	return err == nil && n
}

// cbMustHave fails the test at once if the page has no element matching
// sel (instead of waiting for one until the context's deadline).
func cbMustHave(t *testing.T, ctx context.Context, sel, what string) {
	t.Helper()
	if !cbHas(t, ctx, sel) {
		t.Fatalf("the page at %s has no %s", cbLocation(t, ctx), what)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// cbSignOut presses the top bar's Sign out and waits for the sign-in page.
func cbSignOut(t *testing.T, ctx context.Context) {
	t.Helper()
	cbRun(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form[action="/auth/logout"] button`)))
	testutil.Eventually(t, "the sign-out to land on the sign-in page", func() bool {
		return strings.Contains(cbLocation(t, ctx), "/auth/signin?error=logged_out")
	})
}

// TestBrowserConsole drives Debian's Chromium through the real dev gateway:
// OIDC login as each demo user with the enrolment of an authenticator app
// (second factors are required), role-appropriate pages, a role change
// that ends the old session, a refused cross-site POST, a refused open
// redirect, the sign-in challenge with "trust this browser", a step-up
// that carries out the form it interrupted, and logout; screenshots of
// the main pages and the second-factor pages are kept as artifacts.
func TestBrowserConsole(t *testing.T) {
	browser := cbBrowser(t)
	g := cxStartDev(t, "gateway")
	gw := g.url
	art := cbArtifacts(t)
	var adminSecret string
	var adminCodes []string

	// 1. Each demo user sees their identity and only their pages.
	people := map[string]context.Context{}
	for _, u := range []struct {
		email, role string
		admin       bool
	}{
		{"viewer@example.com", "viewer", false}, {"ops@example.com", "ops", false},
		{"deployer@example.com", "deployer", false}, {"admin@example.com", "admin", true},
	} {
		ctx := cbPerson(t, browser)
		people[u.role] = ctx
		cbLogin(t, ctx, gw+"/", u.email)
		shots := ""
		if u.admin {
			shots = art
		}
		secret, codes := cbEnrolTOTP(t, ctx, shots)
		if u.admin {
			adminSecret, adminCodes = secret, codes
		}
		// "/" asked for: the one rack's page.
		if loc := cbLocation(t, ctx); loc != gw+"/racks/dev" {
			t.Errorf("%s: after the enrolment at %s, not the page asked for", u.email, loc)
		}
		who := cbText(t, ctx, `header.top .who`)
		nav := cbText(t, ctx, `header.top nav`)
		if !strings.Contains(who, u.email) || !strings.Contains(who, u.role) {
			t.Errorf("%s: top bar says %q", u.email, who)
		}
		if got := strings.Contains(nav, "Users") && strings.Contains(nav, "Audit"); got != u.admin {
			t.Errorf("%s: nav %q (admin pages shown: %v, want %v)", u.email, nav, got, u.admin)
		}
		if main := cbText(t, ctx, `main`); !strings.Contains(main, "myapp") || !strings.Contains(main, "blog") {
			t.Errorf("%s: the rack page lacks the apps: %.300q", u.email, main)
		}
		if !u.admin {
			for _, page := range []string{"/users", "/audit"} {
				cbRun(t, ctx, "open "+page, chromedp.Navigate(gw+page), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
				if h := cbText(t, ctx, `main`); !strings.Contains(h, "403") {
					t.Errorf("%s: %s is not refused: %.200q", u.email, page, h)
				}
			}
		}
	}

	// 6. Screenshots of the main pages (admin), kept as artifacts: in the
	// step-up window that the enrolment opened.
	admin := people["admin"]
	for _, p := range []struct{ path, name, want string }{
		{"/racks/dev", "console-rack", "myapp"}, {"/users", "console-users", "Second factor"}, {"/tokens", "console-tokens", "Create a token"},
		{"/account", "console-account", "Second factors"}, {"/audit", "console-audit", "mfa.enrol"},
		{"/policy", "console-policy", "within the step-up window"},
	} {
		cbRun(t, admin, "open "+p.path, chromedp.Navigate(gw+p.path), chromedp.WaitVisible(chromedp.CSS(`main`)))
		if loc, main := cbLocation(t, admin), cbText(t, admin, `main`); loc != gw+p.path || !strings.Contains(main, p.want) {
			t.Errorf("%s: at %s, page %.300q", p.path, loc, main)
		}
		cbSave(t, admin, art, p.name)
	}
	cbRun(t, admin, "account: second factors", chromedp.Navigate(gw+"/account#mfa"), chromedp.WaitVisible(chromedp.CSS(`#mfa`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#mfa`)))
	if main := cbText(t, admin, `main`); !strings.Contains(main, "authenticator app") || !strings.Contains(main, "10 unused backup code") ||
		!strings.Contains(main, "left of 10 minutes") {
		t.Errorf("account's second factors: %.600q", main)
	}
	cbSave(t, admin, art, "mfa-account")
	cbSmallThings(t, browser, admin, people["ops"], gw, art)
	{
		ctx := cbPerson(t, browser)
		cbRun(t, ctx, "sign-in page", chromedp.Navigate(gw+"/auth/signin"), chromedp.WaitVisible(chromedp.CSS(`a.button`)))
		signin := cbShot(t, ctx)
		cbRun(t, ctx, "dev IdP page", chromedp.Click(chromedp.CSS(`a.button`)), chromedp.WaitVisible(chromedp.CSS(`button[name="email"]`)))
		idp := cbShot(t, ctx)
		_ = os.WriteFile(filepath.Join(art, "signin.png"), signin, 0o644)
		_ = os.WriteFile(filepath.Join(art, "dev-idp.png"), idp, 0o644)
	}
	t.Logf("screenshots in %s", art)

	// 3. A cross-site POST (an attacker's page auto-submitting a form to
	// the console while the admin is signed in) is refused and changes
	// nothing.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/users/role">
<input name="email" value="viewer@example.com"><input name="role" value="admin"></form>
<script>document.getElementById("f").submit()</script>`, gw)
	}))
	defer evil.Close()
	cbRun(t, admin, "cross-site POST", chromedp.Navigate(evil.URL))
	testutil.Eventually(t, "the attacker's form to post to the console", func() bool {
		return strings.HasPrefix(cbLocation(t, admin), gw+"/users/role")
	})
	cbRun(t, admin, "the refusal page", chromedp.WaitVisible(chromedp.CSS(`body`)))
	body := cbText(t, admin, `body`)
	if loc := cbLocation(t, admin); !strings.HasPrefix(loc, gw+"/users/role") || !strings.Contains(body, "403") {
		t.Errorf("cross-site POST: at %s, page %.200q", loc, body)
	}
	if role := cbRole(t, gw, g.adminToken, "viewer@example.com"); role != "viewer" {
		t.Fatalf("the cross-site POST changed the viewer's role to %q", role)
	}

	// 2. The admin changes the viewer's role with the real form; the
	// viewer's open session ends on the next request.
	cbRun(t, admin, "change the viewer's role", chromedp.Navigate(gw+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`select[aria-label="role for viewer@example.com"]`)),
		chromedp.SetValue(chromedp.CSS(`select[aria-label="role for viewer@example.com"]`), "ops"),
		chromedp.Submit(chromedp.CSS(`select[aria-label="role for viewer@example.com"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if role := cbRole(t, gw, g.adminToken, "viewer@example.com"); role != "ops" {
		t.Fatalf("role after the form: %q", role)
	}
	viewer := people["viewer"]
	cbRun(t, viewer, "viewer's next request", chromedp.Navigate(gw+"/"), chromedp.WaitVisible(chromedp.CSS(`body`)))
	if loc := cbLocation(t, viewer); !strings.HasPrefix(loc, gw+"/auth/signin") {
		t.Errorf("viewer's old session still works after the role change: at %s", loc)
	}

	// 4. An open redirect through return_to is refused.
	for _, rt := range []string{"//evil.example.com/x", "https://evil.example.com/", "/\\evil.example.com"} {
		ctx := cbPerson(t, browser)
		cbLogin(t, ctx, gw+"/auth/signin?return_to="+rt, "deployer@example.com")
		if loc := cbLocation(t, ctx); !strings.HasPrefix(loc, gw+"/") {
			t.Errorf("return_to %q led to %s", rt, loc)
		}
	}

	// 7. Second factors at a later sign-in: the challenge (trusting this
	// browser), then, signed in again by the trusted browser alone, a
	// form that needs a recent factor: the step-up page keeps what was
	// entered and carries the action out after the code.
	{
		ctx := cbPerson(t, browser)
		cbLogin(t, ctx, gw+"/users", "admin@example.com")
		if loc := cbLocation(t, ctx); !strings.HasPrefix(loc, gw+"/mfa/challenge?") {
			t.Fatalf("a later sign-in is at %s, not the challenge", loc)
		}
		cbSave(t, ctx, art, "mfa-challenge")
		cbRun(t, ctx, "a wrong code", chromedp.SetValue(chromedp.CSS(`input[name="rgw_mfa_code"]`), "000000"),
			chromedp.Submit(chromedp.CSS(`input[name="rgw_mfa_code"]`)), chromedp.WaitVisible(chromedp.CSS(`p.flash.error[role="alert"]`)))
		if body := cbText(t, ctx, `main`); !strings.Contains(body, "not valid") {
			t.Errorf("wrong code: %.300q", body)
		}
		cbProve(t, ctx, cbNextCode(t, adminSecret), true)
		if loc := cbLocation(t, ctx); loc != gw+"/users" {
			t.Fatalf("after the challenge at %s", loc)
		}
		// The users page, with a change typed in but not sent yet.
		sel := `select[aria-label="role for ops@example.com"]`
		cbRun(t, ctx, "choose a role", chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SetValue(chromedp.CSS(sel), "viewer"))
		// Meanwhile, in another tab: sign out and in again. The trusted
		// browser skips the challenge, but its session has no recent factor.
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		cbRun(t, tab, "second tab", chromedp.Navigate(gw+"/account"), chromedp.WaitVisible(chromedp.CSS(`main`)))
		cbSignOut(t, tab)
		cbLogin(t, tab, gw+"/account", "admin@example.com")
		if loc := cbLocation(t, tab); loc != gw+"/account" {
			t.Fatalf("the trusted browser's sign-in is at %s", loc)
		}
		// Sent now: the step-up page, in place of the answer, with the form.
		cbRun(t, ctx, "send the role change", chromedp.Submit(chromedp.CSS(sel)),
			chromedp.WaitVisible(chromedp.CSS(`input[name="rgw_mfa_code"]`)))
		page, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(`main`)))
		if err != nil || !strings.Contains(page, `value="ops@example.com"`) || !strings.Contains(page, `name="role" value="viewer"`) ||
			cbRole(t, gw, g.adminToken, "ops@example.com") != "ops" {
			t.Fatalf("step-up page: %v\n%s", err, page)
		}
		cbSave(t, ctx, art, "mfa-step-up")
		cbProve(t, ctx, adminCodes[0], false) // a backup code serves too
		// The answer is a redirect to the users page: read its flash once
		// that page has loaded (a read while the step-up page is being
		// replaced finds a detached node).
		var flash string
		testutil.Eventually(t, "the users page's flash after the step-up", func() bool {
			flash = cbNow(t, ctx, `p.flash`)
			return flash != ""
		})
		if !strings.Contains(flash, "ops@example.com is now viewer") {
			t.Errorf("after the step-up: %q at %s", flash, cbLocation(t, ctx))
		}
		if role := cbRole(t, gw, g.adminToken, "ops@example.com"); role != "viewer" {
			t.Fatalf("the role change after the step-up: %q", role)
		}
		// A page that needs a recent factor, in a session without one: to
		// /mfa/verify and back.
		cbSignOut(t, tab)
		cbLogin(t, tab, gw+"/users", "admin@example.com")
		if loc := cbLocation(t, tab); !strings.HasPrefix(loc, gw+"/mfa/verify?") {
			t.Fatalf("users page without a recent factor: at %s", loc)
		}
		cbSave(t, tab, art, "mfa-verify")
		cbProve(t, tab, adminCodes[1], false)
		if loc := cbLocation(t, tab); loc != gw+"/users" {
			t.Errorf("after verifying: at %s", loc)
		}
	}

	// 5. Logout ends the session, also for a copy of the cookie.
	cbRun(t, admin, "account", chromedp.Navigate(gw+"/account"), chromedp.WaitVisible(chromedp.CSS(`main`)))
	res, err := chromedp.Call(admin, network.GetCookies, network.GetCookiesParams{URLs: []string{gw + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	session := ""
	for _, c := range res.Cookies {
		if c.Name == "rgw_session" {
			session = c.Value
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
				t.Errorf("session cookie flags: httpOnly %v sameSite %v", c.HTTPOnly, c.SameSite)
			}
		}
	}
	if session == "" {
		t.Fatal("no rgw_session cookie")
	}
	// The form's navigation must land before the next one starts, or it
	// would abort it.
	cbSignOut(t, admin)
	cbRun(t, admin, "after sign out", chromedp.Navigate(gw+"/"), chromedp.WaitVisible(chromedp.CSS(`body`)))
	if loc := cbLocation(t, admin); !strings.HasPrefix(loc, gw+"/auth/signin") {
		t.Errorf("after sign out / is at %s", loc)
	}
	req, _ := http.NewRequest("GET", gw+"/", nil)
	req.AddCookie(&http.Cookie{Name: "rgw_session", Value: session})
	var resp *http.Response
	resp, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/signin") {
		t.Errorf("the old session cookie after logout: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	g.p.stop(t)
}

// cbRole reads a user's role through the admin API.
func cbRole(t *testing.T, gw, token, email string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", gw+"/api/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var users []struct{ Email, Role string }
	if err := json.NewDecoder(resp.Body).Decode(&users); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Email == email {
			return u.Role
		}
	}
	return ""
}
