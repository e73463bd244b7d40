package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// cbSmallThings checks, in a browser, the console's small things (issue
// 15, item 6) with people signed in by TestBrowserConsole (within the
// step-up window their enrolment opened), and screenshots them: the 404
// page keeps the navigation and the person (and is plain, with a sign-in
// link, for a visitor); a token wider than its creator's rights is
// refused on the form, keeping the input; the token-created page prints
// RACK_URL and the CI pair with the gateway's public URL; the account
// page names the browser of each session.
func cbSmallThings(t *testing.T, browser, admin, ops context.Context, gw, art string) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("the small things took %v", time.Since(start).Round(time.Millisecond)) }()
	// These steps have their own time budget, in the same tabs, whatever
	// the steps before them took of the people's.
	own := func(ctx context.Context) context.Context {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	admin, ops = own(admin), own(ops)
	// 404, signed in and not.
	cbRun(t, admin, "a page that does not exist", chromedp.Navigate(gw+"/no/such/page"), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	if nav, who, main := cbText(t, admin, `header.top nav`), cbText(t, admin, `header.top .who`), cbText(t, admin, `main`); !strings.Contains(nav, "Users") ||
		!strings.Contains(nav, "Tokens") || !strings.Contains(who, "admin@example.com") || !strings.Contains(main, "HTTP 404") {
		t.Errorf("404 signed in: nav %q, who %q, main %q", nav, who, main)
	}
	cbSave(t, admin, art, "console-404")
	visitor := cbPerson(t, browser)
	cbRun(t, visitor, "a page that does not exist, signed out", chromedp.Navigate(gw+"/no/such/page"), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	if cbHas(t, visitor, `header.top .who`) || cbHas(t, visitor, `header.top nav`) || !cbHas(t, visitor, `main a[href="/auth/signin"]`) {
		t.Errorf("404 signed out: %q", cbText(t, visitor, `body`))
	}
	cbSave(t, visitor, art, "console-404-signed-out")

	// A token wider than ops's rights: refused on the form, input kept.
	form := `form[action="/tokens"]`
	cbRun(t, ops, "ask for a token beyond the role", chromedp.Navigate(gw+"/tokens"), chromedp.WaitVisible(chromedp.CSS(form+` input[name="name"]`)),
		chromedp.SetValue(chromedp.CSS(form+` input[name="name"]`), "too-wide"),
		chromedp.SetValue(chromedp.CSS(form+` input[name="permissions"]`), "app:read, secret:read"),
		chromedp.SetValue(chromedp.CSS(form+` input[name="expires_in"]`), "48h"),
		chromedp.Submit(chromedp.CSS(form+` input[name="name"]`)), chromedp.WaitVisible(chromedp.CSS(`#token-error`)))
	msg := cbText(t, ops, `#token-error`)
	var kept []string
	for _, f := range []string{"name", "permissions", "expires_in"} {
		v, err := chromedp.Run(ops, chromedp.Value(chromedp.CSS(form+` input[name="`+f+`"]`)))
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, v)
	}
	if !strings.Contains(msg, "cannot exceed") || !strings.Contains(msg, "secret:read") || strings.Join(kept, "|") != "too-wide|app:read, secret:read|48h" {
		t.Errorf("refused token: %q, form %q", msg, kept)
	}
	cbSave(t, ops, art, "console-token-refused")

	// The admin's token: RACK_URL and the CI pair name this gateway.
	cbRun(t, admin, "create a token", chromedp.Navigate(gw+"/tokens"), chromedp.WaitVisible(chromedp.CSS(form+` input[name="name"]`)),
		chromedp.SetValue(chromedp.CSS(form+` input[name="name"]`), "ci-deploy"),
		chromedp.SetValue(chromedp.CSS(form+` input[name="permissions"]`), "app:read, build:create, release:promote"),
		chromedp.Submit(chromedp.CSS(form+` input[name="name"]`)), chromedp.WaitVisible(chromedp.CSS(`#rack-url`)))
	tok := strings.TrimSpace(cbText(t, admin, `#new-token`))
	host := strings.TrimPrefix(gw, "http://")
	if rackURL := strings.TrimSpace(cbText(t, admin, `#rack-url`)); tok == "" || rackURL != "RACK_URL=http://convox:"+tok+"@"+host+"/rack" {
		t.Errorf("token %q, %s", tok, rackURL)
	}
	if ci := strings.TrimSpace(cbText(t, admin, `#ci-env`)); ci != "RACK_GATEWAY_URL="+gw+"\nRACK_GATEWAY_TOKEN="+tok {
		t.Errorf("CI pair: %q", ci)
	}
	cbSave(t, admin, art, "console-token-created")

	// Sessions name this browser, not its User-Agent.
	cbRun(t, admin, "account", chromedp.Navigate(gw+"/account"), chromedp.WaitVisible(chromedp.CSS(`td.client`)))
	if c := cbText(t, admin, `tr.current td.client`); !regexp.MustCompile(`^(Headless )?Chrom(e|ium) \d+ on Linux$`).MatchString(strings.TrimSpace(c)) {
		t.Errorf("this session's browser: %q", c)
	}
}
