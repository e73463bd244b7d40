package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// TestBrowserActions drives Chromium through the real dev gateway: each
// demo user (second factors enrolled as at a first sign-in) opens the
// confirmation page of every action, sees a refusal where the role lacks
// it, and carries out those it has with the page's own form: ops scales,
// restarts and stops a process; a deployer rolls back a release (in the
// step-up window the enrolment opened); the result page links back to the
// app. Every role's live log page shows lines the simulated rack sends,
// appended by logs.js. Screenshots of each page are kept as artifacts.
func TestBrowserActions(t *testing.T) {
	browser := cbBrowser(t)
	g := cxStartDev(t, "gateway")
	gw := g.url
	art := cbArtifacts(t)
	const app = "/racks/dev/apps/myapp"

	type step struct {
		name, path string
		allowed    map[string]bool
	}
	confirm := []step{
		{"restart", app + "/actions/restart?service=web", map[string]bool{"ops": true, "deployer": true, "admin": true}},
		{"scale", app + "/actions/scale?service=web", map[string]bool{"ops": true, "deployer": true, "admin": true}},
		{"promote", app + "/actions/promote?release=RMYAPPFIRST", map[string]bool{"deployer": true, "admin": true}},
	}
	for _, role := range []string{"viewer", "ops", "deployer", "admin"} {
		ctx := cbPerson(t, browser)
		cbLogin(t, ctx, gw+"/", role+"@example.com")
		cbEnrolTOTP(t, ctx, "")
		for _, s := range confirm {
			cbRun(t, ctx, role+" opens "+s.name, chromedp.Navigate(gw+s.path), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
			main := cbText(t, ctx, `main`)
			if s.allowed[role] != cbHas(t, ctx, `#action-form`) {
				t.Errorf("%s on %s: form offered %v, want %v: %.300q", role, s.name, !s.allowed[role], s.allowed[role], main)
			}
			if !s.allowed[role] && !strings.Contains(main, "403") {
				t.Errorf("%s on %s: not refused: %.300q", role, s.name, main)
			}
			if role == "admin" || !s.allowed[role] && role == "viewer" {
				cbSave(t, ctx, art, "action-"+s.name+"-"+role)
			}
		}
		cbLogs(t, ctx, gw+app+"/logs", role, art)

		switch role {
		case "ops":
			cbAct(t, ctx, gw+app+"/actions/scale?service=web", "3", "scale service web from", art, "ops-scale")
			cbAct(t, ctx, gw+app+"/actions/restart?service=web", "", "restart service web", art, "ops-restart")
			// Stop the first process the app has: its id is read from the
			// rack through the gateway.
			pid := cbFirstProcess(t, gw, g.adminToken)
			cbAct(t, ctx, gw+app+"/actions/stop?process="+pid, "", "stop process "+pid, art, "ops-stop")
		case "deployer":
			cbRun(t, ctx, "the rollback's confirmation", chromedp.Navigate(gw+app+"/actions/promote?release=RMYAPPFIRST"),
				chromedp.WaitVisible(chromedp.CSS(`#action-warning`)))
			if w := cbText(t, ctx, `#action-warning`); !strings.Contains(w, "rollback") {
				t.Errorf("rollback warning: %q", w)
			}
			cbSave(t, ctx, art, "action-rollback-confirm")
			cbAct(t, ctx, gw+app+"/actions/promote?release=RMYAPPFIRST", "", "promote release RMYAPPFIRST", art, "deployer-rollback")
		}
	}
}

// cbAct opens an action's confirmation page, fills the count (if any),
// presses its button and checks the result page.
func cbAct(t *testing.T, ctx context.Context, page, count, want, art, shot string) {
	t.Helper()
	cbRun(t, ctx, "open "+page, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#action-form button`)))
	if count != "" {
		cbRun(t, ctx, "set the count", chromedp.SetValue(chromedp.CSS(`#action-form input[name="count"]`), count))
	}
	cbSave(t, ctx, art, "action-"+shot+"-confirm")
	cbRun(t, ctx, "confirm", chromedp.Click(chromedp.CSS(`#action-form button`)), chromedp.WaitVisible(chromedp.CSS(`#action-outcome`)))
	main := cbText(t, ctx, `main`)
	if !strings.Contains(main, want) || !strings.Contains(main, "done") || strings.Contains(main, "not done") {
		t.Errorf("%s: result %.400q", shot, main)
	}
	cbMustHave(t, ctx, `a#back-to-app[href="/racks/dev/apps/myapp"]`, "link back to the app")
	cbSave(t, ctx, art, "action-"+shot+"-result")
}

// cbLogs opens the live log page and waits for lines from the simulated
// rack, appended by logs.js; then pauses and resumes.
func cbLogs(t *testing.T, ctx context.Context, page, role, art string) {
	t.Helper()
	cbRun(t, ctx, role+" opens the logs", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#log-lines`)))
	testutil.Eventually(t, role+"'s log page to show followed lines", func() bool {
		return strings.Contains(cbNow(t, ctx, `#log-lines`), "(request ")
	})
	if st := cbNow(t, ctx, `#log-state`); st != "following" {
		t.Errorf("%s: log state %q", role, st)
	}
	if cbHas(t, ctx, `#log-lines script, #log-lines img`) {
		t.Errorf("%s: rack output became HTML", role)
	}
	cbRun(t, ctx, "pause", chromedp.Click(chromedp.CSS(`#log-pause`)))
	testutil.Eventually(t, "lines to be held while paused", func() bool {
		return strings.Contains(cbNow(t, ctx, `#log-state`), "held")
	})
	cbRun(t, ctx, "resume", chromedp.Click(chromedp.CSS(`#log-pause`)))
	testutil.Eventually(t, "following again", func() bool { return cbNow(t, ctx, `#log-state`) == "following" })
	cbSave(t, ctx, art, "logs-"+role)
}

// cbFirstProcess is the id of myapp's first process, read from the rack
// through the gateway's rack API with the admin's API token.
func cbFirstProcess(t *testing.T, gw, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", gw+"/racks/dev/apps/myapp/processes", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ps []struct {
		Id string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ps); err != nil || len(ps) == 0 {
		t.Fatalf("myapp's processes: %d %v", resp.StatusCode, err)
	}
	return ps[0].Id
}
