package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// An object a deployer uploads (HTML or SVG with a script) and a signed-in
// admin then opens through the gateway runs no script and changes
// nothing: rack content is a download under a sandboxing CSP, never an
// active page on the console's origin. (The attack this stops: the
// script posting to the console with the admin's cookie to make an
// admin.)
func TestBrowserRackContentIsInert(t *testing.T) {
	browser := cbBrowser(t)
	g := cxStartDev(t, "gateway", "--no-mfa") // about rack content; second factors are tested elsewhere
	gw := g.url

	var beacons atomic.Int32
	beacon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { beacons.Add(1) }))
	defer beacon.Close()
	// Synchronous requests: if the page ever ran, its POST would be done
	// before the navigation's load event, when chromedp returns.
	script := fmt.Sprintf(`var x = new XMLHttpRequest(); x.open("POST", "/users", false);
x.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
try { x.send("email=mallory%%40example.com&role=admin&name=Mallory"); } catch (e) {}
var b = new XMLHttpRequest(); b.open("GET", %q, false); try { b.send(); } catch (e) {}
document.title = "PWNED";`, beacon.URL+"/ran")
	objects := map[string]string{
		"evil.html": "<!doctype html><html><body><h1>hello</h1><script>" + script + "</script></body></html>",
		"evil.svg":  `<svg xmlns="http://www.w3.org/2000/svg"><script>` + script + `</script></svg>`,
	}
	for key, body := range objects {
		req, _ := http.NewRequest("POST", gw+"/rack/apps/myapp/objects/"+key, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+g.adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("upload %s: %v %v", key, err, resp)
		}
		resp.Body.Close()
	}

	admin := cbPerson(t, browser)
	cbLogin(t, admin, gw+"/", "admin@example.com") // the console cookie is set
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("convox:"+g.adminToken))
	for key := range objects {
		url := gw + "/rack/apps/myapp/objects/" + key
		// The browser presents the admin's rack credential as the convox
		// CLI's RACK_URL would; the object comes back as a download, so
		// nothing is rendered.
		if _, err := chromedp.Call(admin, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": basic}}); err != nil {
			t.Fatal(err)
		}
		res, err := chromedp.Call(admin, page.Navigate, page.NavigateParams{URL: url})
		if err != nil {
			t.Fatalf("open %s: %v", key, err)
		}
		if !res.IsDownload && !strings.Contains(res.ErrorText, "ERR_ABORTED") {
			// Not a download: then only as plain text (what the rack's
			// own content sniffing made of a bare SVG), which never runs.
			ct, err := chromedp.Run(admin, chromedp.EvaluateAsDevTools[string]("document.contentType"))
			if err != nil || ct != "text/plain" {
				t.Errorf("%s was opened as a %q page (%v)", key, ct, err)
			}
		}
		if _, err := chromedp.Call(admin, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{}}); err != nil {
			t.Fatal(err)
		}
		title, err := chromedp.Run(admin, chromedp.Title())
		if err != nil {
			t.Fatal(err)
		}
		if title == "PWNED" {
			t.Errorf("%s ran its script on the gateway's origin", key)
		}
	}
	if role := cbRole(t, gw, g.adminToken, "mallory@example.com"); role != "" {
		t.Fatalf("an uploaded object's script created mallory as %q", role)
	}
	if n := beacons.Load(); n != 0 {
		t.Fatalf("an uploaded object's script ran (%d beacons)", n)
	}
}
