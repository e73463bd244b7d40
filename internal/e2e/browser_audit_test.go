package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The audit explorer, an event's page, the admins' status page and the
// policy page in Chromium, through a real `rack-gateway dev`; a viewer is
// refused the status page. Screenshots go to the artifacts directory.
func TestBrowserAuditStatusPolicy(t *testing.T) {
	browser := cbBrowser(t)
	g := cxStartDev(t, "gateway", "--no-mfa") // second factors are tested elsewhere
	gw := g.url
	art := cbArtifacts(t)

	admin := cbPerson(t, browser)
	cbLogin(t, admin, gw+"/", "admin@example.com")
	today := time.Now().UTC().Format("2006-01-02")
	cbRun(t, admin, "open the audit explorer",
		chromedp.Navigate(gw+"/audit?decision=allow&since="+today+"&by=action"),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)))
	if v, err := chromedp.Run(admin, chromedp.Value(chromedp.CSS(`input[name="since"]`))); err != nil || v != today {
		t.Errorf("the since filter is not kept: %q %v", v, err)
	}
	cbMustHave(t, admin, `svg.chart g.day rect.ev`, "activity bars")
	cbMustHave(t, admin, `table.toplist`, "top actions")
	attr, err := chromedp.Run(admin, chromedp.AttributeValue(chromedp.CSS(`a[href^="/audit/export?"]`), "href"))
	href := attr.Value
	if err != nil || !strings.Contains(href, "decision=allow") || !strings.Contains(href, "since="+today) {
		t.Errorf("export link %q lacks the filters (%v)", href, err)
	}
	cbSave(t, admin, art, "audit-explorer")

	cbRun(t, admin, "open an event",
		chromedp.Click(chromedp.CSS(`table.audit a[href^="/audit/events/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#hash-ok`)))
	if !cbHas(t, admin, `#sig-ok`) && !cbHas(t, admin, `#no-checkpoint`) {
		t.Error("the event page neither verifies a checkpoint nor says there is none yet")
	}
	cbSave(t, admin, art, "audit-event")

	cbRun(t, admin, "open the status page",
		chromedp.Navigate(gw+"/status"),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	body := cbText(t, admin, "main")
	for _, w := range []string{"Racks", "Audit trail", "Chain head", "Last checkpoint", "Last WORM anchor", "SIEM delivery", "sqlite"} {
		if !strings.Contains(body, w) {
			t.Errorf("status page lacks %q", w)
		}
	}
	if !strings.Contains(body, "yes") || !strings.Contains(body, "3.24.9") {
		t.Errorf("the simulated rack is not shown reachable with its version:\n%s", body)
	}
	cbSave(t, admin, art, "status")

	cbRun(t, admin, "open the policy page",
		chromedp.Navigate(gw+"/policy"),
		chromedp.WaitVisible(chromedp.CSS(`table.matrix`)))
	cbSave(t, admin, art, "policy")

	viewer := cbPerson(t, browser)
	cbLogin(t, viewer, gw+"/", "viewer@example.com")
	if cbHas(t, viewer, `header.top nav a[href^="/status"]`) {
		t.Error("the viewer's navigation offers the status page")
	}
	cbRun(t, viewer, "a viewer opens the status page",
		chromedp.Navigate(gw+"/status"),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	if h := cbText(t, viewer, "main h1"); h != "Permission denied" || strings.Contains(cbText(t, viewer, "main"), "Chain head") {
		t.Errorf("viewer on /status: %q", h)
	}
	cbSave(t, viewer, art, "status-viewer-refused")
}
