package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// cbFollow clicks the link sel and waits until the page at want has
// loaded (not the page the link was on).
func cbFollow(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	cbMustHave(t, ctx, sel, "link "+sel)
	cbRun(t, ctx, "follow "+sel, chromedp.Click(chromedp.CSS(sel)))
	testutil.Eventually(t, "the page at "+want, func() bool { return cbLocation(t, ctx) == want })
	cbRun(t, ctx, "load "+want, chromedp.WaitVisible(chromedp.CSS(`footer`)))
}

// TestBrowserRackAndAppPages drives Chromium through the real dev gateway
// as each demo role: the rack page, the app page (with the action links
// that role's policy allows, and Logs for all), a build with its logs, a
// release, and the env page (masked; revealed as the proxy filters it).
// Screenshots of each page are kept as artifacts (per role for the app
// and env pages, whose content differs by role).
func TestBrowserRackAndAppPages(t *testing.T) {
	browser := cbBrowser(t)
	g := cxStartDev(t, "gateway")
	gw := g.url
	art := cbArtifacts(t)
	app := "/racks/dev/apps/myapp"

	for _, u := range []struct {
		role            string
		ops, deploy     bool // restart/scale/stop; promote
		envValues       bool // env:read
		secrets         bool // secret:read
		screenshotsEach bool // the pages that are the same for every role
	}{
		{role: "viewer"}, {role: "ops", ops: true},
		{role: "deployer", ops: true, deploy: true, envValues: true},
		{role: "admin", ops: true, deploy: true, envValues: true, secrets: true, screenshotsEach: true},
	} {
		t.Run(u.role, func(t *testing.T) {
			ctx := cbPerson(t, browser)
			cbLogin(t, ctx, gw+"/", u.role+"@example.com")
			cbEnrolTOTP(t, ctx, "")
			if loc := cbLocation(t, ctx); loc != gw+"/racks/dev" {
				t.Fatalf("after sign-in at %s, not the rack page", loc)
			}
			main := cbText(t, ctx, `main`)
			if !strings.Contains(main, "myapp") || !strings.Contains(main, "blog") || !strings.Contains(main, "RMYAPPSECND") {
				t.Errorf("rack page: %.400q", main)
			}
			cbMustHave(t, ctx, `nav a.active[href="/racks/dev"]`, "Apps link in the navigation")
			if u.screenshotsEach {
				cbSave(t, ctx, art, "console-rack-apps")
			}

			// The app page, reached by its link.
			cbFollow(t, ctx, `main a[href="`+app+`"]`, gw+app)
			main = cbText(t, ctx, `main`)
			for _, s := range []string{"web-5d8f9c7b6b-x2x7k", "worker", "BMYAPPSECND", "RMYAPPFIRST", "current"} {
				if !strings.Contains(main, s) {
					t.Errorf("app page lacks %q", s)
				}
			}
			offered := map[string]bool{
				"logs":    cbHas(t, ctx, `main a[href="`+app+`/logs"]`),
				"restart": cbHas(t, ctx, `main a[href="`+app+`/actions/restart"]`),
				"scale":   cbHas(t, ctx, `main a[href^="`+app+`/actions/scale?service="]`),
				"stop":    cbHas(t, ctx, `main a[href^="`+app+`/actions/stop?process="]`),
				"promote": cbHas(t, ctx, `main a[href="`+app+`/actions/promote?release=RMYAPPFIRST"]`),
			}
			want := map[string]bool{"logs": true, "restart": u.ops, "scale": u.ops, "stop": u.ops, "promote": u.deploy}
			for k, w := range want {
				if offered[k] != w {
					t.Errorf("%s offered: %v, want %v", k, offered[k], w)
				}
			}
			cbSave(t, ctx, art, "console-app-"+u.role)

			// A build and its logs.
			cbFollow(t, ctx, `main a[href="`+app+`/builds/BMYAPPSECND"]`, gw+app+"/builds/BMYAPPSECND")
			if logs := cbNow(t, ctx, `pre.logs`); !strings.Contains(logs, "Step 1/") {
				t.Errorf("build logs: %.300q (page %.300q)", logs, cbText(t, ctx, `main`))
			}
			if u.screenshotsEach {
				cbSave(t, ctx, art, "console-build")
			}

			// A release, from the build's link.
			cbFollow(t, ctx, `main a[href="`+app+`/releases/RMYAPPSECND"]`, gw+app+"/releases/RMYAPPSECND")
			if main := cbText(t, ctx, `main`); !strings.Contains(main, "Release") || !strings.Contains(main, "BMYAPPSECND") {
				t.Errorf("release page: %.300q", main)
			}
			if u.screenshotsEach {
				cbSave(t, ctx, art, "console-release")
			}

			// The env page: keys, values masked; reveal as allowed.
			cbRun(t, ctx, "open the env", chromedp.Navigate(gw+app+"/env"), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
			main = cbText(t, ctx, `main`)
			if strings.Contains(main, "secretpw") || strings.Contains(main, "3000") {
				t.Errorf("env page shows a value: %.400q", main)
			}
			if !u.envValues {
				if !strings.Contains(main, "Permission denied") || cbHas(t, ctx, `form[action$="/env/reveal"]`) {
					t.Errorf("env page of a role without env:read: %.300q", main)
				}
				cbSave(t, ctx, art, "console-env-"+u.role)
				return
			}
			if !strings.Contains(main, "SECRET_KEY_BASE") {
				t.Errorf("env page lacks the keys: %.300q", main)
			}
			cbSave(t, ctx, art, "console-env-"+u.role)
			cbRun(t, ctx, "reveal", chromedp.Click(chromedp.CSS(`form[action$="/env/reveal"] button`)),
				chromedp.WaitVisible(chromedp.CSS(`#env-revealed`))) // only on the answer to the post
			main = cbText(t, ctx, `main`)
			if !strings.Contains(main, "3000") || strings.Contains(main, "secretpw") != u.secrets {
				t.Errorf("revealed env (secret:read %v): %.400q", u.secrets, main)
			}
			cbSave(t, ctx, art, "console-env-revealed-"+u.role)
		})
	}
}
