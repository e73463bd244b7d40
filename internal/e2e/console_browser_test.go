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
	ctx, cancel2 := context.WithTimeout(ctx, 60*time.Second)
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

// TestBrowserConsole drives Debian's Chromium through the real dev gateway:
// OIDC login as each demo user, role-appropriate pages, a role change that
// ends the old session, a refused cross-site POST, a refused open redirect,
// and logout; screenshots of the main pages are kept as artifacts.
func TestBrowserConsole(t *testing.T) {
	browser := cbBrowser(t)
	g := cxStartDev(t, "gateway")
	gw := g.url

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
		who := cbText(t, ctx, `header.top .who`)
		nav := cbText(t, ctx, `header.top nav`)
		if !strings.Contains(who, u.email) || !strings.Contains(who, u.role) {
			t.Errorf("%s: top bar says %q", u.email, who)
		}
		if got := strings.Contains(nav, "Users") && strings.Contains(nav, "Audit"); got != u.admin {
			t.Errorf("%s: nav %q (admin pages shown: %v, want %v)", u.email, nav, got, u.admin)
		}
		if main := cbText(t, ctx, `main`); !strings.Contains(main, "myapp") || !strings.Contains(main, "blog") {
			t.Errorf("%s: overview lacks the apps: %.300q", u.email, main)
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

	// 6. Screenshots of the main pages (admin), kept as artifacts.
	art := os.Getenv("RGW_ARTIFACTS_DIR")
	if art == "" {
		art = filepath.Join(os.TempDir(), "rgw-screenshots")
	}
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	admin := people["admin"]
	for _, p := range []struct{ path, name string }{
		{"/", "console-overview"}, {"/users", "console-users"}, {"/tokens", "console-tokens"},
		{"/account", "console-account"}, {"/audit", "console-audit"},
	} {
		cbRun(t, admin, "open "+p.path, chromedp.Navigate(gw+p.path), chromedp.WaitVisible(chromedp.CSS(`main`)))
		png := cbShot(t, admin)
		if len(png) < 1000 {
			t.Errorf("screenshot of %s is %d bytes", p.path, len(png))
		}
		if err := os.WriteFile(filepath.Join(art, p.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
	cbRun(t, admin, "sign out", chromedp.Click(chromedp.CSS(`form[action="/auth/logout"] button`)))
	// The form's navigation must land before the next one starts, or it
	// would abort it.
	testutil.Eventually(t, "the sign-out to land on the sign-in page", func() bool {
		return strings.Contains(cbLocation(t, admin), "/auth/signin?error=logged_out")
	})
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
